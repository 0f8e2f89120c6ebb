"""The local Lambda runner: real handler code from the deployed asset, in worker processes.

Each function runs in its own processes (modules of different services never collide),
with the environment, memory (resident size watched; over it, the worker is killed as
Lambda does) and timeout of its template and AWS calls pointed at the
local cloud with its own account's credentials. A function's first invoke starts its worker
(nothing starts ahead: at 100 services most functions are never called in a session);
warm workers are reused, at most ``WARM_WORKERS`` idle ones in all (the longest idle
stops first), and a worker idle for ``IDLE_TIMEOUT`` seconds stops, as Lambda reclaims
idle execution environments (the Shutdown phase of
https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
). A new code key (a redeploy after a handler changed) retires the old ones.

A handler that cannot be imported never stops the runner: the worker reports the init
error Lambda would (Runtime.ImportModuleError, Runtime.UserCodeSyntaxError,
Runtime.HandlerNotFound, ...), every invoke of that function answers it (API Gateway
turns it into 502) and, as Lambda does, the next invoke tries the init again. The
handler's output and tracebacks go to the console, one line at a time prefixed with the
service and function (``[catalog/search]``), Powertools' JSON shown readably, and to
``build/local/.cloud/logs/<function>.log``, each line after its UTC time (what ``archway
logs`` reads).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archway.shared.local import worker as worker_module
from archway.shared.local.deps import (
    DependencyError,
    requirements_key,
    runtime_layer,
    vendored,
)
from archway.shared.local.processes import TAG, process_tag
from archway.shared.local.text import printable, readable

MAX_WORKERS_PER_FUNCTION = 4
START_TIMEOUT = 30.0
WARM_WORKERS = 8  # idle workers kept in all (~40 MiB each); busy ones are not counted
IDLE_TIMEOUT = 300.0  # seconds without an invoke before a worker stops


@dataclass(frozen=True)
class LocalFunction:
    name: str
    account: str
    region: str
    handler: str
    memory: int
    timeout: int
    code_bucket: str
    code_key: str
    environment: dict[str, str] = field(default_factory=dict)
    source: str = ""  # where its code lives in the repository (services/<svc>/src)
    requirements: str = ""  # services/<svc>/requirements.txt (absolute), if the service has one
    label: str = ""  # how the console names it: <service>/<function>; its name when empty
    runtime: str = ""  # python3.12: the interpreter that runs it, when one is installed

    @property
    def generation(self) -> tuple[str, tuple[tuple[str, str], ...], str]:
        """Workers of another generation are retired: new code, settings or requirements."""
        requirements = Path(self.requirements) if self.requirements else None
        key = (requirements_key(requirements)
               if requirements is not None and requirements.is_file() else "")
        return self.code_key, tuple(sorted(self.environment.items())), key


@dataclass(frozen=True)
class InvokeResult:
    payload: Any = None
    error: dict[str, str] | None = None
    duration_ms: float = 0.0
    timed_out: bool = False
    handler_ms: float | None = None  # the handler's own call, as the worker timed it
    payload_size: int | None = None  # bytes of the payload's JSON, as the worker encoded it


class InitError(Exception):
    """The handler could not be loaded: Lambda's init error, as the worker reported it."""

    def __init__(self, function: LocalFunction, fault: dict[str, Any]) -> None:
        self.fault = {"errorType": str(fault.get("errorType", "Runtime.Unknown")),
                      "errorMessage": str(fault.get("errorMessage", "worker did not start"))}
        where = ""
        if fault.get("file") and function.source:
            where = f"{function.source}/{fault['file']}:{fault.get('line', 0)}: "
        elif fault.get("file"):
            where = f"{fault['file']}:{fault.get('line', 0)}: "
        super().__init__(f"{where}{self.fault['errorType']}: {self.fault['errorMessage']}")


EXITED = object()  # the worker's stdout closed: the process is gone
# An invoke whose request is at most this large is written to the worker's pipe from the
# edge's loop without blocking it (a pipe holds 64 KiB: pipe(7)); a larger one is made
# from a thread.
LOOP_MESSAGE_MAX = 60 * 1024


def request_message(event: bytes, timeout: float) -> bytes:
    """An invoke for the worker, framed: the event's JSON inserted as it is (encoded once,
    by the caller, who measured it against Lambda's payload limit)."""
    data = b'{"timeout": %r, "requestId": "%s", "event": %s}' % (
        float(timeout), str(uuid.uuid4()).encode(), event)
    return struct.pack(">I", len(data)) + data


