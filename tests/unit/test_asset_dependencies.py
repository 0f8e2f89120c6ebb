"""services/<svc>/requirements.txt in the real Lambda asset: installed for each function's
architecture and Python version (binary wheels only), deterministic, cached, size-checked.
Offline: pip reads PIP_NO_INDEX / PIP_FIND_LINKS and finds wheels built here."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from archway.shared import assets
from archway.shared.assets import Dependencies, DependencyError, package
from archway.shared.cli import main
from archway.shared.commands import load_platform
from archway.shared.synth import synth
from helpers.wheels import platform_wheel

ARM = "cp312-cp312-manylinux2014_aarch64"
X86 = "cp312-cp312-manylinux2014_x86_64"


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "wheels"
    platform_wheel(folder, ARM, "arm")
    platform_wheel(folder, X86, "x86")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


def _built(root: Path, asset_id: str) -> bytes:
    manifest = json.loads((root / "build" / "dev" / "manifest.json").read_text())
    entry = manifest["assets"][asset_id]
    return package(root, entry["path"], Dependencies(**entry["dependencies"]))


def _mixed_architectures(root: Path) -> None:
    path = root / "services" / "catalog" / "service.yaml"
    config = yaml.safe_load(path.read_text())
    config["functions"]["products"]["architecture"] = "x86_64"
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def test_requirements_are_packaged_per_architecture(repo_copy: Path, wheels: Path) -> None:
    # GIVEN catalog declares tinydep and runs search on arm64, products on x86_64
    (repo_copy / "services" / "catalog" / "requirements.txt").write_text("tinydep==1.0\n")
    _mixed_architectures(repo_copy)
    # WHEN the dev environment is synthesized
    result = synth(load_platform(repo_copy, "dev"))
    manifest = result.manifest
    template = json.loads((result.out_dir / "svc-catalog.json").read_text())
    # THEN each function's code is the asset built for its architecture and Python
    deps = {k: v.get("dependencies") for k, v in manifest["assets"].items()}
    assert deps["catalog-arm64"] == {"requirements": "services/catalog/requirements.txt",
                                     "architecture": "arm64", "python": "3.12"}
    assert deps["catalog-x86_64"]["architecture"] == "x86_64"
    keys = {r["Properties"]["FunctionName"]: r["Properties"]["Code"]["S3Key"]
            for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"}
    assert keys["archway-dev-catalog-search"] == manifest["assets"]["catalog-arm64"]["key"]
    assert keys["archway-dev-catalog-products"] == manifest["assets"]["catalog-x86_64"]["key"]
    # AND the zip holds the handlers and the wheel of that platform at its root
    for asset_id, value in (("catalog-arm64", "arm"), ("catalog-x86_64", "x86")):
        with zipfile.ZipFile(io.BytesIO(_built(repo_copy, asset_id))) as archive:
            names = archive.namelist()
            assert "search.py" in names and "tinydep/__init__.py" in names
            assert archive.read("tinydep/__init__.py").decode() == f"VALUE = {value!r}\n"
            # AND no console script (its shebang would name this machine's Python), nor its
            # hash in RECORD: every entry RECORD lists is a file of the package
            assert not any(n.startswith("bin/") for n in names)
            record = archive.read("tinydep-1.0.dist-info/RECORD").decode().splitlines()
            assert {line.split(",")[0] for line in record} <= set(names)
            assert names == sorted(names)
            assert {i.date_time for i in archive.infolist()} == {assets.FIXED_TIME}
    # AND services without requirements keep their code-only asset
    assert "dependencies" not in manifest["assets"]["reviews"]


def test_same_inputs_same_hash_and_the_install_is_cached(repo_copy: Path, wheels: Path) -> None:
    # GIVEN a service with requirements, synthesized once
    requirements = repo_copy / "services" / "catalog" / "requirements.txt"
    requirements.write_text("tinydep==1.0\n")
    first = synth(load_platform(repo_copy, "dev")).manifest["assets"]["catalog-arm64"]
    # WHEN it is synthesized again with no wheel reachable any more
    shutil.rmtree(wheels)
    again = synth(load_platform(repo_copy, "dev")).manifest["assets"]["catalog-arm64"]
    # THEN the cached install gives the same bytes, so the same hash and key
    assert again["sha256"] == first["sha256"]
    # AND a fresh install from the same wheels gives the same hash too
    shutil.rmtree(repo_copy / "build" / ".cache")
    platform_wheel(wheels, ARM, "arm")
    assert synth(load_platform(repo_copy, "dev")).manifest["assets"]["catalog-arm64"][
        "sha256"] == first["sha256"]
    # AND a changed requirements file is not served from that cache: it is a new install
    # (which fails here, no wheel being reachable any more)
    shutil.rmtree(wheels)
    requirements.write_text("tinydep==1.0\n# pinned\n")
    with pytest.raises(DependencyError, match="requirements.txt: pip install for "):
        synth(load_platform(repo_copy, "dev"))


def test_no_requirements_no_pip(repo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN pip would fail the test if it ran
    def refuse(*_args: object) -> Path:
        raise AssertionError("pip ran on the synth path of a service without requirements")

    monkeypatch.setattr(assets, "install_dependencies", refuse)
    # WHEN environments are synthesized (local: the local cloud installs for the host)
    (repo_copy / "services" / "reviews" / "requirements.txt").write_text("tinydep==1.0\n")
    synth(load_platform(repo_copy, "local"))
    (repo_copy / "services" / "reviews" / "requirements.txt").unlink()
    manifest = synth(load_platform(repo_copy, "dev")).manifest
    # THEN nothing was installed and every asset is code only
    assert all("dependencies" not in a for a in manifest["assets"].values())


def test_source_only_package_is_one_clear_error(repo_copy: Path, wheels: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a requirement that exists only for another platform (nothing for aarch64/cp312)
    for wheel in wheels.glob(f"*{ARM}.whl"):
        wheel.unlink()
    (repo_copy / "services" / "catalog" / "requirements.txt").write_text("tinydep==1.0\n")
    # WHEN synthesized from the CLI
    code = main(["synth", "--env", "dev", "--root", str(repo_copy)])
    # THEN one line naming the file, the platform and pip's reason, exit 2, nothing written
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith("error: services/catalog/requirements.txt: pip install for "
                          "manylinux2014_aarch64 Python 3.12 (binary wheels only) failed: ")
    assert not (repo_copy / "build" / "dev" / "manifest.json").exists()


def test_over_lambdas_unzipped_quota_is_one_clear_error(
        repo_copy: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a quota just under what catalog's code and a large tinydep unzip to (larger than
    # any other service's code, which is checked too)
    platform_wheel(wheels, ARM, "x" * 100_000)
    (repo_copy / "services" / "catalog" / "requirements.txt").write_text("tinydep==1.0\n")
    size = assets.unzipped_size(package(repo_copy, "services/catalog/src", Dependencies(
        "services/catalog/requirements.txt", "arm64", "3.12")))
    monkeypatch.setattr(assets, "MAX_UNZIPPED_BYTES", size - 1)
    # WHEN synthesized
    code = main(["synth", "--env", "dev", "--root", str(repo_copy)])
    # THEN exit 2, one line naming the file and both numbers
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err == (f"error: services/catalog/requirements.txt: the function package "
                   f"(services/catalog/src and its dependencies) is {size:,} bytes unzipped, "
                   f"over Lambda's {size - 1:,} bytes (250 MB, layers included; zipped: "
                   f"{err.split('zipped: ')[1].split(' bytes')[0]} bytes): drop dependencies "
                   "or move them to a layer")
    # AND at exactly that size it passes
    monkeypatch.setattr(assets, "MAX_UNZIPPED_BYTES", size)
    assert main(["synth", "--env", "dev", "--root", str(repo_copy)]) == 0


def test_the_deploy_rebuilds_the_same_bytes_from_the_manifest(repo_copy: Path,
                                                              wheels: Path) -> None:
    # GIVEN a synthesized service with requirements
    (repo_copy / "services" / "catalog" / "requirements.txt").write_text("tinydep==1.0\n")
    manifest = synth(load_platform(repo_copy, "dev")).manifest
    # WHEN the deploy rebuilds its asset from the manifest entry (as upload_asset does)
    entry = manifest["assets"]["catalog-arm64"]
    # THEN it is the synthesized asset, byte for byte
    assert assets.sha256(_built(repo_copy, "catalog-arm64")) == entry["sha256"]
