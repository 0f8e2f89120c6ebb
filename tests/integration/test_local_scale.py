"""Ready means ready at scale: when `archway local` says it is running, every route of every
service answers through the edge, with the first request (no warm-up, no retry)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from archway.shared.local.launcher import running_local
from archway.shared.local.moto_server import free_port
from helpers.scale import REPO
from helpers.scale import scale_repo as generated_repo

GENERATED = 10  # one-function services beside the real ones, over several accounts


def scale_repo(root: Path) -> list[str]:
    """This repository's config, platform and services plus GENERATED tiny services."""
    shutil.copytree(REPO / "services", root / "services",
                    ignore=shutil.ignore_patterns("__pycache__", "tests"))
    return generated_repo(root, GENERATED)


def test_every_route_answers_as_soon_as_it_says_ready(tmp_path: Path) -> None:
    # GIVEN a repository of 12 services in several accounts
    names = scale_repo(tmp_path)
    port = free_port()
    # WHEN archway local says it is running
    with running_local(tmp_path, port, tmp_path / "local.log", timeout=180,
                       args=("--auth-port", str(free_port()))) as state, \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        answers = {name: http.get(f"/api/{name}/hello") for name in names}
        search = http.get("/api/catalog/search", params={"q": "c"})
        # THEN each generated service's route answers from its own function at once
        for name, answer in answers.items():
            assert (answer.status_code, answer.json()) == (200, {"service": name}), answer.text
        # and the real services answer from their seeded data
        assert search.status_code == 200 and search.json(), search.text
        assert set(state["apis"]) >= {*names, "catalog", "reviews"}
