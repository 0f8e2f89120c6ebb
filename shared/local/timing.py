"""Per-layer timers of one request through the local cloud (what bench/local_edge.py reads).

With ``ARCHWAY_LOCAL_TIMING=1`` in ``archway local``'s environment, every response carries
a ``Server-Timing`` header (https://www.w3.org/TR/server-timing/) with the milliseconds
each layer took: ``edge`` (all of it), ``function`` (the viewer-request CloudFront
Function), ``api`` (the API router, its Lambda invoke included), ``invoke`` (the runner:
worker pool and pipe), ``handler`` (the handler's own call, as Lambda's REPORT Duration).
Off by default: nothing is recorded and no header is added, as CloudFront adds none.
"""

from __future__ import annotations

import os
import time
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar

ENV = "ARCHWAY_LOCAL_TIMING"
HEADER = "server-timing"

_current: ContextVar[list[tuple[str, float]] | None] = ContextVar("archway_timing",
                                                                   default=None)


def enabled() -> bool:
    return os.environ.get(ENV, "") == "1"


def begin() -> list[tuple[str, float]]:
    """Start recording this request's layers (in this context and the threads it starts)."""
    timings: list[tuple[str, float]] = []
    _current.set(timings)
    return timings


def record(name: str, milliseconds: float) -> None:
    timings = _current.get()
    if timings is not None:
        timings.append((name, milliseconds))


class _Timer:
    __slots__ = ("name", "start")

    def __init__(self, name: str) -> None:
        self.name = name
        self.start = 0.0

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        record(self.name, (time.perf_counter() - self.start) * 1000)


_OFF = nullcontext()  # stateless: one for every request when nothing is recorded


def timed(name: str) -> AbstractContextManager[None]:
    """Records how long the ``with`` block took as layer ``name`` (when recording)."""
    return _OFF if _current.get() is None else _Timer(name)


def header(timings: list[tuple[str, float]]) -> str:
    return ", ".join(f"{name};dur={ms:.3f}" for name, ms in timings)


def parse(value: str) -> dict[str, float]:
    """A Server-Timing header back into {layer: milliseconds}."""
    layers = {}
    for metric in value.split(","):
        name, _, params = metric.strip().partition(";")
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key == "dur":
                layers[name] = float(number)
    return layers
