"""Synth when only services' packaged code changed: package it again and put the new
code identity where the last synth's outputs carry the old one, without importing
pydantic, troposphere or awacs (a handler edit then costs a zip, not a render).

Why this is exact. A service's folder reaches its stack's template through its assets
only (services/blueprint.py; no other stack reads a service's folder): the zip of
``services/<svc>/src`` (with its installed requirements) gives a sha256 ``D``, and

- ``D`` itself is the asset's ``sha256`` and part of its S3 key (``assets/<svc>/D.zip``)
  in the manifest and of ``Code.S3Key`` in the template;
- ``D[:8]`` ends the logical id of a function's ``AWS::Lambda::Version`` (a function
  with provisioned concurrency; as archway.shared.naming.logical_id spells it, first
  letter upper case), which the alias refers to;
- the ``AWS::ApiGateway::Deployment`` logical id ``Deployment<h>`` and its description
  ``API surface <h>`` hash the API surface (``ServiceBlueprint.API_SURFACE``: its resources
  as ``to_dict()`` gives them, aliases and versions included): ``h`` is recomputed from
  the template's own resources, after checking that the same recipe gives the old
  template's ``h`` (when it does not, the template is not one this module understands);
- the manifest's ``template_sha256`` of each template that changed.

When the rest is unchanged (config, ``service.yaml``, Archway, the installed packages:
the shared fingerprint of archway.shared.incremental; the service folder outside
``src/``, so its requirements; the dependency install still cached), a full render
differs from the last one only there. Everything else stays byte for byte: a template
is parsed, its strings and logical ids substituted, and written with the encoder synth
uses (archway.shared.fastjson: sorted keys, so a renamed logical id moves as it would).
The template must be what that encoder gives for its own parsed data (so parsing and
writing again changes nothing else). A 64-hex digest is unique text; old logical ids
are replaced where they are whole strings or ``${...}`` references, and the result must
contain none of the old names and be as long as before (every substitution is of equal
length, so the limits checked at render time - counts, body size, function policies -
hold as they did).

The handler check of the config (archway.shared.config.semantics.handler_problem) runs
again for each function of a changed service, with the handlers the last synth
recorded (``service.yaml`` is unchanged). Anything this path cannot vouch for (a handler
problem, an install not cached, a digest prefix shared by two assets, a template not as
expected, a package over Lambda's size quota) makes it answer None: the caller renders
the usual way, which reports errors as it always does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archway.shared import fastjson
from archway.shared.assets import COMPLETE, Dependencies, DependencyError, package, sha256
from archway.shared.incremental import Inputs, State
from archway.shared.naming import logical_id
from archway.shared.synth import MANIFEST, Rendered

VERSION = "AWS::Lambda::Version"
DEPLOYMENT = "AWS::ApiGateway::Deployment"
# services/blueprint.py ServiceBlueprint.API_SURFACE (not imported: it imports troposphere)
API_SURFACE = ("AWS::ApiGateway::Resource", "AWS::ApiGateway::Method",
               "AWS::ApiGateway::Authorizer",
               "AWS::Lambda::Permission", "AWS::Lambda::Alias", "AWS::Lambda::Version")
SHORT = 8  # hex digits of a digest in a logical id (services/blueprint.py)


class Unsure(Exception):
    """This path cannot vouch for the result: render the usual way."""


@dataclass(frozen=True)
class Repackaged:
    """What to write (None: nothing differs) and the stacks whose templates changed."""

    rendered: Rendered | None
    ids: list[str]
    assets: int  # packaged again (0: the changed folders are no stack's code)


def repackage(root: Path, out_dir: Path, state: State, manifest: dict[str, Any],
              changed: set[str], current: Inputs) -> Repackaged | None:
    """The outputs a full render of ``root`` would give, from the last synth's
    (``state``, ``manifest``, templates in ``out_dir``) when only the packaged code of
    the service folders ``changed`` differs; None when that is not sure."""
    try:
        for name in sorted(changed):
            _check_folder(root, name, state, current)
        renames, count = _new_digests(root, manifest, changed)
        rendered, ids = _substituted(out_dir, manifest, renames)
        return Repackaged(rendered, ids, count)
    except Unsure:
        return None


def _check_folder(root: Path, name: str, state: State, current: Inputs) -> None:
    """Only ``src/`` changed in ``services/<name>``, and its handlers are still sound."""
    from archway.shared.config.semantics import handler_problem

    if current.outside.get(name) != state.outside.get(name):
        raise Unsure(f"services/{name}: more than src/ changed")
    src = root / "services" / name / "src"
    for handler in state.handlers.get(name, {}).values():
        if handler_problem(src, handler, f"services/{name}/src") is not None:
            raise Unsure(f"services/{name}: handler {handler}")


def _new_digests(root: Path, manifest: dict[str, Any],
                 changed: set[str]) -> tuple[dict[str, str], int]:
    """Old sha256 -> new of each asset packaged from a changed folder (those whose bytes
    changed), and how many assets were packaged again."""
    renames: dict[str, str] = {}
    kept: set[str] = set()
    count = 0
    for asset in manifest["assets"].values():
        parts = Path(asset["path"]).parts
        if len(parts) < 2 or parts[0] != "services" or parts[1] not in changed:
            kept.add(asset["sha256"])
            continue
        deps = Dependencies(**asset["dependencies"]) if asset.get("dependencies") else None
        if deps is not None and not (root / "build" / ".cache" / "deps" / deps.key(root)
                                     / COMPLETE).exists():
            raise Unsure(f"{deps.requirements}: not installed")
        count += 1
        try:
            new = sha256(package(root, asset["path"], deps))
        except (DependencyError, OSError) as exc:
            raise Unsure(str(exc)) from None
        if new != asset["sha256"]:
            renames[asset["sha256"]] = new
        else:
            kept.add(new)
    short = {old[:SHORT] for old in renames}
    if len(short) != len(renames) or short & {digest[:SHORT] for digest in kept}:
        raise Unsure("two assets share a digest prefix")
    return renames, count


def _substituted(out_dir: Path, manifest: dict[str, Any],
                 renames: dict[str, str]) -> tuple[Rendered | None, list[str]]:
    files: dict[str, str] = {}
    entries = []
    for entry in manifest["stacks"]:
        name = entry["template"]
        text = (out_dir / name).read_text(encoding="utf-8")
        if any(old in text for old in renames):
            text = substitute(text, renames)
            files[name] = text
            entry = {**entry, "template_sha256": hashlib.sha256(text.encode()).hexdigest()}
        entries.append(entry)
    if not renames:
        return None, []
    assets = _rewrite(manifest["assets"], renames, {})
    new = {**manifest, "stacks": entries, "assets": assets}
    files[MANIFEST] = fastjson.dumps(new) + "\n"
    kept = frozenset(e["template"] for e in entries if e["template"] not in files)
    ids = sorted(e["id"] for e in entries if e["template"] in files)
    return Rendered(out_dir, files, new, kept), ids


def substitute(text: str, renames: dict[str, str]) -> str:
    """A template's text with each old asset digest replaced by the new one, and the
    logical ids derived from them (versions, the API deployment) renamed."""
    body = json.loads(text)
    if fastjson.dumps(body) + "\n" != text:
        raise Unsure("the template is not what synth writes for its own data")
    resources = body.get("Resources", {})
    short = {logical_id(old[:SHORT]): logical_id(new[:SHORT]) for old, new in renames.items()}
    titles = {title: title[:-SHORT] + short[title[-SHORT:]]
              for title, resource in resources.items()
              if resource.get("Type") == VERSION and title[-SHORT:] in short}
    deployment = _deployment(resources)
    body = _rewrite(body, renames, titles)
    names = dict(titles)
    if deployment is not None:
        title, old = deployment
        new = surface_digest(body["Resources"])
        if new != old:
            names[title] = f"Deployment{new}"
            body = _rewrite(body, {}, {title: f"Deployment{new}",
                                       f"API surface {old}": f"API surface {new}"})
    result = fastjson.dumps(body) + "\n"
    if len(result) != len(text) or any(old in result for old in [*renames, *names]):
        raise Unsure("the template does not carry the digests as expected")
    return result


def _deployment(resources: dict[str, Any]) -> tuple[str, str] | None:
    """The API deployment's logical id and surface digest, checked against a digest
    recomputed from the template (None: no deployment)."""
    found = [title for title, resource in resources.items()
             if resource.get("Type") == DEPLOYMENT]
    if not found:
        return None
    if len(found) > 1:
        raise Unsure("more than one API deployment")
    title = found[0]
    digest = title.removeprefix("Deployment")
    description = resources[title].get("Properties", {}).get("Description")
    if description != f"API surface {digest}" or surface_digest(resources) != digest:
        raise Unsure(f"{title}: not the digest of its API surface")
    return title, digest


def surface_digest(resources: dict[str, Any]) -> str:
    """services/blueprint.py ServiceBlueprint.deployment's digest, from rendered resources."""
    surface = {title: resource for title, resource in sorted(resources.items())
               if resource.get("Type") in API_SURFACE}
    return hashlib.sha256(json.dumps(surface, sort_keys=True).encode()).hexdigest()[:SHORT]


