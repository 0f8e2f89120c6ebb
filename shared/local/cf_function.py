"""CloudFront Functions (cloudfront-js-2.0) run in an embedded V8 (mini-racer).

A wall-clock cap stands in for CloudFront's compute-utilisation limit.

The runtime's ``cloudfront`` module is stood in for: ``import cf from 'cloudfront'``
binds ``cf`` to an object with ``kvs()`` (get/exists/meta on the associated
KeyValueStore, read from ``store``; ``get`` rejects for a missing key) and
``updateRequestOrigin()`` (recorded and returned with the result), as documented:
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-custom-methods.html
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/helper-functions-origin-modification.html
Handlers may be async (runtime 2.0): a returned promise is awaited.

How a request reaches V8 (mini-racer 0.14): a context belongs to one asyncio loop, whose
thread must make every call into it; from any other thread a call is a coroutine handed to
that loop's thread and back, and a JS function call adds a round trip of its own (its
argument array is made by a separate evaluation). The edge, which is asyncio, runs its
functions with ``ainvoke`` in a context of its own loop: the event's JSON text is stored in
V8 (one synchronous round trip to V8's thread), a constant script calls the handler (one
evaluation, awaited on the loop and cancelled when the cap is over), and an async handler's
answer is read back (one synchronous round trip: V8 runs the promise jobs queued by an
evaluation as soon as it ends, so a handler whose awaits are already settled, as the
KeyValueStore's are, has its answer ready by then; only one still pending, or rejected, is
awaited as a promise). ``invoke`` (tests, scripts: callers on no loop) does the same on the
V8 thread's loop. Measured on the 2-core machine, the API router function with its
KeyValueStore, medians of 500 calls at load average ~4: the edge's way before (a JS
function call, then a second one for the answer, from the edge's thread through
mini-racer's own loop thread) 0.61 ms and 0.72 ms CPU a call; ``ainvoke`` 0.20 ms and
0.22 ms CPU. In ``archway local`` (bench/local_edge.py's timer of the function, 300 cache
misses at load ~4.5) 2.27 ms became 1.0-1.1 ms: there each hand-off to a sleeping thread
waits for a core.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import weakref
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
var __archway_io = {event: null, answer: null};
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

# Calls the handler with the event stored in __archway_io.event: its result and origin as
# JSON, or null when it returned a promise, whose answer is then in __archway_io.answer
# once it resolved (else AWAIT waits for it). A constant script: V8 compiles it once (its
# compilation cache is keyed by the source), where the event inlined was a new script to
# compile per request.
RUNNER = r"""
function __archway_run() {
  __archway_origin = null; __archway_io.answer = null;
  __archway_result = handler(JSON.parse(__archway_io.event));
  if (__archway_result !== null && typeof __archway_result === 'object' &&
      typeof __archway_result.then === 'function') {
    __archway_result.then(function (r) {
      __archway_io.answer = JSON.stringify({result: r, origin: __archway_origin});
    }, function () {});
    return null;
  }
  return JSON.stringify({result: __archway_result, origin: __archway_origin});
}
"""
RUN = "__archway_run()"
AWAIT = ("Promise.resolve(__archway_result).then(function (r) { return JSON.stringify("
         "{result: r, origin: __archway_origin}); })")


class FunctionError(ArchwayError):
    exit_code = 1


class _Context:
    """One V8 context with the function loaded, belonging to the asyncio ``loop``: only
    that loop's thread calls into it. Made and freed on the V8 thread (below)."""

    def __init__(self, code: str, name: str, store: StoreSnapshot | None,
                 loop: asyncio.AbstractEventLoop) -> None:
        from py_mini_racer import mini_racer

        self._maker = mini_racer(loop)
        self.racer = self._maker.__enter__()
        self.racer.eval(PRELUDE)
        self.version: object = None  # of the KeyValueStore contents loaded
        if store is not None:  # before the code: its top level may call cf.kvs()
            self.version, data = store()
            self.racer.eval(f"__archway_kvs = {json.dumps(data)};")
        try:
            self.racer.eval(IMPORT_CLOUDFRONT.sub(r"var \1 = __archway_cloudfront;", code))
        except Exception as exc:
            self.close()
            raise FunctionError(f"CloudFront Function {name} does not compile: {exc}") from None
        self.racer.eval(RUNNER)
        self.io: Any = self.racer.eval("__archway_io")
        self.lock: asyncio.Lock | None = None  # made on the loop: one request at a time

    def close(self) -> None:
        """Free the V8 context: its values first, then itself."""
        self.io = None
        self._maker.__exit__(None, None, None)

    async def run(self, event: str, store: StoreSnapshot | None) -> str:
        """The handler's answer (JSON) to the event (JSON), within the time cap."""
        if self.lock is None:
            self.lock = asyncio.Lock()
        async with self.lock:  # the event and answer slots are shared by all requests
            async with asyncio.timeout(TIMEOUT_MS / 1000):  # cancels the evaluation
                return await self._run(event, store)

    async def _run(self, event: str, store: StoreSnapshot | None) -> str:
        if store is not None:
            version, data = store()
            if version != self.version or version is None:
                await self.racer.eval_cancelable(f"__archway_kvs = {json.dumps(data)};")
                self.version = version
        self.io["event"] = event
        answer = await self.racer.eval_cancelable(RUN)
        if answer is None:  # a promise (async handler): settled already?
            answer = self.io["answer"]
        if answer is None:  # still pending, or rejected: wait for it
            promise: Any = await self.racer.eval_cancelable(AWAIT)
            answer = await promise
        return str(answer)


