"""CloudFront Functions (cloudfront-js-2.0) run in an embedded V8 (mini-racer).

One V8 context per function, guarded by a lock (contexts are not thread-safe). A
wall-clock cap stands in for CloudFront's compute-utilisation limit.

The runtime's ``cloudfront`` module is stood in for: ``import cf from 'cloudfront'``
binds ``cf`` to an object with ``kvs()`` (get/exists/meta on the associated
KeyValueStore, read from ``store``; ``get`` rejects for a missing key) and
``updateRequestOrigin()`` (recorded and returned with the result), as documented:
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-custom-methods.html
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/helper-functions-origin-modification.html
Handlers may be async (runtime 2.0): a returned promise is awaited. V8 runs the promise
jobs queued by an evaluation when it ends, so a handler whose awaits are already settled
(the KeyValueStore's are) has its answer ready for the next evaluation to read; only one
still pending (or rejected) is waited for through mini-racer's promise, which costs about
0.9 ms a request more.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

from archway.shared.errors import ArchwayError

TIMEOUT_MS = 1000
IMPORT_CLOUDFRONT = re.compile(r"""^\s*import\s+(\w+)\s+from\s+['"]cloudfront['"]\s*;?""", re.M)
# (version, {key: value}): the version changes whenever the contents do.
StoreSnapshot = Callable[[], tuple[object, dict[str, str]]]

PRELUDE = r"""
var __archway_kvs = null;
var __archway_origin = null;
var __archway_result = null;
var __archway_answer = null;
var __archway_cloudfront = {
  kvs: function () {
    if (__archway_kvs === null) {
      throw new Error("no KeyValueStore is associated with this function");
    }
    var has = function (key) { return Object.prototype.hasOwnProperty.call(__archway_kvs, key); };
    return {
      get: function (key, options) {
        var format = (options && options.format) || "string";
        if (!has(key)) { return Promise.reject(new Error("Key not found: " + key)); }
        try {
          var value = __archway_kvs[key];
          return Promise.resolve(format === "json" ? JSON.parse(value) : value);
        } catch (e) { return Promise.reject(e); }
      },
      exists: function (key) { return Promise.resolve(has(key)); },
      meta: function () {
        return Promise.resolve({keyCount: Object.keys(__archway_kvs).length});
      }
    };
  },
  updateRequestOrigin: function (origin) { __archway_origin = origin; }
};
"""

# The handler's result and origin as JSON; null when it returned a promise, whose answer
# is then in __archway_answer once it resolved (else AWAIT waits for it). A function made
# once and called with the event's JSON text: a script of its own per request (the event
# inlined) was compiled by V8 every time.
CALL = ("(function (event) { __archway_origin = null; __archway_answer = null; "
        "__archway_result = handler(JSON.parse(event)); "
        "if (__archway_result !== null && typeof __archway_result === 'object' && "
        "typeof __archway_result.then === 'function') { __archway_result.then("
        "function (r) { __archway_answer = JSON.stringify({result: r, "
        "origin: __archway_origin}); }, function () {}); return null; } "
        "return JSON.stringify({result: __archway_result, origin: __archway_origin}); })")
ANSWER = "(function () { return __archway_answer; })"
AWAIT = ("Promise.resolve(__archway_result).then(function (r) { return JSON.stringify("
         "{result: r, origin: __archway_origin}); })")


class FunctionError(ArchwayError):
    exit_code = 1


class CloudFrontFunction:
    def __init__(self, code: str, name: str, store: StoreSnapshot | None = None) -> None:
        from py_mini_racer import MiniRacer

        self.name = name
        self.store = store
        self._version: object = None
        self._lock = threading.Lock()
        self._context = MiniRacer()
        self._context.eval(PRELUDE)
        if store is not None:
            self._refresh()
        try:
            self._context.eval(IMPORT_CLOUDFRONT.sub(r"var \1 = __archway_cloudfront;", code))
        except Exception as exc:
            raise FunctionError(f"CloudFront Function {name} does not compile: {exc}") from None
        self._call: Any = self._context.eval(CALL)
        self._answer: Any = self._context.eval(ANSWER)

    def _refresh(self) -> None:
        assert self.store is not None
        version, data = self.store()
        if version != self._version or self._version is None:
            self._context.eval(f"__archway_kvs = {json.dumps(data)};")
            self._version = version

    def run(self, event: dict[str, Any]) -> dict[str, Any]:
        """Call ``handler(event)``: a request (maybe changed) or a response object."""
        return self.invoke(event)[0]

    def invoke(self, event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The handler's result and the origin it set with updateRequestOrigin (or None)."""
        with self._lock:
            try:
                if self.store is not None:
                    self._refresh()
                answer = self._call(json.dumps(event), timeout_sec=TIMEOUT_MS / 1000)
                if answer is None:  # a promise (async handler): settled already?
                    answer = self._answer(timeout_sec=TIMEOUT_MS / 1000)
                if answer is None:  # still pending, or rejected: wait for it
                    promise = self._context.eval(AWAIT, timeout=TIMEOUT_MS)
                    answer = promise.get(timeout=TIMEOUT_MS / 1000)  # type: ignore[union-attr]
                out = json.loads(answer)  # type: ignore[arg-type]
            except Exception as exc:
                raise FunctionError(f"CloudFront Function {self.name} failed: {exc}") from None
        return dict(out["result"]), out["origin"]
