"""Throttling is retried once, at the connection manager, for every client it makes.

A real botocore client talks to a tiny CloudFormation stand-in on 127.0.0.1 that
throttles twice before answering: the caller sees only the answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from archway.shared.deploy.connections import ConnectionManager

THROTTLED = (b'<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
             b"<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded"
             b"</Message></Error><RequestId>r</RequestId></ErrorResponse>")
STACK = (b'<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
         b"<DescribeStacksResult><Stacks><member><StackName>s</StackName>"
         b"<StackId>id</StackId><CreationTime>2026-11-22T00:00:00Z</CreationTime>"
         b"<StackStatus>CREATE_COMPLETE</StackStatus></member></Stacks></DescribeStacksResult>"
         b"<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
         b"</DescribeStacksResponse>")


class Throttler(BaseHTTPRequestHandler):
    calls = 0

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook
        self.rfile.read(int(self.headers["content-length"]))
        type(self).calls += 1
        throttled = type(self).calls <= 2
        body = THROTTLED if throttled else STACK
        self.send_response(400 if throttled else 200)
        self.send_header("content-type", "text/xml")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Throttler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=10)


def test_throttled_calls_are_retried(endpoint: str) -> None:
    connections = ConnectionManager("archway", "eu-west-1", endpoint_url=endpoint,
                                    assume_role=False)
    cfn = connections.client("cloudformation", "123456789012", "eu-west-1")
    (stack,) = cfn.describe_stacks(StackName="s")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert Throttler.calls == 3