# The V8 thread: an asyncio loop on a daemon thread of its own, started with the first
# function. V8 is initialised there and every context is made and freed there, whichever
# loop it belongs to: with mini-racer 0.14 (V8 13), making a context on a thread other
# than the one that initialised V8 (or on which it was made before) crashed the process
# (SIGSEGV in JSDispatchTable::PreAllocatedEntryNeedsInitialization, from
# mr_init_context). Its loop also runs the contexts of ``invoke`` (callers off any loop).
_v8: list[asyncio.AbstractEventLoop] = []
_v8_lock = threading.Lock()


def _v8_loop() -> asyncio.AbstractEventLoop:
    with _v8_lock:
        if not _v8:
            loop = asyncio.new_event_loop()
            threading.Thread(target=_serve, args=(loop,), name="cloudfront-functions",
                             daemon=True).start()
            _v8.append(loop)
        return _v8[0]


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    from py_mini_racer import init_mini_racer

    asyncio.set_event_loop(loop)
    init_mini_racer(ignore_duplicate_init=True)
    loop.run_forever()


async def _made(code: str, name: str, store: StoreSnapshot | None,
                loop: asyncio.AbstractEventLoop) -> _Context:
    return _Context(code, name, store, loop)  # on the V8 thread


def _retire(contexts: list[_Context]) -> None:
    """Free the contexts of a function no longer used (on the V8 thread)."""
    for context in contexts:
        _v8_loop().call_soon_threadsafe(context.close)
    contexts.clear()


class CloudFrontFunction:
    def __init__(self, code: str, name: str, store: StoreSnapshot | None = None) -> None:
        self.code = code
        self.name = name
        self.store = store
        self._contexts: list[_Context] = []  # all made for it: freed when it is collected
        weakref.finalize(self, _retire, self._contexts)
        v8 = _v8_loop()
        self._context = asyncio.run_coroutine_threadsafe(  # compiles it: errors said now
            _made(code, name, store, v8), v8).result()
        self._contexts.append(self._context)
        # the context of the loop that called ainvoke last (being made: a future)
        self._on_loop: tuple[asyncio.AbstractEventLoop, asyncio.Future[_Context]] | None = None

    def run(self, event: dict[str, Any]) -> dict[str, Any]:
        """Call ``handler(event)``: a request (maybe changed) or a response object."""
        return self.invoke(event)[0]

    def invoke(self, event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The handler's result and the origin it set with updateRequestOrigin (or None),
        from a thread that runs no loop of the function's (through the V8 thread's)."""
        try:
            answer = asyncio.run_coroutine_threadsafe(
                self._context.run(json.dumps(event), self.store), _v8_loop()).result()
        except Exception as exc:
            raise self._failed(exc) from None
        return self._answer(answer)

    async def ainvoke(self, event: dict[str, Any]
                      ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """As ``invoke``, awaited on the running loop, in a context of that loop's own."""
        try:
            context = await self._loop_context()
            answer = await context.run(json.dumps(event), self.store)
        except Exception as exc:
            raise self._failed(exc) from None
        return self._answer(answer)

    async def _loop_context(self) -> _Context:
        loop = asyncio.get_running_loop()
        if self._on_loop is None or self._on_loop[0] is not loop:
            if self._on_loop is not None and self._on_loop[1].done():
                old = self._on_loop[1].result()  # another loop's, that ended (a test's)
                self._contexts.remove(old)
                _retire([old])
            made = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                _made(self.code, self.name, self.store, loop), _v8_loop()))
            made.add_done_callback(self._made)
            self._on_loop = (loop, made)
        return await self._on_loop[1]

    def _made(self, made: asyncio.Future[_Context]) -> None:
        if not made.cancelled() and made.exception() is None:
            self._contexts.append(made.result())  # freed with the function

    def _failed(self, exc: Exception) -> FunctionError:
        if isinstance(exc, FunctionError):
            return exc
        if isinstance(exc, TimeoutError):
            return FunctionError(f"CloudFront Function {self.name} failed: it ran over "
                                 f"{TIMEOUT_MS} ms")
        return FunctionError(f"CloudFront Function {self.name} failed: {exc}")

    @staticmethod
    def _answer(answer: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        out = json.loads(answer)
        return dict(out["result"]), out["origin"]
