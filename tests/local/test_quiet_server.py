"""The local cloud's uvicorn servers sleep while idle, still send a current Date header,
and stop at once when asked."""

from __future__ import annotations

import http.client
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any

import uvicorn

from archway.shared.local.moto_server import free_port
from archway.shared.local.quiet_server import QuietServer


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hi"})


def serving() -> tuple[QuietServer, threading.Thread, int, list[float]]:
    port = free_port()
    server = QuietServer(uvicorn.Config(hello, host="127.0.0.1", port=port, lifespan="off",
                                        log_level="warning"))
    ticks: list[float] = []
    real_tick = server.on_tick

    async def counted(counter: int) -> bool:
        ticks.append(time.monotonic())
        return await real_tick(counter)

    server.on_tick = counted  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    return server, thread, port, ticks


def test_an_idle_server_wakes_once_a_second_and_stops_at_once() -> None:
    # GIVEN a server with nothing to do
    server, thread, _, ticks = serving()
    try:
        # WHEN two seconds pass
        start = len(ticks)
        time.sleep(2.0)
        # THEN it woke about twice (uvicorn's own loop wakes twenty times)
        assert 1 <= len(ticks) - start <= 3, ticks
    finally:
        # WHEN it is asked to stop from another thread
        asked = time.monotonic()
        server.request_exit()
        thread.join(timeout=10)
    # THEN it stops without waiting out its tick
    assert not thread.is_alive() and time.monotonic() - asked < 0.5


def test_the_date_header_stays_current_while_idle() -> None:
    # GIVEN a server idle for a few seconds
    server, thread, port, _ = serving()
    try:
        time.sleep(2.5)
        # WHEN a request comes
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/")
        response = connection.getresponse()
        response.read()
        connection.close()
        # THEN its Date header is within the second uvicorn itself allows
        sent = parsedate_to_datetime(response.getheader("date") or "").timestamp()
        assert response.status == 200 and abs(time.time() - sent) < 2.0
    finally:
        server.request_exit()
        thread.join(timeout=10)
