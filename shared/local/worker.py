"""One Lambda execution environment: a process that imports a handler and serves invokes.

Started by the runner as ``python -m archway.shared.local.worker <code dir> <handler>``
with the function's environment. Protocol on the original stdout/stdin: 4-byte
big-endian length + JSON. The handler's own prints go to stderr (its log).
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import sys
import time
import traceback
import uuid
from typing import Any, BinaryIO


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
    data = json.dumps(message).encode()
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def serve(code_dir: str, handler_path: str) -> None:
    channel_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the handler's prints become log lines, not protocol bytes
    sys.stdout = sys.stderr
    channel_in = sys.stdin.buffer
    sys.path.insert(0, code_dir)
    module_name, function_name = handler_path.rsplit(".", 1)
    try:
        handler = getattr(importlib.import_module(module_name.replace("/", ".")), function_name)
    except Exception as exc:  # noqa: BLE001 - reported to the caller like Lambda's init error
        write_message(channel_out, {"ready": False, "errorType": type(exc).__name__,
                                    "errorMessage": f"cannot import {handler_path}: {exc}"})
        return
    write_message(channel_out, {"ready": True})
    while (message := read_message(channel_in)) is not None:
        context = Context(message.get("requestId") or str(uuid.uuid4()),
                          time.monotonic() + float(message["timeout"]))
        try:
            payload = handler(message["event"], context)
            write_message(channel_out, {"payload": payload})
        except Exception as exc:  # noqa: BLE001 - Lambda's unhandled error shape
            traceback.print_exc()
            write_message(channel_out, {"errorType": type(exc).__name__,
                                        "errorMessage": str(exc)})


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
