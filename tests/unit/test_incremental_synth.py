"""Incremental synth: nothing is rendered when an environment's inputs and outputs are as
the last synth left them, only the stacks packaging a changed service folder when only
that changed, everything otherwise; and after every kind of change the files on disk are
exactly what a full render gives (no stale template survives)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from archway.shared import incremental
from archway.shared.cli import main
from archway.shared.commands import render_env
from helpers.wheels import platform_wheel

ENV = "local"  # no bootstrap stacks: the fastest environment to render
ARM = "cp312-cp312-manylinux2014_aarch64"


def synth(root: Path, capsys: pytest.CaptureFixture[str], *extra: str,
          env: str = ENV) -> tuple[int, str, str]:
    """Exit code, the summary line and stderr of ``archway synth``."""
    code = main(["synth", "--env", env, "--root", str(root), *extra])
    out, err = capsys.readouterr()
    return code, (out.splitlines() or [""])[0], err


def on_disk(root: Path, env: str = ENV) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8")
            for p in (root / "build" / env).glob("*.json") if not p.name.startswith(".")}


def assert_fresh(root: Path, env: str = ENV) -> None:
    """build/<env> holds exactly what a full render of the current inputs gives."""
    assert on_disk(root, env) == render_env(root, env).files


def template(root: Path, stack: str, env: str = ENV) -> dict[str, Any]:
    return json.loads((root / "build" / env / f"{stack}.json").read_text(encoding="utf-8"))


def functions(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["FunctionName"]: r["Properties"]
            for r in body["Resources"].values() if r["Type"] == "AWS::Lambda::Function"}


def edit_yaml(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@pytest.fixture
def synthesized(repo_copy: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A repository synthesized once (the state recorded)."""
    code, line, err = synth(repo_copy, capsys)
    assert code == 0, err
    assert "rendered all" in line
    return repo_copy