class MessageReader:
    """The worker's next message from the bytes of its pipe, as they come."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, chunk: bytes) -> Any:
        """The message, once complete (else None)."""
        self.buffer += chunk
        if len(self.buffer) < 4:
            return None
        (length,) = struct.unpack_from(">I", self.buffer)
        if len(self.buffer) < 4 + length:
            return None
        return json.loads(bytes(self.buffer[4:4 + length]))


class MemoryExceeded(Exception):
    def __init__(self, used: float) -> None:
        super().__init__(f"{used:.0f} MB")
        self.used = used


def worker_command(code_dir: Path, handler: str, paths: list[str],
                   python: str | None = None) -> list[str]:
    # -I: neither the worker's folder (whose http.py would shadow the stdlib) nor PYTHON*
    # variables nor the user's site-packages; -S: not the host's site-packages either. The
    # import path is the code, then exactly ``paths``, then the standard library.
    return [python or sys.executable, "-I", "-S", worker_module.__file__, str(code_dir),
            handler, *paths]


class Worker:
    def __init__(self, function: LocalFunction, command: list[str], env: dict[str, str],
                 log: Path, console: Callable[[str], None] | None = None) -> None:
        self.function = function
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=env)
        self._pump = threading.Thread(target=_pump_logs, name=f"log-{function.name}",
                                      args=(self.process.stderr, log,
                                            function.label or function.name, console),
                                      daemon=True)
        self._pump.start()
        ready = self._receive(START_TIMEOUT)
        if not isinstance(ready, dict) or not ready.get("ready"):
            self.stop()
            raise InitError(function, ready if isinstance(ready, dict) else {
                "errorType": "Runtime.ExitError",
                "errorMessage": "Runtime exited before it was ready"})

    def _receive(self, timeout: float, memory_mb: int | None = None) -> Any:
        """The worker's next message; None on timeout; raises MemoryExceeded."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()  # read unbuffered: the loop's reads share it
        reader = MessageReader()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], min(left, 0.05))
            if readable:
                message = None
                while message is None:  # a reply is arriving: all of it
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        return EXITED
                    message = reader.feed(chunk)
                return message
            if memory_mb is not None and self.rss_mb() > memory_mb:
                raise MemoryExceeded(self.rss_mb())

    async def _areceive(self, timeout: float, memory_mb: int) -> Any:
        """As ``_receive``, on the running loop: woken by the pipe, not by a thread."""
        assert self.process.stdout is not None
        loop = asyncio.get_running_loop()
        fd = self.process.stdout.fileno()
        reader = MessageReader()
        done: asyncio.Future[Any] = loop.create_future()
        deadline = loop.time() + timeout

        def readable() -> None:
            chunk = os.read(fd, 65536)
            message = EXITED if not chunk else reader.feed(chunk)
            if message is not None and not done.done():
                done.set_result(message)

        def watch() -> None:  # the deadline (unless a reply is arriving), the memory
            if done.done():
                return
            now = loop.time()
            if now >= deadline and not reader.buffer:
                done.set_result(None)
            elif self.rss_mb() > memory_mb:
                done.set_exception(MemoryExceeded(self.rss_mb()))
            else:
                timer[0] = loop.call_at(min(now + 0.05, deadline) if now < deadline
                                        else now + 0.05, watch)

        timer = [loop.call_at(min(loop.time() + 0.05, deadline), watch)]
        loop.add_reader(fd, readable)
        try:
            return await done
        finally:
            loop.remove_reader(fd)
            timer[0].cancel()

    def rss_mb(self) -> float:
        """Resident memory of the worker, as Lambda's 'Max Memory Used' counts it."""
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def invoke(self, event: bytes, timeout: float) -> InvokeResult:
        """Run the handler on ``event`` (its JSON), waiting in this thread."""
        start = time.perf_counter()
        self._send(request_message(event, timeout))
        try:
            reply = self._receive(timeout, self.function.memory)
        except MemoryExceeded as exc:
            return self._out_of_memory(exc, start)
        return self._result(reply, start, timeout)

    async def ainvoke(self, message: bytes, timeout: float) -> InvokeResult:
        """As ``invoke`` for a request ``message`` of at most LOOP_MESSAGE_MAX bytes, on
        the running loop."""
        start = time.perf_counter()
        self._send(message)
        try:
            reply = await self._areceive(timeout, self.function.memory)
        except MemoryExceeded as exc:
            return self._out_of_memory(exc, start)
        return self._result(reply, start, timeout)

    def _send(self, message: bytes) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(message)
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # the worker is gone: its reply is EXITED

    def _out_of_memory(self, exc: MemoryExceeded, start: float) -> InvokeResult:
        self.stop()
        return InvokeResult(error={"errorType": "Runtime.OutOfMemory", "errorMessage": (
            f"Runtime exited: used {exc.used:.0f} MB of {self.function.memory} MB")},
            duration_ms=(time.perf_counter() - start) * 1000)

    def _result(self, reply: Any, start: float, timeout: float) -> InvokeResult:
        duration = (time.perf_counter() - start) * 1000
        if reply is EXITED:
            self.stop()
            return InvokeResult(error={"errorType": "Runtime.ExitError", "errorMessage": (
                f"Runtime exited with error: exit status {self.process.returncode}")},
                duration_ms=duration)
        if reply is None:
            self.stop()
            return InvokeResult(error={"errorType": "Sandbox.Timedout", "errorMessage": (
                f"Task timed out after {timeout:.2f} seconds")}, duration_ms=duration,
                timed_out=True)
        if "payload" in reply:
            return InvokeResult(payload=reply["payload"], duration_ms=duration,
                                handler_ms=reply.get("durationMs"),
                                payload_size=reply.get("size"))
        return InvokeResult(error=reply, duration_ms=duration)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream:
                stream.close()
        self._pump.join(timeout=5)


