"""archway.shared.repackage.substitute: a template's new code digest, the logical ids
derived from it renamed everywhere they are referred to, and nothing else changed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archway.shared import fastjson
from archway.shared.naming import logical_id
from archway.shared.repackage import Unsure, substitute, surface_digest

OLD, NEW = "a" * 64, "b" * 64


def template(digest: str) -> dict[str, Any]:
    """What services/blueprint.py writes for one provisioned function, in miniature."""
    version = logical_id("search", "version", digest[:8])
    resources: dict[str, Any] = {
        "SearchFunction": {"Type": "AWS::Lambda::Function", "Properties": {
            "Code": {"S3Bucket": "assets", "S3Key": f"assets/catalog/{digest}.zip"}}},
        version: {"Type": "AWS::Lambda::Version",
                  "Properties": {"FunctionName": {"Ref": "SearchFunction"}}},
        "SearchAlias": {"Type": "AWS::Lambda::Alias", "Properties": {
            "FunctionVersion": {"Fn::GetAtt": [version, "Version"]}}},
        "Note": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Value": {"Fn::Sub": f"${{{version}.Version}} of ${{{version}}}"}}},
    }
    surface = surface_digest(resources)
    resources[f"Deployment{surface}"] = {
        "Type": "AWS::ApiGateway::Deployment",
        "Properties": {"Description": f"API surface {surface}"}}
    resources["Stage"] = {"Type": "AWS::ApiGateway::Stage",
                          "Properties": {"DeploymentId": {"Ref": f"Deployment{surface}"}}}
    return {"Resources": resources}


def text(body: dict[str, Any]) -> str:
    return fastjson.dumps(body) + "\n"


def test_a_new_digest_gives_the_template_built_with_it() -> None:
    # GIVEN a template built around one code digest
    # WHEN the digest is substituted by another
    result = substitute(text(template(OLD)), {OLD: NEW})
    # THEN the text is exactly the template built around the new digest: S3 key, the
    # version's logical id (and every Ref, GetAtt and ${} to it), the deployment's id
    assert result == text(template(NEW))
    assert json.loads(result) != template(OLD)


def test_a_template_written_otherwise_is_refused() -> None:
    # GIVEN the same template written with other indentation (not synth's encoder)
    other = json.dumps(template(OLD), indent=2, sort_keys=True)
    # WHEN substituted, THEN this path refuses it (the caller renders as usual)
    with pytest.raises(Unsure):
        substitute(other, {OLD: NEW})


def test_a_deployment_id_that_is_not_its_surface_digest_is_refused() -> None:
    # GIVEN a deployment id no longer the digest of its API surface
    body = template(OLD)
    deployment = next(k for k in body["Resources"] if k.startswith("Deployment"))
    broken = text(body).replace(deployment, "Deployment00000000")
    # WHEN substituted, THEN refused
    with pytest.raises(Unsure):
        substitute(broken, {OLD: NEW})


def test_the_api_surface_is_the_blueprints() -> None:
    # GIVEN the service blueprint, which hashes its API surface into the deployment's id
    from archway.services.blueprint import ServiceBlueprint
    from archway.shared import repackage

    # THEN the new-code-only path recomputes that hash over the same resource types
    # (were they to differ, it would only ever fall back to a full render)
    assert set(repackage.API_SURFACE) == set(ServiceBlueprint.API_SURFACE)
