"""CloudFront Functions (cloudfront-js-2.0) run in an embedded V8 (mini-racer).

One V8 context per function, guarded by a lock (contexts are not thread-safe). A
wall-clock cap stands in for CloudFront's compute-utilisation limit.
"""

from __future__ import annotations

import threading
from typing import Any

from archway.shared.errors import ArchwayError

TIMEOUT_MS = 1000


class FunctionError(ArchwayError):
    exit_code = 1


class CloudFrontFunction:
    def __init__(self, code: str, name: str) -> None:
        from py_mini_racer import MiniRacer

        self.name = name
        self._lock = threading.Lock()
        self._context = MiniRacer()
        try:
            self._context.eval(code)
        except Exception as exc:
            raise FunctionError(f"CloudFront Function {name} does not compile: {exc}") from None

    def run(self, event: dict[str, Any]) -> dict[str, Any]:
        """Call ``handler(event)``: a request (maybe changed) or a response object."""
        with self._lock:
            try:
                return dict(self._context.call("handler", event, timeout=TIMEOUT_MS))
            except Exception as exc:
                raise FunctionError(f"CloudFront Function {self.name} failed: {exc}") from None
