"""Edits that turn the repository's real config into a realistic mistake."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Edit = Callable[[Path], None]
CATALOG = "services/catalog/service.yaml"
REVIEWS = "services/reviews/service.yaml"
PLATFORM = "config/platform.yaml"
DEV = "config/environments/dev.yaml"


REPO = Path(__file__).resolve().parents[3]


def end(file: str) -> int:
    """The line a text appended to the repository's ``file`` starts on."""
    return len((REPO / file).read_text(encoding="utf-8").splitlines()) + 1


def replace(file: str, old: str, new: str) -> Edit:
    def edit(root: Path) -> None:
        text = (root / file).read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {file}"
        (root / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    return edit


def append(file: str, text: str) -> Edit:
    def edit(root: Path) -> None:
        with (root / file).open("a", encoding="utf-8") as out:
            out.write(text)
    return edit


def write(file: str, content: str | bytes) -> Edit:
    def edit(root: Path) -> None:
        path = root / file
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return edit


def rename(src: str, dst: str) -> Edit:
    def edit(root: Path) -> None:
        (root / dst).parent.mkdir(parents=True, exist_ok=True)
        (root / src).rename(root / dst)
    return edit


def route(path: str, function: str = "search", method: str = "GET") -> Edit:
    """Add a route to the catalog service."""
    return replace(CATALOG, "\nthrottling:",
                   f'  - {{method: {method}, path: "{path}", function: {function}}}\n\nthrottling:')


def function(name: str, body: str = "handler: search.handler") -> Edit:
    """Add a function to the catalog service."""
    return replace(CATALOG, "\nroutes:\n", f"  {name}:\n    {body}\n\nroutes:\n")


@dataclass(frozen=True)
class Case:
    """A broken config and the one line it must produce (after ``error: ``)."""

    edits: tuple[Edit, ...]
    where: str  # "file: key: " the line must start with
    value: str  # the bad value (or its telling part) the line must show
    also: tuple[str, ...] = field(default=())  # other words the line must contain