def test_unchanged_inputs_render_nothing_and_force_renders_all(
        synthesized: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an environment synthesized once
    before = {p.name: p.stat().st_mtime_ns for p in (synthesized / "build" / ENV).glob("*")}
    # WHEN it is synthesized again with nothing changed
    code, line, _ = synth(synthesized, capsys)
    # THEN nothing is rendered or written, and the summary says so
    assert code == 0
    assert "inputs unchanged: nothing rendered" in line
    assert {p.name: p.stat().st_mtime_ns
            for p in (synthesized / "build" / ENV).glob("*")} == before
    # WHEN --force is given
    code, line, _ = synth(synthesized, capsys, "--force")
    # THEN every stack is rendered, to the same bytes
    assert code == 0 and "rendered all" in line
    assert_fresh(synthesized)


def test_a_changed_handler_renders_only_its_stack_as_a_full_render_would(
        synthesized: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN catalog's search code as packaged
    old = functions(template(synthesized, "svc-catalog"))["archway-local-catalog-search"]
    reviews = (synthesized / "build" / ENV / "svc-reviews.json").stat().st_mtime_ns
    # WHEN its handler source changes
    handler = synthesized / "services" / "catalog" / "src" / "search.py"
    handler.write_text(handler.read_text() + "\nCHANGED = True\n")
    code, line, _ = synth(synthesized, capsys)
    # THEN only catalog's stack is rendered again, its function pointing at the new code,
    # without a render (the new code's digest put in the last outputs)
    assert code == 0
    assert "rendered 1 of " in line and line.endswith("(new code only): svc-catalog)")
    new = functions(template(synthesized, "svc-catalog"))["archway-local-catalog-search"]
    assert new["Code"]["S3Key"] != old["Code"]["S3Key"]
    manifest = json.loads((synthesized / "build" / ENV / "manifest.json").read_text())
    assert new["Code"]["S3Key"] == manifest["assets"]["catalog"]["key"]
    assert (synthesized / "build" / ENV / "svc-reviews.json").stat().st_mtime_ns == reviews
    # AND every file is what a full render of the new inputs gives
    assert_fresh(synthesized)
    # AND the next synth has nothing to do
    assert "nothing rendered" in synth(synthesized, capsys)[1]


def test_a_service_test_file_is_no_input(synthesized: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a service's tests folder (never packaged, never read by a template)
    tests = synthesized / "services" / "catalog" / "tests"
    tests.mkdir(exist_ok=True)
    (tests / "test_new.py").write_text("def test_x() -> None:\n    pass\n")
    # WHEN synthesized again
    code, line, _ = synth(synthesized, capsys)
    # THEN nothing is rendered
    assert code == 0 and "nothing rendered" in line


def test_a_changed_config_key_renders_all(synthesized: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN log groups kept 1 day in the local environment
    # WHEN local.yaml keeps them 30 days
    edit_yaml(synthesized / "config" / "environments" / f"{ENV}.yaml",
              lambda d: d.update(log_retention_days=30))
    code, line, _ = synth(synthesized, capsys)
    # THEN everything is rendered and every log group says 30 days
    assert code == 0 and "rendered all" in line
    days = {r["Properties"]["RetentionInDays"]
            for stack in ("svc-catalog", "svc-reviews")
            for r in template(synthesized, stack)["Resources"].values()
            if r["Type"] == "AWS::Logs::LogGroup"}
    assert days == {30}
    assert_fresh(synthesized)


def test_a_changed_service_definition_renders_its_stack_and_the_platforms(
        synthesized: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN reviews' stack as written
    reviews = (synthesized / "build" / ENV / "svc-reviews.json").stat().st_mtime_ns
    # WHEN catalog's search function gets 512 MB in service.yaml
    edit_yaml(synthesized / "services" / "catalog" / "service.yaml",
              lambda d: d["functions"]["search"].update(memory=512))
    code, line, _ = synth(synthesized, capsys)
    # THEN catalog's stack and the platform's own (they read every service's routes) are
    # rendered, reviews' kept; the template says 512 MB, and build/ is a full render
    assert code == 0
    assert line.endswith(": auth, edge, edge-global, svc-catalog)"), line
    search = functions(template(synthesized, "svc-catalog"))["archway-local-catalog-search"]
    assert search["MemorySize"] == 512
    assert (synthesized / "build" / ENV / "svc-reviews.json").stat().st_mtime_ns == reviews
    assert_fresh(synthesized)
    # AND the next synth has nothing to do
    assert "inputs unchanged" in synth(synthesized, capsys)[1]


def test_a_new_route_reaches_the_edge_and_the_bootstrap(
        repo_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN dev (bootstrap stacks, an auth stack) synthesized once
    assert synth(repo_copy, capsys, env="dev")[0] == 0
    # WHEN catalog gets a new route in service.yaml
    edit_yaml(repo_copy / "services" / "catalog" / "service.yaml",
              lambda d: d["routes"].append({"method": "GET", "path": "/api/catalog/extra",
                                            "function": "search"}))
    code, line, _ = synth(repo_copy, capsys, env="dev")
    # THEN catalog's stack and every platform stack are rendered, reviews' kept, and
    # build/dev is exactly a full render
    assert code == 0 and "rendered all" not in line
    assert "svc-catalog" in line and "svc-reviews" not in line and "edge" in line
    assert_fresh(repo_copy, "dev")


def test_a_service_moved_to_another_account_renders_all(
        repo_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN dev synthesized once
    assert synth(repo_copy, capsys, env="dev")[0] == 0
    # WHEN catalog moves to a new dev account (a new bootstrap stack)
    edit_yaml(repo_copy / "services" / "catalog" / "service.yaml",
              lambda d: d["accounts"].update(dev="219999999999"))
    code, line, _ = synth(repo_copy, capsys, env="dev")
    # THEN everything is rendered: the stacks are not those of the last synth
    assert code == 0 and "rendered all" in line
    manifest = json.loads((repo_copy / "build" / "dev" / "manifest.json").read_text())
    assert "bootstrap-219999999999-eu-west-1" in {s["id"] for s in manifest["stacks"]}
    assert_fresh(repo_copy, "dev")


def test_changed_requirements_repackage_the_service(
        repo_copy: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN dev (where requirements are packaged) synthesized with catalog needing tinydep,
    # pip finding wheels only in a local folder
    wheels = tmp_path / "wheels"
    platform_wheel(wheels, ARM, "one")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    requirements = repo_copy / "services" / "catalog" / "requirements.txt"
    requirements.write_text("tinydep==1.0\n")
    assert synth(repo_copy, capsys, env="dev")[0] == 0
    old = json.loads((repo_copy / "build" / "dev" / "manifest.json").read_text())["assets"]
    # WHEN the requirements change (another install key) and the wheel pip finds now is
    # another build of tinydep
    requirements.write_text("tinydep==1.0  # pinned\n")
    shutil.rmtree(wheels)
    platform_wheel(wheels, ARM, "two")
    code, line, _ = synth(repo_copy, capsys, env="dev")
    # THEN catalog's stack alone is rendered (a full render of it: the requirements are
    # no code), with the new asset's key
    assert code == 0 and "rendered 1 of " in line and line.endswith(": svc-catalog)")
    assert "new code only" not in line
    new = json.loads((repo_copy / "build" / "dev" / "manifest.json").read_text())["assets"]
    assert new["catalog-arm64"]["key"] != old["catalog-arm64"]["key"]
    search = functions(template(repo_copy, "svc-catalog", "dev"))["archway-dev-catalog-search"]
    assert search["Code"]["S3Key"] == new["catalog-arm64"]["key"]
    assert_fresh(repo_copy, "dev")
    # WHEN the cached install is deleted (a new install may pick other versions) and the
    # wheel found now is yet another build of tinydep
    shutil.rmtree(repo_copy / "build" / ".cache" / "deps")
    shutil.rmtree(wheels)
    platform_wheel(wheels, ARM, "three")
    code, line, _ = synth(repo_copy, capsys, env="dev")
    # THEN catalog is packaged again, from the new install
    assert code == 0 and "rendered 1 of " in line and line.endswith(": svc-catalog)")
    again = json.loads((repo_copy / "build" / "dev" / "manifest.json").read_text())["assets"]
    assert again["catalog-arm64"]["sha256"] != new["catalog-arm64"]["sha256"]
    assert_fresh(repo_copy, "dev")
    # WHEN only its handler changes (the install cached)
    append(repo_copy / "services" / "catalog" / "src" / "search.py", "\n# changed\n")
    code, line, _ = synth(repo_copy, capsys, env="dev")
    # THEN the code and the cached install are packaged again, without a render
    assert code == 0 and line.endswith("(new code only): svc-catalog)")
    last = json.loads((repo_copy / "build" / "dev" / "manifest.json").read_text())["assets"]
    assert last["catalog-arm64"]["sha256"] != again["catalog-arm64"]["sha256"]
    assert_fresh(repo_copy, "dev")


@pytest.mark.parametrize("damage", ["edit", "delete", "extra"])
def test_damaged_outputs_are_rendered_again(synthesized: Path, damage: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a build folder whose template was edited by hand, deleted, or joined by a stray
    out = synthesized / "build" / ENV
    if damage == "edit":
        (out / "svc-reviews.json").write_text("{}\n")
    elif damage == "delete":
        (out / "svc-reviews.json").unlink()
    else:
        (out / "svc-old.json").write_text("{}\n")
    # WHEN synthesized with unchanged inputs
    code, line, _ = synth(synthesized, capsys)
    # THEN everything is rendered and build/ is exactly a full render again
    assert code == 0 and "rendered all" in line
    assert_fresh(synthesized)


def test_new_archway_code_renders_all(synthesized: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN Archway's code changed (another fingerprint of its installed files) and that
    # code tags every service resource differently
    import archway.services.blueprint as blueprint

    monkeypatch.setattr(incremental, "_code_digest", lambda: "another version")
    original = blueprint.tags
    monkeypatch.setattr(blueprint, "tags",
                        lambda *a, **k: original(*a, **k, **{"archway:generation": "2"}))
    # WHEN synthesized
    code, line, _ = synth(synthesized, capsys)
    # THEN everything is rendered with the new code
    assert code == 0 and "rendered all" in line
    search = functions(template(synthesized, "svc-catalog"))["archway-local-catalog-search"]
    assert {"Key": "archway:generation", "Value": "2"} in search["Tags"]


def test_archway_code_fingerprint_follows_its_files(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a package among those fingerprinted as Archway's code
    package = tmp_path / "fakepkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "mod.py").write_text("A = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(incremental, "PACKAGES", ("fakepkg",))
    before = incremental._code_digest()
    # WHEN a module of a subpackage changes
    (package / "sub" / "mod.py").write_text("A = 22\n")
    # THEN the fingerprint changes
    assert incremental._code_digest() != before


def test_other_python_or_archway_variables_render_all(
        synthesized: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # WHEN an ARCHWAY_ variable is set
    monkeypatch.setenv("ARCHWAY_SOMETHING", "1")
    # THEN everything is rendered (then nothing)
    assert "rendered all" in synth(synthesized, capsys)[1]
    assert "nothing rendered" in synth(synthesized, capsys)[1]
    # WHEN the interpreter is another Python
    monkeypatch.setattr(sys, "version", sys.version + " (another build)")
    # THEN everything is rendered
    assert "rendered all" in synth(synthesized, capsys)[1]
    assert_fresh(synthesized)


def test_bad_config_after_a_good_synth_is_one_line_and_writes_nothing(
        synthesized: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an environment synthesized once
    before = on_disk(synthesized)
    state = (synthesized / "build" / ENV / incremental.STATE_FILE).read_bytes()
    # WHEN a function's memory is out of range
    edit_yaml(synthesized / "services" / "catalog" / "service.yaml",
              lambda d: d["functions"]["search"].update(memory=64))
    code, line, err = synth(synthesized, capsys)
    # THEN exit 2, one line naming file, key and value; nothing written
    assert code == 2
    assert err.strip() == ("error: services/catalog/service.yaml: functions.search.memory: "
                           "must be between 128 and 10240 (got 64)")
    assert on_disk(synthesized) == before
    assert (synthesized / "build" / ENV / incremental.STATE_FILE).read_bytes() == state
    # AND it stays an error on the next run (a failed synth records nothing)
    assert synth(synthesized, capsys)[0] == 2


def test_a_broken_handler_is_still_a_config_error(synthesized: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN only handler code changes (no config file): the config is still checked
    handler = synthesized / "services" / "catalog" / "src" / "search.py"
    handler.write_text(handler.read_text().replace("def handler(", "def renamed("))
    # WHEN synthesized
    code, _, err = synth(synthesized, capsys)
    # THEN the handler check names the file, key and value, exit 2
    assert code == 2
    assert err.startswith("error: services/catalog/service.yaml: functions.search.handler: ")
    assert len(err.strip().splitlines()) == 1
    assert "'search.handler'" in err


@pytest.mark.parametrize("name", ["build/data.txt", "node_modules/x/index.js", "data.csv"])
def test_any_packaged_file_is_an_input(synthesized: Path, name: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a file packaged with catalog's code, in a folder a cache might skip
    old = functions(template(synthesized, "svc-catalog"))["archway-local-catalog-search"]
    path = synthesized / "services" / "catalog" / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("new\n")
    # WHEN synthesized
    code, line, _ = synth(synthesized, capsys)
    # THEN catalog's code asset changed, as a full render says
    assert code == 0 and "rendered 1 of " in line and line.endswith(": svc-catalog)")
    new = functions(template(synthesized, "svc-catalog"))["archway-local-catalog-search"]
    assert new["Code"]["S3Key"] != old["Code"]["S3Key"]
    assert_fresh(synthesized)


def test_every_environment_at_once(synthesized: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN every environment (and the pipelines) synthesized once
    code = main(["synth", "--env", "all", "--root", str(synthesized)])
    first = [line for line in capsys.readouterr().out.splitlines() if "templates" in line]
    assert code == 0 and len(first) == 4  # dev, local, prod, tooling
    # WHEN synthesized again with nothing changed
    code = main(["synth", "--env", "all", "--root", str(synthesized)])
    again = [line for line in capsys.readouterr().out.splitlines() if "templates" in line]
    # THEN no environment renders anything
    assert code == 0 and len(again) == 4
    assert all("nothing rendered" in line for line in again)
    # WHEN one handler changes
    handler = synthesized / "services" / "reviews" / "src" / "reviews.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    code = main(["synth", "--env", "all", "--root", str(synthesized)])
    lines = [line for line in capsys.readouterr().out.splitlines() if "templates" in line]
    # THEN each environment renders reviews' stack alone; the pipelines all (they read
    # every environment); every environment is exactly a full render
    assert code == 0
    for line in lines:
        env = line.split(":", 1)[0]
        expected = "rendered all" if env == "tooling" else "svc-reviews)"
        assert line.endswith(expected) or expected in line, line
    for env in ("dev", "local", "prod", "tooling"):
        assert_fresh(synthesized, env)


def test_code_no_stack_packages_is_validated_and_renders_nothing(
        synthesized: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a folder in services/ that is no service (no service.yaml), synthesized with it
    notes = synthesized / "services" / "notes"
    notes.mkdir()
    (notes / "README.txt").write_text("ideas\n")
    assert "rendered all" in synth(synthesized, capsys)[1]
    # WHEN a file in it changes
    (notes / "README.txt").write_text("more ideas\n")
    code, line, _ = synth(synthesized, capsys)
    # THEN the config is checked again, nothing rendered, and the summary says why
    assert code == 0
    assert line.endswith("(changed code packaged by no stack here: validated, nothing rendered)")
    assert_fresh(synthesized)
    assert "inputs unchanged" in synth(synthesized, capsys)[1]


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_a_file_added_then_deleted_is_new_code_only(
        synthesized: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN catalog's code as packaged
    first = functions(template(synthesized, "svc-catalog"))["archway-local-catalog-search"]
    helper = synthesized / "services" / "catalog" / "src" / "helper.py"
    # WHEN a module is added to its src/
    helper.write_text("VALUE = 1\n")
    code, line, _ = synth(synthesized, capsys)
    # THEN its stack gets the new code's key without a render, as a full render would
    assert code == 0 and line.endswith("(new code only): svc-catalog)")
    added = functions(template(synthesized, "svc-catalog"))["archway-local-catalog-search"]
    assert added["Code"]["S3Key"] != first["Code"]["S3Key"]
    assert_fresh(synthesized)
    # WHEN the module is deleted again
    helper.unlink()
    code, line, _ = synth(synthesized, capsys)
    # THEN the code is the first one again, byte for byte
    assert code == 0 and line.endswith("(new code only): svc-catalog)")
    again = functions(template(synthesized, "svc-catalog"))["archway-local-catalog-search"]
    assert again["Code"]["S3Key"] == first["Code"]["S3Key"]
    assert_fresh(synthesized)


def test_two_services_changed_at_once(synthesized: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN both catalog's and reviews' handlers change
    append(synthesized / "services" / "catalog" / "src" / "search.py", "\n# one\n")
    append(synthesized / "services" / "reviews" / "src" / "reviews.py", "\n# two\n")
    code, line, _ = synth(synthesized, capsys)
    # THEN both stacks get their new code without a render, as a full render would
    assert code == 0
    assert line.endswith("(new code only): svc-catalog, svc-reviews)")
    manifest = json.loads((synthesized / "build" / ENV / "manifest.json").read_text())
    for service in ("catalog", "reviews"):
        keys = {fn["Code"]["S3Key"]
                for fn in functions(template(synthesized, f"svc-{service}")).values()}
        assert keys == {manifest["assets"][service]["key"]}
    assert_fresh(synthesized)
    # AND the next synth has nothing to do
    assert "inputs unchanged" in synth(synthesized, capsys)[1]


def test_code_and_service_definition_changed_together_render_its_stack(
        synthesized: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN catalog's handler and its service.yaml change together
    append(synthesized / "services" / "catalog" / "src" / "search.py", "\n# changed\n")
    edit_yaml(synthesized / "services" / "catalog" / "service.yaml",
              lambda d: d["functions"]["search"].update(memory=1024))
    code, line, _ = synth(synthesized, capsys)
    # THEN its stack is rendered (not only new code put in): the new memory and code
    assert code == 0 and "new code only" not in line
    assert line.endswith(": auth, edge, edge-global, svc-catalog)"), line
    search = functions(template(synthesized, "svc-catalog"))["archway-local-catalog-search"]
    assert search["MemorySize"] == 1024
    assert_fresh(synthesized)


def test_a_file_outside_src_is_no_new_code_only(synthesized: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN a file of catalog's folder outside src/ (its seed data) changes
    seed = next((synthesized / "services" / "catalog" / "seed").iterdir())
    append(seed, "\n")
    code, line, _ = synth(synthesized, capsys)
    # THEN its stack is rendered the usual way (only src/ is known to be code alone)
    assert code == 0 and line.endswith(": svc-catalog)") and "new code only" not in line
    assert_fresh(synthesized)


@pytest.mark.parametrize("state", ["{not json", '{"version": 1}', "gone"])
def test_a_bad_state_renders_all(synthesized: Path, state: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a state file that is corrupt, of an older format, or missing
    path = synthesized / "build" / ENV / incremental.STATE_FILE
    if state == "gone":
        path.unlink()
    else:
        path.write_text(state)
    # WHEN only a handler changed
    append(synthesized / "services" / "catalog" / "src" / "search.py", "\n# changed\n")
    code, line, _ = synth(synthesized, capsys)
    # THEN everything is rendered, and the next handler change is new code only again
    assert code == 0 and "rendered all" in line
    assert_fresh(synthesized)
    append(synthesized / "services" / "catalog" / "src" / "search.py", "\n# again\n")
    assert synth(synthesized, capsys)[1].endswith("(new code only): svc-catalog)")
    assert_fresh(synthesized)


def test_code_packaging_to_the_same_bytes_renders_nothing(
        synthesized: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a test module inside src/ (read by checks, never packaged)
    tests = synthesized / "services" / "catalog" / "src" / "tests"
    tests.mkdir()
    (tests / "test_search.py").write_text("def test_x() -> None:\n    pass\n")
    before = on_disk(synthesized)
    # WHEN synthesized
    code, line, _ = synth(synthesized, capsys)
    # THEN the code is packaged again, to the same bytes: nothing is rendered
    assert code == 0
    assert line.endswith("(changed code packages to the same bytes: nothing rendered)")
    assert on_disk(synthesized) == before
    assert_fresh(synthesized)
    assert "inputs unchanged" in synth(synthesized, capsys)[1]


def test_new_code_renames_versions_and_the_api_deployment(
        repo_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN catalog's search function with provisioned concurrency (a Version whose
    # logical id follows the code, an alias the API invokes, a Deployment hashing both)
    edit_yaml(repo_copy / "services" / "catalog" / "service.yaml",
              lambda d: d["functions"]["search"].update(provisioned_concurrency=1))
    assert "rendered all" in synth(repo_copy, capsys)[1]
    old = template(repo_copy, "svc-catalog")["Resources"]
    # WHEN its handler changes
    append(repo_copy / "services" / "catalog" / "src" / "search.py", "\n# changed\n")
    code, line, _ = synth(repo_copy, capsys)
    # THEN without a render, the version and the deployment have new logical ids, the
    # alias and the stage point at them, byte for byte what a full render gives
    assert code == 0 and line.endswith("(new code only): svc-catalog)")
    new = template(repo_copy, "svc-catalog")["Resources"]

    def of_type(resources: dict[str, Any], kind: str) -> set[str]:
        return {k for k, v in resources.items() if v["Type"] == kind}

    versions = of_type(new, "AWS::Lambda::Version")
    deployments = of_type(new, "AWS::ApiGateway::Deployment")
    assert len(versions) == 1 and versions.isdisjoint(of_type(old, "AWS::Lambda::Version"))
    assert deployments.isdisjoint(of_type(old, "AWS::ApiGateway::Deployment"))
    alias = next(v for v in new.values() if v["Type"] == "AWS::Lambda::Alias")
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [*versions, "Version"]}
    stage = next(v for v in new.values() if v["Type"] == "AWS::ApiGateway::Stage")
    assert stage["Properties"]["DeploymentId"] == {"Ref": next(iter(deployments))}
    assert_fresh(repo_copy)


def test_a_template_not_as_expected_is_rendered_the_usual_way(
        synthesized: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN catalog's API deployment id no longer the digest of its API surface (as a
    # future blueprint might compute it), the state saying those are the bytes written
    out = synthesized / "build" / ENV
    text = (out / "svc-catalog.json").read_text()
    deployment = next(k for k, v in json.loads(text)["Resources"].items()
                      if v["Type"] == "AWS::ApiGateway::Deployment")
    text = text.replace(deployment, "Deployment00000000")
    (out / "svc-catalog.json").write_text(text)
    state = json.loads((out / incremental.STATE_FILE).read_text())
    state["outputs"]["svc-catalog.json"] = incremental.digest_text(text)
    (out / incremental.STATE_FILE).write_text(json.dumps(state))
    # WHEN only its handler changes
    append(synthesized / "services" / "catalog" / "src" / "search.py", "\n# changed\n")
    code, line, _ = synth(synthesized, capsys)
    # THEN its stack is rendered the usual way, and build/ is a full render again
    assert code == 0 and line.endswith(": svc-catalog)") and "new code only" not in line
    assert_fresh(synthesized)


def test_lint_after_new_code_lints_only_the_changed_template(
        synthesized: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN every template linted clean once (remembered by template content)
    assert main(["lint", "--env", ENV, "--root", str(synthesized)]) == 0
    capsys.readouterr()
    # WHEN only catalog's handler changes and the environment is linted again
    append(synthesized / "services" / "catalog" / "src" / "search.py", "\n# changed\n")
    code = main(["lint", "--env", ENV, "--root", str(synthesized)])
    err = capsys.readouterr().err
    # THEN cfn-lint reads catalog's template alone (the others' cache keys, their
    # bytes, are unchanged), finding nothing, and build/ is what a full render gives
    stacks = json.loads((synthesized / "build" / ENV / "manifest.json").read_text())["stacks"]
    assert code == 0
    assert f"{ENV}: {len(stacks)} templates (1 linted," in err and ", 0 findings" in err
    assert_fresh(synthesized)
