"""Editing a handler while `archway local` runs redeploys its service: the next request
runs the new code (new asset, new workers), with no restart."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from helpers.local_platform import LocalPlatform
from helpers.wheels import tiny_wheel

pytestmark = pytest.mark.integration


def test_changed_handler_is_redeployed_and_served(local_platform: LocalPlatform) -> None:
    handler = local_platform.root / "services" / "catalog" / "src" / "products.py"
    source = handler.read_text()
    assert 'headers={"Cache-Control": cache_control("GET", TEMPLATE)}' in source
    # WHEN a developer adds a response header to the product handler
    handler.write_text(source.replace(
        'headers={"Cache-Control": cache_control("GET", TEMPLATE)}',
        'headers={"Cache-Control": cache_control("GET", TEMPLATE), "X-Catalog-Build": "2"}'))
    # THEN within a few seconds the edge serves the new code
    deadline = time.monotonic() + 30
    with local_platform.client() as http:
        while True:
            response = http.get("/api/catalog/products/p-1001")
            if response.headers.get("x-catalog-build") == "2":
                break
            assert time.monotonic() < deadline, local_platform.log.read_text()[-2000:]
            time.sleep(0.5)
    assert response.json()["name"] == "Crème Brûlée Torch"
    assert "catalog: changed, redeploying" in local_platform.log.read_text()


def _wait_for(local_platform: LocalPlatform, check: Callable[[httpx.Client], bool],
              what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with local_platform.client() as http:
        while not check(http):
            assert time.monotonic() < deadline, (
                f"{what} not seen:\n{local_platform.log.read_text()[-3000:]}")
            time.sleep(0.5)


def _product_status(http: httpx.Client) -> int:
    # a new product id each time: nothing cached at the edge answers for the origin
    return http.get(f"/api/catalog/products/p-{uuid.uuid4().hex[:8]}").status_code


def test_syntax_error_in_a_handler_never_stops_the_cloud(local_platform: LocalPlatform) -> None:
    handler = local_platform.root / "services" / "catalog" / "src" / "products.py"
    source = handler.read_text()
    try:
        # WHEN a developer saves a handler with a syntax error (line 2 of the file)
        lines = source.splitlines(keepends=True)
        handler.write_text(lines[0] + "def broken(:\n" + "".join(lines[1:]))
        # THEN its routes answer API Gateway's 502 once the redeploy is mounted
        _wait_for(local_platform, lambda http: _product_status(http) == 502, "502")
        with local_platform.client() as http:
            response = http.get("/api/catalog/products/p-does-not-matter")
            assert response.json() == {"message": "Internal server error"}
            # AND every other service keeps serving
            views = f"/api/reviews/products/p-{uuid.uuid4().hex[:8]}/views"
            assert http.post(views).status_code == 200
        # AND the console names the file and line under services/<svc>/src
        log = local_platform.log.read_text()
        assert "services/catalog/src/products.py:2: Runtime.UserCodeSyntaxError: " in log
        # AND the failing invoke is on the console under its service and function
        assert "  [catalog/products] init error: services/catalog/src/products.py:2: " in log
        # AND the redeploy listed what changed, as an AWS deploy does: the function's code
        assert any(row.split()[:2] == ["~", "svc-catalog"] and
                   "Code.S3Key: assets/catalog/" in row for row in log.splitlines()), log
        # WHEN the file parses but imports a module that is nowhere, and the service is
        # deployed into the running cloud (config checks parse handlers, they never import)
        future = "from __future__ import annotations\n"
        handler.write_text(source.replace(future, future + "import no_such_module_xyz\n"))
        proc = subprocess.run(
            [sys.executable, "-m", "archway.shared.cli", "deploy", "service", "catalog",
             "--root", str(local_platform.root)],
            capture_output=True, text=True, timeout=120, cwd=local_platform.root)
        # THEN the deploy goes through, as on AWS, and names the file and line that fail
        assert proc.returncode == 0, proc.stdout + proc.stderr
        line = source.splitlines().index(future.strip()) + 2
        assert ("archway-local-catalog-products cannot load its handler (products.handler): "
                f"services/catalog/src/products.py:{line}: Runtime.ImportModuleError: Unable to "
                "import module 'products': No module named 'no_such_module_xyz'") in proc.stdout
    finally:
        handler.write_text(source)
    # THEN fixing the file recovers
    _wait_for(local_platform, lambda http: _product_status(http) == 404, "recovery")


def test_service_yaml_typo_is_reported_and_the_last_good_state_serves(
        local_platform: LocalPlatform) -> None:
    config = local_platform.root / "services" / "catalog" / "service.yaml"
    source = config.read_text()
    assert "    memory: 256\n" in source
    try:
        # WHEN service.yaml gets a bad value while the cloud runs
        config.write_text(source.replace("    memory: 256\n", "    memory: lots\n", 1))
        # THEN the error names the file and key, and the cloud keeps serving the last deploy
        deadline = time.monotonic() + 30
        while "still serving the last good state" not in local_platform.log.read_text():
            assert time.monotonic() < deadline, local_platform.log.read_text()[-3000:]
            time.sleep(0.5)
        assert "services/catalog/service.yaml: functions.search.memory" in (
            local_platform.log.read_text())
        with local_platform.client() as http:
            assert http.get("/api/catalog/search", params={"q": "typo"}).status_code == 200
    finally:
        config.write_text(source)


def test_table_key_change_is_refused_like_cloudformation(local_platform: LocalPlatform) -> None:
    config = local_platform.root / "services" / "catalog" / "service.yaml"
    source = config.read_text()
    assert "    partition_key: {name: pk, type: S}\n" in source
    try:
        # WHEN a team changes the products table's partition key and deploys
        config.write_text(source.replace("    partition_key: {name: pk, type: S}\n",
                                         "    partition_key: {name: id, type: S}\n", 1))
        proc = subprocess.run(
            [sys.executable, "-m", "archway.shared.cli", "deploy", "service", "catalog",
             "--root", str(local_platform.root)],
            capture_output=True, text=True, timeout=120, cwd=local_platform.root)
        # THEN the deploy fails with CloudFormation's refusal, naming the table
        output = proc.stdout + proc.stderr
        assert proc.returncode != 0, output
        assert ("CloudFormation cannot update a stack when a custom-named resource requires "
                "replacing. Rename archway-local-catalog-products") in output
        # AND the old table still serves the catalog
        with local_platform.client() as http:
            response = http.get("/api/catalog/search", params={"q": "CR"})
            assert [r["name"] for r in response.json()["results"]] == [
                "Crème Brûlée Torch", "Crystal Water Carafe"]
    finally:
        config.write_text(source)


def test_requirements_txt_gives_a_service_its_dependencies(
        local_platform: LocalPlatform) -> None:
    service = local_platform.root / "services" / "catalog"
    handler = service / "src" / "products.py"
    requirements = service / "requirements.txt"
    source = handler.read_text()
    future = "from __future__ import annotations\n"
    assert source.count(future) == 1
    tiny_wheel(service / "wheels")
    try:
        # WHEN a handler imports a package its service does not declare
        handler.write_text(source.replace(future, future + "import tinydep\n"))
        # THEN it fails as on Lambda (the host's environment is not importable either)
        _wait_for(local_platform, lambda http: _product_status(http) == 502, "502")
        assert "Unable to import module 'products': No module named 'tinydep'" in (
            local_platform.log.read_text())
        # WHEN the service declares it in requirements.txt THEN it is installed and served
        requirements.write_text("--no-index\n--find-links wheels\ntinydep==1.0\n")
        _wait_for(local_platform, lambda http: _product_status(http) == 404,
                  "the handler importing its vendored dependency", timeout=60)
    finally:
        handler.write_text(source)
        requirements.unlink(missing_ok=True)
    _wait_for(local_platform, lambda http: _product_status(http) == 404, "recovery")