def log_path(work_dir: Path, function: str) -> Path:
    """Where a function's output goes: one line per line written, after its UTC time."""
    return work_dir / "logs" / f"{function}.log"


def log_stamp() -> bytes:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ ").encode()


def _pump_logs(stream: Any, log: Path, name: str,
               console: Callable[[str], None] | None) -> None:
    """Each line the handler writes: to its log file (after its time) and, prefixed, to the
    console."""
    with open(log, "ab") as out:
        for raw in iter(stream.readline, b""):
            out.write(log_stamp() + raw.rstrip(b"\r\n") + b"\n")
            out.flush()
            if console is not None:
                text = readable(raw.decode("utf-8", "replace").rstrip())
                console(f"  [{name}] {printable(text)}")
    stream.close()


class Pool:
    """Workers of one function generation: started on demand, up to ``size`` at once."""

    def __init__(self, spawn: Callable[[], Worker], size: int) -> None:
        self.spawn = spawn
        self.size = size
        self.idle: list[tuple[float, Worker]] = []  # (idle since, worker), oldest first
        self.count = 0
        self.condition = threading.Condition()
        self.closed = False

    def acquire(self) -> Worker:
        with self.condition:
            while not self.idle and self.count >= self.size:
                self.condition.wait()
            if self.idle:
                return self.idle.pop()[1]  # the most recently used: warm caches
            self.count += 1
        try:
            return self.spawn()
        except BaseException:
            with self.condition:
                self.count -= 1
                self.condition.notify()
            raise

    def take_idle(self) -> Worker | None:
        """The most recently used idle worker, if one is idle (never waits, never starts
        one)."""
        with self.condition:
            return self.idle.pop()[1] if self.idle else None

    def release(self, worker: Worker) -> None:
        with self.condition:
            keep = worker.alive and not self.closed
            if keep:
                self.idle.append((time.monotonic(), worker))
            else:
                self.count -= 1
            self.condition.notify()
        if not keep and worker.alive:
            worker.stop()

    def oldest_idle(self) -> float | None:
        with self.condition:
            return self.idle[0][0] if self.idle else None

    def retire(self, idle_before: float, at_most: int | None = None) -> int:
        """Stop up to ``at_most`` workers idle since before ``idle_before`` (oldest first)."""
        with self.condition:
            doomed = [w for since, w in self.idle if since < idle_before][:at_most]
            self.idle = [(since, w) for since, w in self.idle if w not in doomed]
            self.count -= len(doomed)
            self.condition.notify(len(doomed))
        for worker in doomed:
            worker.stop()
        return len(doomed)

    def close(self) -> None:
        with self.condition:
            self.closed = True
        self.retire(float("inf"))


