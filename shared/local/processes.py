"""The local cloud's processes end with it, whatever way it ends.

- Ctrl-C, SIGTERM and SIGHUP stop ``archway local`` cleanly (moto, workers, state file).
- ``archway local`` itself stops cleanly when the process that started it is gone: tox,
  for one, exits on SIGTERM without stopping the command it runs, and an IDE or script
  killed with ``kill -9`` signals nothing.
- Every child (moto, Lambda workers) watches its parent and exits when it is gone, so a
  ``kill -9`` of ``archway local`` leaves nothing running. The watch is a thread polling
  ``getppid()`` rather than Linux's PR_SET_PDEATHSIG, which fires when the *thread* that
  started the child ends (workers are started from short-lived pool threads).
- Every process the local cloud starts carries ``ARCHWAY_LOCAL_TAG`` in its environment: a
  stale state file's moto is killed only if it still is that process (same tag, still
  moto), never a stranger that reused its pid; the test suite finds leftovers the same way.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

TAG = "ARCHWAY_LOCAL_TAG"


def process_tag() -> str:
    """This process tree's tag: inherited from the parent, else a new one (and exported)."""
    tag = os.environ.get(TAG)
    if not tag:
        tag = os.environ[TAG] = f"archway-{uuid.uuid4().hex[:12]}"
    return tag


def alive(pid: int | None) -> bool:
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not running
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            "utf-8", "replace")
    except OSError:
        return ""


def environment(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in pairs}


def is_ours(pid: int | None, tag: str | None, marker: str) -> bool:
    """The process still is the one we started: alive, our tag, ``marker`` in its command."""
    if not pid or not tag or not alive(pid):
        return False
    return environment(pid).get(TAG) == tag and marker in command_line(pid)


def terminate(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.05)


def tagged(tag: str) -> Iterator[int]:
    """Pids of every running process carrying ``tag`` (this one excluded)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            pid = int(entry.name)
            if environment(pid).get(TAG) == tag and alive(pid):
                yield pid


def stop_on_signals(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGHUP)) -> None:
    """SIGTERM and SIGHUP end the main thread like Ctrl-C does, so cleanup runs. So does
    SIGINT itself, even when it was ignored when this process started (a script's
    ``archway local &`` starts with SIGINT ignored, and Python then leaves it so): whoever
    sends it means stop."""

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in signals:
        signal.signal(sig, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def stop_with_parent(poll: float = 0.5) -> None:
    """When this process's parent is gone, stop as SIGTERM does (cleanly, via
    ``stop_on_signals``). Nothing to watch for a process started by init."""
    parent = os.getppid()
    if parent != 1:
        _watch_parent(parent, lambda: os.kill(os.getpid(), signal.SIGTERM), poll)


def running_owner(state: dict[str, object]) -> int | None:
    """The pid of the ``archway local`` that wrote ``state``, if it still runs."""
    pid = state.get("pid")
    if isinstance(pid, int) and pid != os.getpid() and alive(pid) and \
            "archway" in command_line(pid):
        return pid
    return None


MOTO_MARKER = "archway.shared.local.moto_app"  # in the command line of our moto server


def clean_stale(state_file: Path, out: Callable[[str], None]) -> None:
    """Remove the state of an ``archway local`` that is gone (``kill -9``, a crash), and
    end its moto if that still runs. Raises nothing: the caller checks running_owner."""
    import json

    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        state_file.unlink(missing_ok=True)
        return
    moto = state.get("moto_pid")
    if isinstance(moto, int) and is_ours(moto, state.get("tag"), MOTO_MARKER):
        terminate(moto)
        out(f"stopped the moto server (pid {moto}) left by archway local pid {state.get('pid')}")
    state_file.unlink(missing_ok=True)
    out(f"removed the state of archway local pid {state.get('pid')}, which is not running")


def child_command(module: str, *args: str) -> list[str]:
    """``python -m <module> args`` that exits when the calling process is gone."""
    return [sys.executable, "-m", "archway.shared.local.processes", str(os.getpid()), module,
            *args]


def wait_for_parent_exit(parent: int, poll: float = 0.5) -> None:
    """Return once ``parent`` is no longer this process's parent.

    The thread sleeps in select(2) on a pidfd of the parent, which "indicate[s] the file
    descriptor as readable" when that process terminates
    (https://man7.org/linux/man-pages/man2/pidfd_open.2.html, os.pidfd_open since Python
    3.9: https://docs.python.org/3/library/os.html#os.pidfd_open): an idle local cloud
    wakes for nothing. Where there is no pidfd (another OS, an old kernel), getppid is
    polled every ``poll`` seconds."""
    import select

    try:
        pidfd: int | None = os.pidfd_open(parent)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is not None:
        try:
            if os.getppid() == parent:  # the pidfd is the parent's, not a reused pid's
                select.select([pidfd], [], [])
        finally:
            os.close(pidfd)
    while os.getppid() == parent:  # no pidfd, or re-parenting not seen yet
        time.sleep(poll)


def _watch_parent(parent: int, gone: Callable[[], object] = lambda: os._exit(0),
                  poll: float = 0.5) -> None:
    """Call ``gone`` (by default: exit at once) when ``parent`` is no longer the parent."""
    import threading

    def watch() -> None:
        wait_for_parent_exit(parent, poll)
        gone()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _run_child(argv: list[str], run: Callable[..., object] = runpy.run_module) -> None:
    parent, module, *args = argv
    _watch_parent(int(parent))
    sys.argv = [module, *args]
    run(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _run_child(sys.argv[1:])
