"""One Lambda execution environment: a process that imports a handler and serves invokes.

Started by the runner as ``python -I -S worker.py <code dir> <handler> [<path>...]`` with
the function's environment: isolated from the host's site-packages, so the handler sees
only what Lambda's Python runtime would put on ``sys.path``: the function's code (its
asset, /var/task on Lambda), then its vendored dependencies and the runtime's libraries
(the extra paths, in order). Standard library only: this file is copied nowhere and
imported by nothing but the runner's protocol helpers.

Protocol on the original stdout/stdin: 4-byte big-endian length + JSON. The handler's
own prints and logs go to stderr, which the runner shows on its console.

Init errors are reported as Lambda's Python runtime (awslambdaric's bootstrap) reports
them, see https://github.com/aws/aws-lambda-python-runtime-interface-client
(awslambdaric/bootstrap.py, ``_get_handler``) and
https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html:
``Runtime.ImportModuleError`` "Unable to import module 'm': ...",
``Runtime.UserCodeSyntaxError`` "Syntax error in module 'm': ...",
``Runtime.HandlerNotFound`` "Handler 'f' missing on module 'm'",
``Runtime.MalformedHandlerName`` "Bad handler 'h': ...".
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import struct
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any, BinaryIO

PARENT_POLL = 0.5


class Context:
    def __init__(self, request_id: str, deadline: float) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        region, account = os.environ.get("AWS_REGION", ""), os.environ.get("ARCHWAY_ACCOUNT", "")
        self.invoked_function_arn = (f"arn:aws:lambda:{region}:{account}:function:"
                                     f"{self.function_name}")
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def read_message(stream: BinaryIO) -> Any:
    header = stream.read(4)
    if len(header) < 4:
        return None
    (length,) = struct.unpack(">I", header)
    return json.loads(stream.read(length))


def write_message(stream: BinaryIO, message: Any) -> None:
    write_encoded(stream, json.dumps(message).encode())


def write_encoded(stream: BinaryIO, data: bytes) -> None:
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def exit_with_parent(parent: int, poll: float = PARENT_POLL) -> None:
    """End this process as soon as its parent is gone (re-parented: getppid changes).

    Sleeps in select(2) on a pidfd of the parent (readable when it terminates,
    https://man7.org/linux/man-pages/man2/pidfd_open.2.html), so a warm worker wakes for
    nothing while it waits; polls getppid where there is no pidfd. (The same as
    processes.wait_for_parent_exit, which this standard-library-only file cannot import.)"""

    def watch() -> None:
        try:
            pidfd: int | None = os.pidfd_open(parent)
        except (AttributeError, OSError):
            pidfd = None
        if pidfd is not None and os.getppid() == parent:
            select.select([pidfd], [], [])
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _where(code_dir: str, tb: Any) -> tuple[str, int] | None:
    """The innermost frame inside the function's code: (path relative to it, line)."""
    found = None
    for frame in traceback.extract_tb(tb):
        path = os.path.abspath(frame.filename)
        if path.startswith(code_dir + os.sep):
            found = (os.path.relpath(path, code_dir), frame.lineno or 0)
    return found


def _fault(kind: str, message: str, where: tuple[str, int] | None) -> dict[str, Any]:
    fault: dict[str, Any] = {"ready": False, "errorType": kind, "errorMessage": message}
    if where is not None:
        fault["file"], fault["line"] = where
    return fault


def load_handler(code_dir: str, handler_path: str) -> Callable[..., Any] | dict[str, Any]:
    """The handler function, or the init error Lambda would report instead."""
    try:
        module_name, function_name = handler_path.rsplit(".", 1)
    except ValueError as exc:
        return _fault("Runtime.MalformedHandlerName", f"Bad handler '{handler_path}': {exc}",
                      None)
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        where = None
        if exc.filename:
            where = (os.path.relpath(os.path.abspath(exc.filename), code_dir), exc.lineno or 0)
        return _fault("Runtime.UserCodeSyntaxError",
                      f"Syntax error in module '{module_name}': {exc}", where)
    except ImportError as exc:
        traceback.print_exc()
        return _fault("Runtime.ImportModuleError",
                      f"Unable to import module '{module_name}': {exc}",
                      _where(code_dir, exc.__traceback__))
    except Exception as exc:  # noqa: BLE001 - an init error, reported like Lambda does
        traceback.print_exc()
        return _fault(type(exc).__name__, str(exc), _where(code_dir, exc.__traceback__))
    handler = getattr(module, function_name, None)
    if handler is None:
        path = getattr(module, "__file__", None) or ""
        where = (os.path.relpath(path, code_dir), 1) if path else None
        return _fault("Runtime.HandlerNotFound",
                      f"Handler '{function_name}' missing on module '{module_name}'", where)
    return handler  # type: ignore[no-any-return]


def serve(code_dir: str, handler_path: str, paths: list[str]) -> None:
    # Ctrl-C in a terminal reaches the whole process group: archway local stops its
    # workers itself (closing or killing them), so a worker ignores it instead of printing
    # a KeyboardInterrupt traceback into the console.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent(os.getppid())
    channel_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the handler's prints become log lines, not protocol bytes
    sys.stdout = sys.stderr
    channel_in = sys.stdin.buffer
    code_dir = os.path.abspath(code_dir)
    sys.path[:0] = [code_dir, *paths]
    handler = load_handler(code_dir, handler_path)
    if isinstance(handler, dict):
        write_message(channel_out, handler)
        return
    write_message(channel_out, {"ready": True})
    while (message := read_message(channel_in)) is not None:
        context = Context(message.get("requestId") or str(uuid.uuid4()),
                          time.monotonic() + float(message["timeout"]))
        write_encoded(channel_out, invoke(handler, message["event"], context))


def invoke(handler: Callable[..., Any], event: Any, context: Context) -> bytes:
    """The reply to one invoke, encoded: ``{"durationMs", "size", "payload"}`` (size: the
    payload's JSON bytes, which the runner checks against Lambda's limit) or the error.
    The payload is encoded once (it was twice: to check it, then in the reply)."""
    start = time.perf_counter()
    try:
        payload = handler(event, context)
    except Exception as exc:  # noqa: BLE001 - Lambda's unhandled error shape
        traceback.print_exc()
        return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
    duration = (time.perf_counter() - start) * 1000
    try:
        data = json.dumps(payload).encode()
    except (TypeError, ValueError) as exc:
        return json.dumps({"errorType": "Runtime.MarshalError",
                           "errorMessage": f"Unable to marshal response: {exc}"}).encode()
    return b'{"durationMs": %r, "size": %d, "payload": %s}' % (duration, len(data), data)

if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], sys.argv[3:])