class LambdaRunner:
    """Functions by name; each one's workers start on its first invoke, stay warm while used
    (at most ``warm_workers`` idle ones in all) and stop after ``idle_timeout`` seconds
    without an invoke, as Lambda reclaims idle execution environments."""

    def __init__(self, client: Callable[[str, str, str], Any],
                 credentials: Callable[[str, str], dict[str, str]], endpoint: str,
                 work_dir: Path, workers_per_function: int = MAX_WORKERS_PER_FUNCTION,
                 console: Callable[[str], None] | None = None, *,
                 warm_workers: int = WARM_WORKERS, idle_timeout: float = IDLE_TIMEOUT,
                 interpreters: dict[str, str] | None = None) -> None:
        self.client = client
        self.console = console
        self.interpreters = interpreters or {}
        self.credentials = credentials
        self.endpoint = endpoint
        self.work_dir = work_dir
        self.workers_per_function = workers_per_function
        self.warm_workers = warm_workers
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._code_lock = threading.Lock()
        self._functions: dict[str, LocalFunction] = {}
        self._generations: dict[str, object] = {}
        self._pools: dict[str, Pool] = {}
        self._wake = threading.Event()
        self._closed = False
        self._reaper: threading.Thread | None = None
        self._reaper_unbounded = True  # the reaper sleeps until woken (no worker idle)
        self._layer: Path | None = None
        self.invocations = 0  # invokes so far (what may have changed the data)

    def register(self, function: LocalFunction) -> bool:
        """Register or update a function; True when its code, settings or requirements
        changed (its workers are then replaced). Nothing starts until it is invoked."""
        generation = function.generation
        with self._lock:
            if self._generations.get(function.name) == generation:
                return False
        code_dir = self._code(function)  # before the swap: invokes meanwhile get the old code
        paths = self._import_paths(function)
        pool = Pool(lambda: self._spawn(function, code_dir, paths), self.workers_per_function)
        with self._lock:  # invokes meanwhile keep the old workers; from here on, the new ones
            self._functions[function.name] = function
            self._generations[function.name] = generation
            old = self._pools.get(function.name)
            self._pools[function.name] = pool
        if old is not None:
            old.close()
        return True

    def functions(self) -> list[LocalFunction]:
        with self._lock:
            return list(self._functions.values())

    def workers(self) -> dict[str, int]:
        """Function name -> its running workers (busy or idle)."""
        with self._lock:
            pools = dict(self._pools)
        return {name: pool.count for name, pool in pools.items() if pool.count}

    def _code(self, function: LocalFunction) -> Path:
        target = self.work_dir / "code" / Path(function.code_key).stem
        with self._code_lock:  # two registers at once unpack it once
            if not (target / ".complete").exists():
                s3 = self.client("s3", function.account, function.region)
                body = s3.get_object(Bucket=function.code_bucket,
                                     Key=function.code_key)["Body"]
                target.mkdir(parents=True, exist_ok=True)
                with zipfile.ZipFile(io.BytesIO(body.read())) as archive:
                    archive.extractall(target)
                (target / ".complete").touch()
        return target

    def _import_paths(self, function: LocalFunction) -> list[str]:
        """After the code: its vendored dependencies, then the runtime's libraries."""
        paths = []
        if function.requirements:
            try:
                python = (function.runtime.removeprefix("python")
                          if function.runtime in self.interpreters else None)
                deps = vendored(Path(function.requirements), self.work_dir, python)
            except DependencyError as exc:
                if self.console is not None:
                    self.console(f"{function.name}: {exc}")
                deps = None
            if deps is not None:
                paths.append(str(deps))
        paths.append(str(self._runtime_layer()))
        return paths

    def _runtime_layer(self) -> Path:
        """Made (or found) once per runner: reading the installed distributions' metadata
        takes ~0.1 s, once per function at 100 services it was most of the mount."""
        with self._code_lock:
            if self._layer is None:
                self._layer = runtime_layer(self.work_dir)
            return self._layer

    def _spawn(self, function: LocalFunction, code_dir: Path, paths: list[str]) -> Worker:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONDONTWRITEBYTECODE": "1",
            **function.environment,
            **self.credentials(function.account, function.region),
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "ARCHWAY_ACCOUNT": function.account,
            "POWERTOOLS_TRACE_DISABLED": "true",
            TAG: process_tag(),
        }
        log = log_path(self.work_dir, function.name)
        log.parent.mkdir(parents=True, exist_ok=True)
        command = worker_command(code_dir, function.handler, paths,
                                 self.interpreters.get(function.runtime))
        return Worker(function, command, env, log, self.console)

    def warm(self, name: str) -> InitError | None:
        """Start one worker now (the deploy's probe); its init error, if it has one."""
        with self._lock:
            pool = self._pools[name]
        try:
            self._release(pool, pool.acquire())
        except InitError as exc:
            return exc
        return None

    def invoke(self, name: str, event: Any, timeout: float | None = None) -> InvokeResult:
        """Invoke ``name`` with ``event`` (a JSON value), waiting in this thread."""
        return self.invoke_json(name, json.dumps(event).encode(), timeout)

    def invoke_json(self, name: str, event: bytes,
                    timeout: float | None = None) -> InvokeResult:
        """Invoke ``name`` with ``event`` (its JSON), waiting in this thread: for a worker
        (starting one if none is idle), then for its reply."""
        with self._lock:
            function = self._functions[name]
            pool = self._pools[name]
            self.invocations += 1
        try:
            worker = pool.acquire()
        except InitError as exc:
            if self.console is not None:
                self.console(f"  [{function.label or name}] init error: "
                             f"{printable(str(exc))}")
            return InvokeResult(error=exc.fault)
        try:
            return worker.invoke(event, min(timeout or function.timeout, function.timeout))
        finally:
            self._release(pool, worker)

    async def ainvoke(self, name: str, event: bytes,
                      timeout: float | None = None) -> InvokeResult:
        """As ``invoke_json``, awaited. With a warm worker idle and a request of at most
        LOOP_MESSAGE_MAX bytes, on the running loop: the request written to the worker's
        pipe and the loop woken by its reply. Otherwise (a worker to start or to wait
        for, a larger request) in a thread, as before. Measured on the 2-core machine
        (archway local, /api/catalog/search cache misses at 1 client, load ~5.5, three
        alternations of 300 in one process): the runner's own time (invoke - handler,
        medians) 0.71-0.86 ms through a thread, 0.57-0.72 ms on the loop."""
        with self._lock:
            function = self._functions[name]
            pool = self._pools[name]
        wait = min(timeout or function.timeout, function.timeout)
        message = request_message(event, wait)
        worker = pool.take_idle() if len(message) <= LOOP_MESSAGE_MAX else None
        if worker is None:
            return await asyncio.to_thread(self.invoke_json, name, event, timeout)
        with self._lock:
            self.invocations += 1
        # shielded: a caller that goes away (a viewer that hung up) leaves the invoke to
        # finish and its worker to return to the pool, as the thread did
        return await asyncio.shield(self._on_loop(pool, worker, message, wait))

    async def _on_loop(self, pool: Pool, worker: Worker, message: bytes,
                       timeout: float) -> InvokeResult:
        try:
            return await worker.ainvoke(message, timeout)
        finally:
            self._release(pool, worker)

    def _release(self, pool: Pool, worker: Worker) -> None:
        """Back to the warm pool; over the bound, the longest idle worker anywhere stops."""
        pool.release(worker)
        with self._lock:
            pools = list(self._pools.values())
        while sum(len(p.idle) for p in pools) > self.warm_workers:
            idle = [(since, p) for p in pools if (since := p.oldest_idle()) is not None]
            if not idle:
                break
            min(idle, key=lambda pair: pair[0])[1].retire(float("inf"), at_most=1)
        self._start_reaper()
        with self._lock:
            # The reaper sleeps until the oldest idle worker times out; a worker idle from
            # now times out later, so it is woken only when it sleeps with none idle (on
            # every invoke, its wake-up took the edge's core: 0.17 ms a request measured).
            wake = self._reaper_unbounded
        if wake:
            self._wake.set()

    def _start_reaper(self) -> None:
        with self._lock:
            if self._reaper is not None or self._closed:
                return
            self._reaper = threading.Thread(target=self._reap, name="lambda-reaper",
                                            daemon=True)
        self._reaper.start()

    def _reap(self) -> None:
        """Sleeps until the longest idle worker reaches the timeout (no polling while all
        are busy or none is left), stops the ones that did, and sleeps again."""
        while True:
            with self._lock:
                if self._closed:
                    return
                pools = list(self._pools.values())
                since = [s for s in (p.oldest_idle() for p in pools) if s is not None]
                self._reaper_unbounded = not since
            wait = (min(since) + self.idle_timeout - time.monotonic()) if since else None
            if wait is None or wait > 0:
                self._wake.wait(wait)
                self._wake.clear()
                continue
            cutoff = time.monotonic() - self.idle_timeout
            for pool in pools:
                pool.retire(cutoff)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pools, self._pools = list(self._pools.values()), {}
            self._functions, self._generations = {}, {}
        self._wake.set()
        for pool in pools:
            pool.close()
