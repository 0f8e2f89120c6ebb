"""The preflight: one cause, named, within seconds (not 40 s of retries and a mixed message)."""

from __future__ import annotations

import io
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from botocore.stub import Stubber

from archway.shared.cli import main
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.deploy.preflight import CONNECT, PreflightFailed, preflight
from archway.shared.local.moto_server import MotoServer, free_port

REPO = Path(__file__).resolve().parents[2]


def test_reachable_endpoint_gives_the_caller(moto: MotoServer) -> None:
    connections = ConnectionManager("archway", "eu-west-1", endpoint_url=moto.endpoint)
    assert preflight(connections).startswith("arn:aws:")


def test_unreachable_endpoint_fails_fast_with_one_cause() -> None:
    # GIVEN an endpoint nobody listens on
    endpoint = f"http://127.0.0.1:{free_port()}"
    connections = ConnectionManager("archway", "eu-west-1", endpoint_url=endpoint)
    started = time.monotonic()
    # WHEN the preflight runs THEN it says so, naming the endpoint, in a few seconds
    with pytest.raises(PreflightFailed) as raised:
        preflight(connections)
    assert time.monotonic() - started < CONNECT + 3
    assert str(raised.value) == (f"cannot reach AWS STS at {endpoint} within {CONNECT} s: "
                                 "check the network, proxy or VPN")


def test_plan_on_an_unreachable_endpoint_is_one_line_exit_1() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["plan", "--env", "dev", "--root", str(REPO), "--endpoint-url", endpoint])
    elapsed = time.monotonic() - started
    assert code == 1 and elapsed < CONNECT + 5, elapsed
    assert err.getvalue().strip().splitlines() == [
        f"error: cannot reach AWS STS at {endpoint} within {CONNECT} s: check the network, "
        "proxy or VPN"]


def test_no_credentials_says_how_to_log_in(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    # GIVEN no credentials anywhere (no env, no files, no instance metadata)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(PreflightFailed, match=r"^no AWS credentials found: log in"):
        preflight(ConnectionManager("archway", "eu-west-1"))


@pytest.mark.parametrize(("code", "expected"), [
    ("ExpiredToken", "your AWS credentials have expired (ExpiredToken): log in"),
    ("InvalidClientTokenId", "AWS rejected your credentials (InvalidClientTokenId): log in"),
])
def test_rejected_credentials_are_named(code: str, expected: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    connections = ConnectionManager("archway", "eu-west-1")
    sts = connections.base_session().client("sts", region_name="eu-west-1")
    with Stubber(sts) as stub:
        stub.add_client_error("get_caller_identity", code, "nope", http_status_code=403)
        with pytest.raises(PreflightFailed) as raised:
            preflight(connections, sts)
    assert str(raised.value).startswith(expected)
