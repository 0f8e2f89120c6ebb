"""Archway's toolkit: config, model, blueprints helpers, synth, lint, deploy, local cloud."""
