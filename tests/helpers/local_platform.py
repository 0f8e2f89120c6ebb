"""A running `archway local` (a real process, as a user starts it) for end-to-end tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from archway.shared.local.launcher import running_local
from archway.shared.local.moto_server import free_port

REPO = Path(__file__).resolve().parents[2]
RATE_LIMIT = 150  # requests per IP per minute in the test platform's WAF rule


@dataclass
class LocalPlatform:
    url: str
    root: Path
    apis: dict[str, str]
    log: Path
    issuer: str  # the local sign-in issuer's URL

    def client(self, source_ip: str = "127.0.0.1") -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=source_ip)
        return httpx.Client(base_url=self.url, transport=transport, timeout=30)


def _copy_repo(root: Path) -> None:
    shutil.copytree(REPO / "config", root / "config")
    shutil.copytree(REPO / "services", root / "services",
                    ignore=shutil.ignore_patterns("__pycache__", "tests"))
    shutil.copytree(REPO / "platform", root / "platform",
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    platform_file = root / "config" / "platform.yaml"
    settings = yaml.safe_load(platform_file.read_text())
    settings["edge"]["waf"]["rate_limit"] = {"requests": RATE_LIMIT, "window_seconds": 60}
    platform_file.write_text(yaml.safe_dump(settings, sort_keys=False))


@pytest.fixture(scope="session")
def local_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    root = tmp_path_factory.mktemp("platform")
    _copy_repo(root)
    port = free_port()
    log = root / "archway-local.log"
    with running_local(root, port, log, args=("--auth-port", str(free_port()))) as state:
        yield LocalPlatform(f"http://127.0.0.1:{port}", root, state["apis"], log,
                            state["issuer"])


def sign_in(issuer: str, site: str, username: str = "alice",
            password: str | None = None) -> dict[str, str]:
    """Tokens of a seeded local user, from the running issuer's code flow over HTTP (what
    the SPA does in a browser): authorize, the login form, the code, the token endpoint."""
    import base64
    import hashlib
    import secrets
    from urllib.parse import parse_qsl, urlsplit

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": _client_id(site), "redirect_uri": f"{site}/",
              "scope": "openid email profile", "state": "test",
              "code_challenge": challenge, "code_challenge_method": "S256"}
    with httpx.Client(base_url=issuer, timeout=30) as http:
        login = http.get("/oauth2/authorize", params=params)
        assert login.status_code == 302, login.text
        form = dict(parse_qsl(urlsplit(login.headers["location"]).query))
        back = http.post("/login", data={**form, "username": username,
                                         "password": password or f"{username}-local-only"})
        assert back.status_code == 302, back.text
        code = dict(parse_qsl(urlsplit(back.headers["location"]).query))["code"]
        tokens = http.post("/oauth2/token", data={
            "grant_type": "authorization_code", "client_id": params["client_id"],
            "code": code, "redirect_uri": params["redirect_uri"], "code_verifier": verifier})
        assert tokens.status_code == 200, tokens.text
        return dict(tokens.json())


def _client_id(site: str) -> str:
    """The SPA's client id, as the SPA learns it: from the site's config.json."""
    return str(httpx.get(f"{site}/config.json", timeout=30).json()["auth"]["clientId"])
