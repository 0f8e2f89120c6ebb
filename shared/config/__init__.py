"""Config files -> validated models. See loader.py for the merge rule.

``Config`` and ``load_config`` are imported from the loader when first used (PEP 562):
the loader imports pydantic and builds the models (~0.25 s), which a module of this
package that needs neither (semantics' handler check, on the path of a synth where only
code changed) must not pay."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archway.shared.config.loader import Config, load_config

__all__ = ["Config", "load_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from archway.shared.config import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
