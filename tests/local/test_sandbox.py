"""Workers import what Lambda would let them: the code, its vendored requirements, and the
runtime's boto3 and Powertools; never the rest of the host's environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archway.shared.assets import build_zip
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.local.deps import DependencyError, requirements_key, vendored
from archway.shared.local.moto_server import MotoServer
from archway.shared.local.runner import LambdaRunner, LocalFunction
from helpers.wheels import tiny_wheel

REGION = "eu-west-1"
ACCOUNT = "100000000001"
BUCKET = f"assets-{ACCOUNT}"
HANDLER = """\
import importlib, sys


def handler(event, context):
    try:
        importlib.import_module(event["module"])
    except ImportError as exc:
        return {"imported": False, "error": str(exc)}
    return {"imported": True}


def uses_dep(event, context):
    import tinydep
    return {"value": tinydep.VALUE}
"""
HTTPX = "import httpx\n\ndef handler(event, context):\n    return {}\n"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LambdaRunner, Path]]:
    src = tmp_path_factory.mktemp("src")
    (src / "app.py").write_text(HANDLER)
    (src / "needs_httpx.py").write_text(HTTPX)
    service = tmp_path_factory.mktemp("service")
    tiny_wheel(service / "wheels")
    (service / "requirements.txt").write_text("--no-index\n--find-links wheels\ntinydep==1.0\n")
    with MotoServer() as moto:
        connections = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint)
        s3 = connections.client("s3", ACCOUNT, REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket=BUCKET, Key="app.zip", Body=build_zip(src))
        runner = LambdaRunner(connections.client, connections.credentials, moto.endpoint,
                              tmp_path_factory.mktemp("work"))
        yield runner, service
        runner.close()


def fn(name: str, handler: str, requirements: Path | None = None) -> LocalFunction:
    return LocalFunction(name, ACCOUNT, REGION, handler, 256, 10, BUCKET, "app.zip",
                         requirements=str(requirements or ""))


@pytest.mark.parametrize(("module", "importable"), [
    ("boto3", True), ("botocore", True), ("aws_lambda_powertools", True),
    ("aws_lambda_powertools.event_handler", True), ("json", True),
    ("httpx", False), ("yaml", False), ("moto", False), ("archway", False), ("pydantic", False),
])
def test_only_the_runtime_libraries_are_importable(
        setup: tuple[LambdaRunner, Path], module: str, importable: bool) -> None:
    runner, _ = setup
    runner.register(fn("fn-imports", "app.handler"))
    # WHEN a handler imports a module that archway's own environment has installed
    result = runner.invoke("fn-imports", {"module": module})
    # THEN only Lambda's runtime libraries (boto3, Powertools) and the stdlib are there
    assert result.payload["imported"] is importable, result.payload


def test_undeclared_dependency_fails_like_on_lambda(setup: tuple[LambdaRunner, Path]) -> None:
    runner, _ = setup
    runner.register(fn("fn-httpx", "needs_httpx.handler"))
    result = runner.invoke("fn-httpx", {})
    assert result.error == {"errorType": "Runtime.ImportModuleError", "errorMessage":
                            "Unable to import module 'needs_httpx': No module named 'httpx'"}


def test_declared_requirements_are_vendored(setup: tuple[LambdaRunner, Path]) -> None:
    runner, service = setup
    # GIVEN services/<svc>/requirements.txt naming tinydep
    runner.register(fn("fn-dep", "app.uses_dep", service / "requirements.txt"))
    # THEN the handler imports it, and functions without it do not see it
    assert runner.invoke("fn-dep", {}).payload == {"value": 42}
    runner.register(fn("fn-nodep", "app.handler"))
    assert runner.invoke("fn-nodep", {"module": "tinydep"}).payload["imported"] is False


def test_vendored_folder_is_cached_by_requirements_hash(tmp_path: Path) -> None:
    tiny_wheel(tmp_path / "wheels")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--no-index\n--find-links wheels\ntinydep==1.0\n")
    first = vendored(requirements, tmp_path / "work")
    assert first is not None and (first / "tinydep" / "__init__.py").exists()
    # WHEN asked again for the same file THEN the same folder, without running pip again
    (first / "marker").write_text("kept")
    assert vendored(requirements, tmp_path / "work") == first
    assert (first / "marker").exists()
    # WHEN the file changes THEN a new folder under a new key
    before = requirements_key(requirements)
    requirements.write_text("--no-index\n--find-links wheels\ntinydep>=1.0\n")
    assert requirements_key(requirements) != before
    assert vendored(requirements, tmp_path / "work") != first
    assert vendored(tmp_path / "absent.txt", tmp_path / "work") is None


def test_unavailable_requirement_is_one_clear_error(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--no-index\nno-such-package-anywhere==1.0\n")
    with pytest.raises(DependencyError, match=r"requirements.txt: pip install failed: "):
        vendored(requirements, tmp_path / "work")
    assert not (tmp_path / "work" / "deps" / requirements_key(requirements)).exists()


def test_changed_requirements_retire_the_workers(setup: tuple[LambdaRunner, Path],
                                                 tmp_path: Path) -> None:
    runner, _ = setup
    # GIVEN a function whose service has no requirements.txt yet: tinydep is not there
    tiny_wheel(tmp_path / "wheels")
    requirements = tmp_path / "requirements.txt"
    function = fn("fn-later", "app.uses_dep", requirements)
    runner.register(function)
    assert runner.invoke("fn-later", {}).error["errorMessage"] == "No module named 'tinydep'"
    # WHEN the service declares it (same code, same settings)
    requirements.write_text("--no-index\n--find-links wheels\ntinydep==1.0\n")
    # THEN registering again starts new workers that have it
    assert runner.register(function) is True
    assert runner.invoke("fn-later", {}).payload == {"value": 42}
