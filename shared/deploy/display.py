"""Progress and questions: one line per stack event, coloured by status on a terminal,
never interleaved; questions asked on the main thread, one at a time.

Stacks deploy in worker threads, but only the main thread sees Ctrl-C and only one
prompt can own the terminal. So a worker's ``ask()`` queues its question; the thread
that waits for the wave (``wait()``) puts it to the user. On Ctrl-C that thread sets
``cancelled``, answers every pending question "no" (so providers delete their change
sets) and re-raises once the workers have stopped.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any, TextIO

from archway.shared.deploy.provider import StackResult

COLOURS = {"created": "32", "updated": "32", "skipped": "36", "failed": "31",
           "planned": "33", "uploaded": "35", "stale": "31", "missing": "33", "ok": "32",
           "drifted": "31", "deleted": "32", "retained": "33", "current": "32",
           "+": "32", "-": "31", "~": "33", "!": "31",
           "registered": "32", "orphan": "33", "route": "36"}


def use_colour(out: TextIO) -> bool:
    """Colour only on a terminal, never with NO_COLOR set (https://no-color.org) or TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as lines with aligned columns (the last column is never padded)."""
    if not rows:
        return []
    count = max(len(r) for r in rows)
    widths = [max((len(r[i]) for r in rows if i < len(r) - 1), default=0)
              for i in range(count)]
    return ["  ".join(cell.ljust(widths[i]) if i < len(row) - 1 else cell
                      for i, cell in enumerate(row)).rstrip() for row in rows]


@dataclass
class Question:
    text: str
    answer: queue.Queue[bool] = field(default_factory=lambda: queue.Queue(maxsize=1))


class Display:
    def __init__(self, out: TextIO | None = None,
                 prompt: Callable[[str], str] | None = None) -> None:
        self.out = out or sys.stdout
        self.colour = use_colour(self.out)
        self.width = 16  # the stack id column; open_session sets it to the longest id
        self.prompt = prompt or input
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self._questions: queue.Queue[Question] = queue.Queue()
        self._start = time.monotonic()

    def paint(self, text: str, status: str) -> str:
        if self.colour and status in COLOURS:
            return f"\033[{COLOURS[status]}m{text}\033[0m"
        return text

    def line(self, stack: str, status: str, detail: str = "") -> None:
        label = self.paint(f"{status:<9}", status)
        elapsed = time.monotonic() - self._start
        with self._lock:
            print(f"[{elapsed:6.1f}s] {stack:<{self.width}} {label} {detail}".rstrip(),
                  file=self.out, flush=True)

    def rows(self, rows: Sequence[Sequence[str]], risky: Sequence[bool] = ()) -> None:
        """A table under the progress lines: coloured by the first cell (+ - ~), red when
        the row is risky (data or IAM)."""
        lines = table(rows)
        flagged = list(risky) + [False] * (len(rows) - len(risky))
        with self._lock:
            for row, text, danger in zip(rows, lines, flagged, strict=True):
                status = "!" if danger else (row[0] if row else "")
                print(self.paint(text, status), file=self.out, flush=True)

    def result(self, result: StackResult) -> None:
        detail = result.reason
        if result.outcome == "skipped" and not detail:
            detail = "no changes"
        self.line(result.id, result.outcome, detail)

    # ------------------------------------------------------------------ questions

    def ask(self, text: str) -> bool:
        """A yes/no question from any thread; "no" once the deploy is cancelled."""
        if self.cancelled.is_set():
            return False
        if threading.current_thread() is threading.main_thread():
            return self._put(text)
        question = Question(text)
        self._questions.put(question)
        return question.answer.get()

    def _put(self, text: str) -> bool:
        with self._lock:
            try:
                answer = self.prompt(text)
            except EOFError:  # stdin closed: nobody said yes
                return False
        return answer.strip().lower() in {"y", "yes"}

    def wait(self, futures: Sequence[Future[Any]]) -> None:
        """Wait for ``futures`` while asking their questions; Ctrl-C cancels them."""
        pending = set(futures)
        try:
            while pending:
                self._answer_questions()
                _, pending = wait_futures(pending, timeout=0.05, return_when=FIRST_COMPLETED)
        except KeyboardInterrupt:
            self.cancel()
            self.line("*", "interrupted", "pending change sets are deleted, nothing new "
                      "starts; stacks already executing carry on in CloudFormation")
            while any(not f.done() for f in futures):
                self._refuse_questions()
                wait_futures(futures, timeout=0.05)
            raise

    def cancel(self) -> None:
        self.cancelled.set()
        self._refuse_questions()

    def _answer_questions(self) -> None:
        while True:
            try:
                question = self._questions.get_nowait()
            except queue.Empty:
                return
            try:
                question.answer.put(False if self.cancelled.is_set() else self._put(
                    question.text))
            except BaseException:
                question.answer.put(False)
                raise

    def _refuse_questions(self) -> None:
        while True:
            try:
                self._questions.get_nowait().answer.put(False)
            except queue.Empty:
                return
