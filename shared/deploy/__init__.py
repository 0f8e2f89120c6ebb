"""The deploy engine: plan (DAG), providers, parameters, assets, status display."""
