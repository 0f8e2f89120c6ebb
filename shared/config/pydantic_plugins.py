"""pydantic's plugin lookup, skipped when no installed distribution declares a plugin.

pydantic looks for plugins when it builds its first model: ``pydantic.plugin._loader``
imports ``importlib.metadata`` (and with it the ``email`` package) and reads the entry
points of every installed distribution, group ``pydantic``
(https://docs.pydantic.dev/latest/concepts/plugins/). On this repository's environment
that is ~25 ms of every command that loads the config, to find none.

:func:`skip_lookup_without_plugins` looks for that group itself, in the
``entry_points.txt`` of each ``*.dist-info``/``*.egg-info`` folder on ``sys.path`` (what
``importlib.metadata`` reads). When none declares it, pydantic's loader module is a
stand-in whose ``get_plugins()`` returns no plugins, as the real one would; any other
name read from it imports the real module. Anything this scan cannot read as plainly
(a zipped or egg path entry, another distribution finder) leaves pydantic as it is.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from collections.abc import Iterable
from typing import Any

LOADER = "pydantic.plugin._loader"
GROUP = "[pydantic]"  # the entry point group's section in entry_points.txt
METADATA = (".dist-info", ".egg-info")


def skip_lookup_without_plugins() -> None:
    """Call before the first pydantic model is built (later, it changes nothing)."""
    if LOADER in sys.modules or not _plain_finders() or _declares_plugins(sys.path):
        return
    sys.modules[LOADER] = _NoPlugins(LOADER)


class _NoPlugins(types.ModuleType):
    """``pydantic.plugin._loader`` when no distribution declares a pydantic plugin."""

    @staticmethod
    def get_plugins() -> tuple[()]:
        return ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the import system's probes (__path__...): a module
            raise AttributeError(name)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def _plain_finders() -> bool:
    """Whether distributions are found only by the standard path finder (an installer's
    own finder could list others)."""
    from importlib.machinery import PathFinder

    return all(finder is PathFinder for finder in sys.meta_path
               if hasattr(finder, "find_distributions"))


def _declares_plugins(path: Iterable[str]) -> bool:
    """Whether a distribution on ``path`` declares the pydantic group (or may: True for
    an entry that is not a plain folder)."""
    for entry in path:
        folder = entry or "."
        if os.path.isfile(folder):
            return True  # a zip or egg: not read here
        try:
            names = os.listdir(folder)
        except OSError:
            continue  # absent, or a path hook's name
        for name in names:
            if name.endswith(".egg"):
                return True
            if name.endswith(METADATA) and _has_group(os.path.join(folder, name)):
                return True
    return False


def _has_group(metadata: str) -> bool:
    try:
        with open(os.path.join(metadata, "entry_points.txt"), encoding="utf-8") as file:
            return any(line.strip() == GROUP for line in file)
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError):
        return True
