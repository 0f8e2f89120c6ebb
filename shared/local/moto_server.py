"""moto's server in a child process, bound to 127.0.0.1, bounded in time, always stopped.

A child process (not moto's in-process thread) keeps the stand-in's state apart from
any ``mock_aws`` in the caller and lets it use the second core. It serves moto's app with
keep-alive connections (moto_app.py). It exits by itself when
its parent is gone (see processes.py) and carries the caller's process tag.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from archway.shared.errors import ArchwayError
from archway.shared.local.processes import TAG, child_command, process_tag

HOST = "127.0.0.1"
START_TIMEOUT = 30.0


class LocalCloudError(ArchwayError):
    exit_code = 1


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_free(port: int, host: str = HOST) -> bool:
    """Whether ``port`` can be served on now (a later start may still race for it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


class MotoServer:
    """``with MotoServer() as moto: moto.endpoint`` -> http://127.0.0.1:<port>."""

    def __init__(self, port: int = 0, log: Path | None = None,
                 preload: tuple[str, ...] = ()) -> None:
        self.port = port or free_port()
        self.log = log
        self.preload = preload  # services made ready before the port opens (moto_app.py)
        self._process: subprocess.Popen[bytes] | None = None
        self._ready_seen = False
        self._launched = 0.0

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> MotoServer:
        return self.launch().wait()

    def launch(self) -> MotoServer:
        """Start the process without waiting for it (``wait`` does): the caller can work
        meanwhile."""
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        env = {**os.environ, "MOTO_CALL_RESET_API": "false", TAG: process_tag()}
        self._process = subprocess.Popen(
            child_command("archway.shared.local.moto_app", HOST, str(self.port),
                          ",".join(self.preload)),
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
        self._launched = time.monotonic()
        return self

    def wait(self) -> MotoServer:
        """Until moto answers (at most START_TIMEOUT seconds from ``launch``)."""
        if self._ready_seen:
            return self
        assert self._process is not None, "launch first"
        deadline = self._launched + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LocalCloudError(f"moto server exited with code {self._process.returncode} "
                                      f"(port {self.port}; log: {self.log or 'not kept'})")
            if self._ready():
                self._ready_seen = True
                return self
            time.sleep(0.05)
        self.stop()
        raise LocalCloudError(f"moto server did not answer on {self.endpoint} within "
                              f"{START_TIMEOUT:.0f} s")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        self._ready_seen = False
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
