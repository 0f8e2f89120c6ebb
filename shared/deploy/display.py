"""Progress: one line per stack event, coloured by status on a terminal, never interleaved."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from archway.shared.deploy.provider import StackResult

COLOURS = {"created": "32", "updated": "32", "skipped": "36", "failed": "31",
           "planned": "33", "uploaded": "35"}


class Display:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.colour = self.out.isatty()
        self._lock = threading.Lock()
        self._start = time.monotonic()

    def line(self, stack: str, status: str, detail: str = "") -> None:
        label = f"{status:<9}"
        if self.colour and status in COLOURS:
            label = f"\033[{COLOURS[status]}m{label}\033[0m"
        elapsed = time.monotonic() - self._start
        with self._lock:
            print(f"[{elapsed:6.1f}s] {stack:<16} {label} {detail}".rstrip(), file=self.out,
                  flush=True)

    def result(self, result: StackResult) -> None:
        detail = result.reason
        if result.outcome == "skipped" and not detail:
            detail = "no changes"
        self.line(result.id, result.outcome, detail)
