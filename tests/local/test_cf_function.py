"""CloudFront Functions in V8: plain and async handlers answer alike, settled or pending,
from a thread or on the caller's asyncio loop (as the edge calls them)."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import pytest

from archway.shared.local import cf_function
from archway.shared.local.cf_function import CloudFrontFunction, FunctionError


def viewer_request(uri: str) -> dict[str, Any]:
    return {"version": "1.0", "context": {"eventType": "viewer-request"},
            "viewer": {"ip": "192.0.2.1"},
            "request": {"method": "GET", "uri": uri, "querystring": {}, "headers": {},
                        "cookies": {}}}


ASYNC_KVS = """import cf from 'cloudfront';
async function handler(event) {
  var domain = await cf.kvs().get(event.request.uri);
  cf.updateRequestOrigin({domainName: domain});
  event.request.uri = '/routed' + event.request.uri;
  return event.request;
}"""


def test_plain_handler_result_is_returned() -> None:
    # GIVEN a handler that returns the request, changed, without a promise
    function = CloudFrontFunction(
        "function handler(event) { event.request.uri += '.html'; return event.request; }", "p")
    # WHEN it runs twice (the second call reuses the context)
    first, origin = function.invoke(viewer_request("/a"))
    second, _ = function.invoke(viewer_request("/b"))
    # THEN each call gets its own request back and no origin was chosen
    assert (first["uri"], second["uri"], origin) == ("/a.html", "/b.html", None)


def test_async_handler_reads_store_and_sets_origin_per_request() -> None:
    # GIVEN an async handler awaiting the KeyValueStore and choosing an origin from it
    store = {"/x": "x.execute-api.local", "/y": "y.execute-api.local"}
    function = CloudFrontFunction(ASYNC_KVS, "a", store=lambda: (1, store))
    # WHEN two requests run one after the other
    x = function.invoke(viewer_request("/x"))
    y = function.invoke(viewer_request("/y"))
    # THEN each answer carries its own result and origin, not the previous request's
    assert x == ({"method": "GET", "uri": "/routed/x", "querystring": {}, "headers": {},
                  "cookies": {}}, {"domainName": "x.execute-api.local"})
    assert y[0]["uri"] == "/routed/y" and y[1] == {"domainName": "y.execute-api.local"}


def test_async_handler_still_pending_after_the_call_is_awaited() -> None:
    # GIVEN an async handler that waits on a timer (not settled when its call ends)
    function = CloudFrontFunction(
        "async function handler(event) {"
        " await new Promise(function (r) { setTimeout(r, 20); });"
        " return {statusCode: 204, statusDescription: 'No Content'}; }", "t")
    # WHEN it runs
    result, _ = function.invoke(viewer_request("/"))
    # THEN its eventual answer is returned
    assert result == {"statusCode": 204, "statusDescription": "No Content"}


def test_async_handler_rejection_is_a_function_error() -> None:
    # GIVEN an async handler awaiting a key the store does not have (get rejects)
    function = CloudFrontFunction(ASYNC_KVS, "missing", store=lambda: (1, {}))
    # WHEN it runs THEN the failure names the function and the store's error
    with pytest.raises(FunctionError, match=r"CloudFront Function missing failed: .*Key not found"):
        function.invoke(viewer_request("/nowhere"))


def test_async_handler_on_the_callers_loop_answers_as_from_a_thread() -> None:
    # GIVEN the async KeyValueStore handler and a plain one
    store = {"/x": "x.execute-api.local"}
    routed = CloudFrontFunction(ASYNC_KVS, "a", store=lambda: (1, store))
    plain = CloudFrontFunction(
        "function handler(event) { event.request.uri += '.html'; return event.request; }", "p")

    async def both() -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        return [await routed.ainvoke(viewer_request("/x")),
                await plain.ainvoke(viewer_request("/b"))]

    # WHEN each runs on an asyncio loop (as the edge runs them) and from a thread
    on_loop = asyncio.run(both())
    # THEN the answers are the same either way
    assert on_loop == [routed.invoke(viewer_request("/x")), plain.invoke(viewer_request("/b"))]
    assert on_loop[0][1] == {"domainName": "x.execute-api.local"}
    assert on_loop[1] == ({**viewer_request("/b")["request"], "uri": "/b.html"}, None)


def test_concurrent_requests_on_one_loop_each_get_their_own_answer() -> None:
    # GIVEN an async handler whose answer depends on the request
    store = {f"/{i}": f"api{i}.execute-api.local" for i in range(20)}
    function = CloudFrontFunction(ASYNC_KVS, "a", store=lambda: (1, store))

    async def many() -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        return await asyncio.gather(*(function.ainvoke(viewer_request(f"/{i}"))
                                      for i in range(20)))

    # WHEN 20 requests are in flight at once on the loop
    answers = asyncio.run(many())
    # THEN each request got its own result and origin, none another's
    assert [(r["uri"], o["domainName"] if o else None) for r, o in answers] == [
        (f"/routed/{i}", f"api{i}.execute-api.local") for i in range(20)]


def test_rejection_on_the_loop_is_a_function_error() -> None:
    # GIVEN an async handler awaiting a key the store does not have
    function = CloudFrontFunction(ASYNC_KVS, "missing", store=lambda: (1, {}))
    # WHEN it runs on a loop THEN the failure names the function and the store's error
    with pytest.raises(FunctionError, match=r"CloudFront Function missing failed: .*Key not found"):
        asyncio.run(function.ainvoke(viewer_request("/nowhere")))


def test_a_pending_promise_on_the_loop_is_awaited() -> None:
    # GIVEN an async handler that waits on a timer
    function = CloudFrontFunction(
        "async function handler(event) {"
        " await new Promise(function (r) { setTimeout(r, 20); });"
        " return {statusCode: 204, statusDescription: 'No Content'}; }", "t")
    # WHEN it runs on a loop THEN its eventual answer is returned
    result, _ = asyncio.run(function.ainvoke(viewer_request("/")))
    assert result == {"statusCode": 204, "statusDescription": "No Content"}


@pytest.mark.parametrize("on_loop", [False, True])
def test_a_handler_over_the_time_cap_fails_and_the_next_request_is_served(
        monkeypatch: pytest.MonkeyPatch, on_loop: bool) -> None:
    # GIVEN a handler that never returns for one path, and a cap of 100 ms
    monkeypatch.setattr(cf_function, "TIMEOUT_MS", 100)
    function = CloudFrontFunction(
        "function handler(event) { if (event.request.uri === '/spin') { while (true) {} }"
        " return event.request; }", "spin")

    def spin_then_ok() -> tuple[float, BaseException | None, dict[str, Any]]:
        started = time.monotonic()
        try:
            function.invoke(viewer_request("/spin"))
        except FunctionError as exc:
            return time.monotonic() - started, exc, function.invoke(viewer_request("/ok"))[0]
        return time.monotonic() - started, None, {}

    async def spin_then_ok_on_loop() -> tuple[float, BaseException | None, dict[str, Any]]:
        started = time.monotonic()
        try:
            await function.ainvoke(viewer_request("/spin"))
        except FunctionError as exc:
            return (time.monotonic() - started, exc,
                    (await function.ainvoke(viewer_request("/ok")))[0])
        return time.monotonic() - started, None, {}

    # WHEN it spins, then the next request runs (on the same loop, as the edge's)
    took, error, after = asyncio.run(spin_then_ok_on_loop()) if on_loop else spin_then_ok()
    # THEN the request fails within bounds, saying the cap
    assert error is not None and took < 5
    assert str(error) == "CloudFront Function spin failed: it ran over 100 ms"
    # AND the function still answers the next request
    assert after["uri"] == "/ok"


@pytest.mark.parametrize("on_loop", [False, True])
def test_a_store_update_is_seen_by_the_next_request(on_loop: bool) -> None:
    # GIVEN a store read as (version, contents), changed between two requests
    current: dict[str, tuple[object, dict[str, str]]] = {
        "snapshot": (1, {"/x": "old.execute-api.local"})}
    function = CloudFrontFunction(ASYNC_KVS, "a", store=lambda: current["snapshot"])

    def update() -> None:
        current["snapshot"] = (2, {"/x": "new.execute-api.local"})

    async def on_a_loop() -> list[dict[str, Any] | None]:
        first = (await function.ainvoke(viewer_request("/x")))[1]
        update()
        return [first, (await function.ainvoke(viewer_request("/x")))[1]]

    # WHEN a request runs, the store is updated, and the next request runs
    if on_loop:
        origins = asyncio.run(on_a_loop())
    else:
        origins = [function.invoke(viewer_request("/x"))[1]]
        update()
        origins.append(function.invoke(viewer_request("/x"))[1])
    # THEN the second request was routed by the new contents
    assert origins == [{"domainName": "old.execute-api.local"},
                       {"domainName": "new.execute-api.local"}]


def test_code_that_does_not_compile_is_said_when_the_function_is_made() -> None:
    # GIVEN function code with a syntax error
    # WHEN the function is made THEN it fails naming the function
    with pytest.raises(FunctionError, match=r"CloudFront Function broken does not compile"):
        CloudFrontFunction("function handler(event) { return event.request", "broken")


def test_functions_made_and_dropped_from_many_loops_keep_working() -> None:
    # GIVEN functions made one after the other and dropped, each called on a new loop
    # (contexts of many loops are made and freed while others are in use)
    kept = CloudFrontFunction(ASYNC_KVS, "kept", store=lambda: (1, {"/k": "k.local"}))
    for i in range(30):
        function = CloudFrontFunction(ASYNC_KVS, f"f{i}", store=lambda: (1, {"/a": "a.local"}))
        assert asyncio.run(function.ainvoke(viewer_request("/a")))[1] == {"domainName": "a.local"}
        del function
        gc.collect()
    # WHEN the kept one runs again, from a thread and from a new loop
    # THEN it still answers
    assert kept.invoke(viewer_request("/k"))[1] == {"domainName": "k.local"}
    assert asyncio.run(kept.ainvoke(viewer_request("/k")))[1] == {"domainName": "k.local"}


ECHO = "function handler(event) { return {request: event.request, viewer: event.viewer}; }"


def _request_with(headers: dict[str, str]) -> dict[str, Any]:
    event = viewer_request("/caf\u00e9/\u2028/\"q\"\\")
    event["request"]["headers"] = {name: {"value": value} for name, value in headers.items()}
    event["request"]["querystring"] = {"a b": {"value": "\u00e9\u4e2d\U0001f600\x00\x1f"}}
    return event


@pytest.mark.parametrize("headers", [
    {"accept": "*/*"},                                   # a usual request
    {"x-long": "v" * 20_000, "x-escapes": "\"\\\n\t</script>\u2029"},  # a large head
])
def test_the_handler_gets_the_event_as_sent(headers: dict[str, str]) -> None:
    # GIVEN a handler that answers the request and viewer it was given
    function = CloudFrontFunction(ECHO, "echo")
    event = _request_with(headers)
    # WHEN the event (non-ASCII text, quotes, backslashes, control characters, line
    # separators; small and large) is handled from a thread and on a loop, twice each
    answers = [function.run(event), function.run(event),
               asyncio.run(function.ainvoke(event))[0], asyncio.run(function.ainvoke(event))[0]]
    # THEN the handler saw exactly that event every time
    assert answers == [{"request": event["request"], "viewer": event["viewer"]}] * 4
