"""CloudFront Functions in V8: plain and async handlers answer alike, settled or pending."""

from __future__ import annotations

from typing import Any

import pytest

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
