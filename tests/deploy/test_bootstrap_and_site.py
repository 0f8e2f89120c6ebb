"""Bootstrap template meaning, and publish-site against S3 and CloudFront on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from archway.shared.commands import load_platform
from archway.shared.deploy.bootstrap import bootstrap_targets
from archway.shared.deploy.site import publish_site, site_config
from archway.shared.lint import lint_template
from archway.shared.synth import platform_stacks, render
from helpers.cfn import rendered

REPO = Path(__file__).resolve().parents[2]


def _bootstraps(env: str) -> list:
    return [s for s in platform_stacks(load_platform(REPO, env)) if s.kind == "bootstrap"]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    (stack,) = [s for s in _bootstraps("prod") if s.account == "310000000001"]
    return rendered(stack)


def test_targets_cover_every_account_and_region_of_an_environment() -> None:
    platform = load_platform(REPO, "prod")
    # the platform account in its home region and in us-east-1 (edge-global), and every
    # service's account in its region, once each
    expected = {(platform.account, platform.home_region), (platform.account, "us-east-1")}
    expected |= {(s.account, s.region) for s in platform.services}
    assert bootstrap_targets(platform) == sorted(expected)


def test_assets_bucket_is_private_tls_only_retained_and_account_agnostic(
        template: dict) -> None:
    bucket = template["Resources"]["AssetsBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert bucket["Properties"]["BucketName"] == {
        "Fn::Sub": "archway-assets-${AWS::AccountId}-${AWS::Region}"}
    (deny,) = template["Resources"]["AssetsBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    body = json.dumps(template["Resources"])
    assert "310000000001" not in body  # the same JSON serves a whole OU as a StackSet


def test_bootstrap_is_lint_clean() -> None:
    for stack in _bootstraps("prod"):
        assert lint_template(render(stack), stack.region) == []


def test_bootstrap_is_synthesized_with_the_rest_for_every_target() -> None:
    platform = load_platform(REPO, "prod")
    assert sorted((s.account, s.region) for s in _bootstraps("prod")) == \
        bootstrap_targets(platform)
    assert _bootstraps("local") == []  # the local cloud bootstraps itself


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, str]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="site")
        cloudfront = boto3.client("cloudfront", region_name="us-east-1")
        distribution = cloudfront.create_distribution(DistributionConfig={
            "CallerReference": "t", "Comment": "", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "s", "DomainName": "site.s3.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "s", "ViewerProtocolPolicy": "allow-all",
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})
        yield s3, cloudfront, distribution["Distribution"]["Id"]


def make_site(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_publish_uploads_then_only_changes(aws: tuple[Any, Any, str], tmp_path: Path) -> None:
    s3, cloudfront, distribution = aws
    site = make_site(tmp_path, {"index.html": "<html>", "app.js": "go()", "style.css": "a{}"})
    # GIVEN a first publish: everything uploads with the right type and cache lifetime
    first = publish_site(site, s3, "site", cloudfront, distribution, log=lambda _l: None)
    assert sorted(first.uploaded) == ["app.js", "index.html", "style.css"]
    index = s3.head_object(Bucket="site", Key="index.html")
    assert (index["ContentType"], index["CacheControl"]) == ("text/html; charset=utf-8",
                                                              "no-cache")
    script = s3.head_object(Bucket="site", Key="app.js")
    assert script["ContentType"] == "text/javascript; charset=utf-8"
    assert script["CacheControl"] == "public, max-age=300"
    # WHEN nothing changed: nothing uploads and nothing is invalidated
    again = publish_site(site, s3, "site", cloudfront, distribution, log=lambda _l: None)
    assert (again.uploaded, again.deleted, again.invalidation) == ([], [], None)
    # WHEN one file changes and one is removed: exactly those paths are invalidated
    (site / "app.js").write_text("go(2)")
    (site / "style.css").unlink()
    third = publish_site(site, s3, "site", cloudfront, distribution, log=lambda _l: None)
    assert (third.uploaded, third.deleted) == (["app.js"], ["style.css"])
    batch = cloudfront.get_invalidation(DistributionId=distribution, Id=third.invalidation)
    assert batch["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == [
        "/app.js", "/style.css"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="site")["Contents"]]
    assert sorted(keys) == ["app.js", "index.html"]


def test_generated_config_is_published_uncached_and_kept(aws: tuple[Any, Any, str],
                                                         tmp_path: Path) -> None:
    s3, cloudfront, distribution = aws
    site = make_site(tmp_path, {"index.html": "<html>"})
    config = site_config("https://shop-dev.auth.eu-west-1.amazoncognito.com/", "abc123",
                         ("openid", "email"))
    # GIVEN a publish with the deploy's config.json
    publish_site(site, s3, "site", cloudfront, distribution, log=lambda _l: None,
                 generated={"config.json": config})
    # THEN the SPA reads where to sign in, and no cache keeps an old one
    published = s3.get_object(Bucket="site", Key="config.json")
    assert json.loads(published["Body"].read()) == {"auth": {
        "domain": "https://shop-dev.auth.eu-west-1.amazoncognito.com", "clientId": "abc123",
        "scopes": "openid email"}}
    assert (published["ContentType"], published["CacheControl"]) == ("application/json",
                                                                      "no-cache")
    # WHEN the same config is published again THEN it is unchanged, not deleted as a file
    # missing from the folder
    again = publish_site(site, s3, "site", cloudfront, distribution, log=lambda _l: None,
                         generated={"config.json": config})
    assert (again.uploaded, again.deleted) == ([], [])
    assert sorted(again.unchanged) == ["config.json", "index.html"]
