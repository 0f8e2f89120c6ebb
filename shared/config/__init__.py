"""Config files -> validated models. See loader.py for the merge rule."""

from archway.shared.config.loader import Config, load_config

__all__ = ["Config", "load_config"]