def _rewrite(value: Any, digests: dict[str, str], names: dict[str, str]) -> Any:
    """``value`` with ``digests`` replaced in every string and key, and ``names`` (logical
    ids, exact strings) replaced where a string or key is one, or inside ``${...}``."""
    pattern = _reference(names)
    return _walk(value, digests, names, pattern)


def _walk(value: Any, digests: dict[str, str], names: dict[str, str],
          pattern: re.Pattern[str] | None) -> Any:
    if isinstance(value, str):
        return _string(value, digests, names, pattern)
    if isinstance(value, dict):
        return {_string(key, digests, names, pattern): _walk(item, digests, names, pattern)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, digests, names, pattern) for item in value]
    return value


def _string(text: str, digests: dict[str, str], names: dict[str, str],
            pattern: re.Pattern[str] | None) -> str:
    if text in names:
        return names[text]
    for old, new in digests.items():
        if old in text:
            text = text.replace(old, new)
    if pattern is not None and "${" in text:
        text = pattern.sub(lambda m: "${" + names[m.group(1)], text)
    return text


def _reference(names: Iterable[str]) -> re.Pattern[str] | None:
    """``${Name}`` or ``${Name.Attribute}`` of any of ``names``, in a Sub string."""
    names = sorted(names, key=len, reverse=True)
    if not names:
        return None
    return re.compile(r"\$\{(" + "|".join(map(re.escape, names)) + r")(?=[.}])")
