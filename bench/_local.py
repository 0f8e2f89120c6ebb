"""Start `archway local` for a benchmark (loopback only, bounded in time) and stop it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import _env  # noqa: F401  (the environment a user's shell gives processes)

from archway.shared.local.launcher import running_local

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def local_cloud(port: int) -> Iterator[dict[str, Any]]:
    log = REPO / "build" / "bench-local.log"
    log.parent.mkdir(exist_ok=True)
    with running_local(REPO, port, log) as state:
        yield state
