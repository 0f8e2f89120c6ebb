"""uvicorn that sleeps while nothing happens: an idle local cloud wakes (almost) never.

uvicorn's ``Server.main_loop`` wakes every 0.1 s (``asyncio.sleep(0.1)``, then
``on_tick``) to see whether it should exit, and on every tenth tick refreshes the Date
header it sends. An idle ``archway local`` runs three such servers (the edge, the sign-in
issuer, moto): 30 wake-ups a second for nothing. This one waits a second between ticks
(each tick counts as ten, so the Date header is still refreshed once a second, as
uvicorn does) and wakes at once when told to exit, from any thread (``request_exit``) or
by the signals uvicorn handles in the main thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import FrameType

import uvicorn

TICK = 1.0  # seconds between ticks (uvicorn: 0.1)
TICKS_PER_WAIT = 10  # what uvicorn's on_tick counts in one TICK (it refreshes the date at 10)


class QuietServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + TICKS_PER_WAIT) % 864000  # uvicorn's own wrap-around
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK)
            should_exit = await self.on_tick(counter)

    def request_exit(self) -> None:
        """Stop serving (from any thread) without waiting for the next tick."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(wake.set)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self.request_exit()
