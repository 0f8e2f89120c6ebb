"""What the edge templates mean: routing order, origins, protection, TLS, WAF, DNS."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from archway.platform.edge import ALL_VIEWER_EXCEPT_HOST, CACHING_OPTIMIZED, edge_stack
from archway.platform.edge_global import edge_global_stack
from archway.shared.lint import lint_template
from archway.shared.model import Platform
from archway.shared.synth import render
from helpers.cfn import rendered, resources, walk


def distribution(template: dict[str, Any]) -> dict[str, Any]:
    (dist,) = resources(template, "AWS::CloudFront::Distribution").values()
    return dist["Properties"]["DistributionConfig"]


def origins(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["Id"]: o for o in config["Origins"]}


def test_default_behavior_is_the_private_bucket_with_spa_fallback(
        platforms: dict[str, Platform]) -> None:
    template = rendered(edge_stack(platforms["dev"]))
    config = distribution(template)
    default = config["DefaultCacheBehavior"]
    site = origins(config)[default["TargetOriginId"]]
    assert site["DomainName"] == {"Fn::GetAtt": ["SiteBucket", "RegionalDomainName"]}
    assert site["OriginAccessControlId"] == {"Fn::GetAtt": ["SiteOriginAccessControl", "Id"]}
    assert default["CachePolicyId"] == CACHING_OPTIMIZED
    assert default["FunctionAssociations"] == [{
        "EventType": "viewer-request",
        "FunctionARN": {"Fn::GetAtt": ["SpaFallbackFunction", "FunctionMetadata.FunctionARN"]}}]
    function = template["Resources"]["SpaFallbackFunction"]["Properties"]
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert "/index.html" in function["FunctionCode"]


def test_one_api_behavior_routes_every_service_through_the_store(
        platforms: dict[str, Platform]) -> None:
    # GIVEN the prod edge
    template = rendered(edge_stack(platforms["prod"]))
    config = distribution(template)
    # THEN /api/* is one behavior whose viewer-request function reads the route store
    (behavior,) = config["CacheBehaviors"]
    assert behavior["PathPattern"] == "/api/*"
    assert behavior["FunctionAssociations"] == [{
        "EventType": "viewer-request",
        "FunctionARN": {"Fn::GetAtt": ["ApiRouterFunction", "FunctionMetadata.FunctionARN"]}}]
    function = template["Resources"]["ApiRouterFunction"]["Properties"]
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert function["FunctionConfig"]["KeyValueStoreAssociations"] == [
        {"KeyValueStoreARN": {"Fn::GetAtt": ["RouteStore", "Arn"]}}]
    assert function["FunctionCode"].startswith("import cf from 'cloudfront';")
    # AND the viewer's Host header never reaches API Gateway; every method is allowed
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
    assert set(behavior["AllowedMethods"]) == {
        "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    # AND its placeholder origin carries no secret and fails closed (the private bucket)
    placeholder = origins(config)[behavior["TargetOriginId"]]
    assert "OriginCustomHeaders" not in placeholder
    assert placeholder["DomainName"] == {"Fn::GetAtt": ["SiteBucket", "RegionalDomainName"]}
    assert placeholder["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    # AND no service, secret or API domain is a parameter of the edge
    assert set(template["Parameters"]) <= {"WebAclArn", "CertificateArn", "RegistrarAccounts"}


def test_edge_template_does_not_change_when_services_come_and_go(
        platforms: dict[str, Platform]) -> None:
    # GIVEN the dev platform, with one service less and with one more (a copy of catalog)
    platform = platforms["dev"]
    fewer = dataclasses.replace(platform, services=platform.services[:1])
    orders = dataclasses.replace(platform.services[0], name="orders")
    more = dataclasses.replace(platform, services=(*platform.services, orders))
    # THEN the edge stack is the same template: services live in the route store
    same = {render(edge_stack(p)) for p in (platform, fewer, more)}
    assert len(same) == 1


def test_route_registrar_may_write_only_the_store_and_trusts_deploy_roles(
        platforms: dict[str, Platform]) -> None:
    stack = edge_stack(platforms["dev"])
    template = rendered(stack)
    role = template["Resources"]["RouteRegistrarRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    # the accounts come from the manifest (every service's and the platform's) ...
    assert trust["Principal"] == {"AWS": {"Ref": "RegistrarAccounts"}}
    assert stack.sources["RegistrarAccounts"].to_dict() == {"kind": "service_accounts"}
    # ... and only their deploy roles, not any principal of those accounts
    assert trust["Condition"] == {"ArnLike": {"aws:PrincipalArn": {
        "Fn::Sub": "arn:${AWS::Partition}:iam::*:role/archway-deploy-eu-west-1"}}}
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Resource"] == [{"Fn::GetAtt": ["RouteStore", "Arn"]}]
    assert all(a.startswith("cloudfront-keyvaluestore:") for a in statement["Action"])
    assert "cloudfront-keyvaluestore:PutKey" in statement["Action"]


def test_api_cache_policy_honours_origin_cache_control(platforms: dict[str, Platform]) -> None:
    template = rendered(edge_stack(platforms["dev"]))
    policy = template["Resources"]["ApiCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert (policy["DefaultTTL"], policy["MinTTL"]) == (0, 0)
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "all"}


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_error_responses_are_never_cached_nor_replaced(platforms: dict[str, Platform],
                                                       env: str) -> None:
    # Error responses only set caching to 0 s: no page (an API 404 stays the API's 404)
    errors = distribution(rendered(edge_stack(platforms[env])))["CustomErrorResponses"]
    assert {e["ErrorCode"] for e in errors} >= {403, 404, 500, 502, 503, 504}
    for error in errors:
        assert error == {"ErrorCode": error["ErrorCode"], "ErrorCachingMinTTL": 0}


def test_tls_with_a_domain_and_default_certificate_without(
        platforms: dict[str, Platform]) -> None:
    prod = rendered(edge_stack(platforms["prod"]))
    assert distribution(prod)["ViewerCertificate"] == {
        "AcmCertificateArn": {"Ref": "CertificateArn"}, "SslSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021"}
    assert distribution(prod)["Aliases"] == ["shop.example.com"]
    records = resources(prod, "AWS::Route53::RecordSet").values()
    assert sorted(r["Properties"]["Type"] for r in records) == ["A", "AAAA"]
    dev = rendered(edge_stack(platforms["dev"]))
    assert distribution(dev)["ViewerCertificate"] == {"CloudFrontDefaultCertificate": True}
    assert resources(dev, "AWS::Route53::RecordSet") == {}
    assert "CertificateArn" not in dev["Parameters"]


def test_viewers_use_https_http2_3_and_ipv6(platforms: dict[str, Platform]) -> None:
    config = distribution(rendered(edge_stack(platforms["prod"])))
    assert (config["HttpVersion"], config["IPV6Enabled"]) == ("http2and3", True)
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["WebACLId"] == {"Ref": "WebAclArn"}


def test_bucket_is_private_tls_only_and_readable_by_this_distribution_only(
        platforms: dict[str, Platform]) -> None:
    template = rendered(edge_stack(platforms["dev"]))
    bucket = template["Resources"]["SiteBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props = bucket["Properties"]
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    policy = template["Resources"]["SiteBucketPolicy"]["Properties"]["PolicyDocument"]
    deny, read = policy["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert read["Principal"] == {"Service": ["cloudfront.amazonaws.com"]}
    assert read["Action"] == ["s3:GetObject"]
    assert read["Condition"]["StringEquals"]["AWS:SourceArn"] == {"Fn::Sub": (
        "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}")}


def waf_rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (acl,) = resources(template, "AWS::WAFv2::WebACL").values()
    assert acl["Properties"]["Scope"] == "CLOUDFRONT"
    return {r["Name"]: r for r in acl["Properties"]["Rules"]}


def test_waf_rules_follow_config(platforms: dict[str, Platform]) -> None:
    platform = platforms["prod"]
    stack = edge_global_stack(platform)
    assert stack.region == "us-east-1"
    rules = waf_rules(rendered(stack))
    assert list(rules) == [*platform.settings.edge.waf.managed_rule_groups, "rate-limit"]
    for group in platform.settings.edge.waf.managed_rule_groups:
        assert rules[group]["Statement"]["ManagedRuleGroupStatement"] == {
            "Name": group, "VendorName": "AWS"}
    assert rules["rate-limit"]["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP", "EvaluationWindowSec": 300, "Limit": 2000}
    assert rules["rate-limit"]["Action"] == {"Block": {}}


def test_waf_follows_changed_config(platforms: dict[str, Platform]) -> None:
    # GIVEN a platform that blocks two countries, denies a range and allows 500 req/min
    platform = platforms["dev"]
    waf = platform.settings.edge.waf.model_copy(update={
        "geo_block": ("KP", "IR"), "ip_deny": ("192.0.2.0/24",),
        "rate_limit": platform.settings.edge.waf.rate_limit.model_copy(
            update={"requests": 500, "window_seconds": 60})})
    settings = platform.settings.model_copy(update={
        "edge": platform.settings.edge.model_copy(update={"waf": waf})})
    changed = Platform(**{**platform.__dict__, "settings": settings})
    # WHEN rendering edge-global
    template = rendered(edge_global_stack(changed))
    rules = waf_rules(template)
    # THEN the template follows
    assert rules["geo-block"]["Statement"]["GeoMatchStatement"] == {"CountryCodes": ["KP", "IR"]}
    assert rules["rate-limit"]["Statement"]["RateBasedStatement"]["Limit"] == 500
    assert rules["rate-limit"]["Statement"]["RateBasedStatement"]["EvaluationWindowSec"] == 60
    (ip_set,) = resources(template, "AWS::WAFv2::IPSet").values()
    assert ip_set["Properties"]["Addresses"] == ["192.0.2.0/24"]
    assert list(rules)[:2] == ["ip-deny", "geo-block"]


def test_geo_and_ip_rules_only_when_configured(platforms: dict[str, Platform]) -> None:
    rules = waf_rules(rendered(edge_global_stack(platforms["dev"])))
    assert not {"geo-block", "ip-deny", "ip-allow"} & set(rules)


def test_certificate_only_with_a_domain(platforms: dict[str, Platform]) -> None:
    prod = rendered(edge_global_stack(platforms["prod"]))
    (cert,) = resources(prod, "AWS::CertificateManager::Certificate").values()
    assert cert["Properties"]["DomainValidationOptions"] == [
        {"DomainName": "shop.example.com", "HostedZoneId": "Z0123456789ABCDEFGHIJ"}]
    dev = rendered(edge_global_stack(platforms["dev"]))
    assert resources(dev, "AWS::CertificateManager::Certificate") == {}


def test_edge_depends_on_edge_global_only(platforms: dict[str, Platform]) -> None:
    # services register themselves in the store: the edge waits for no service stack
    assert edge_stack(platforms["prod"]).depends_on == ["edge-global"]


def test_no_secret_reaches_the_edge_template(platforms: dict[str, Platform]) -> None:
    # origin secrets travel only through the route store, written at deploy time
    stack = edge_stack(platforms["prod"])
    template = rendered(stack)
    assert not [s for s in stack.sources.values() if s.kind == "secret"]
    assert "x-api-key" not in json.dumps(template["Resources"]["Distribution"])
    assert not any(isinstance(v, str) and v.startswith("arn:aws:") for v in walk(template))


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_cfn_lint_is_clean(platforms: dict[str, Platform], env: str) -> None:
    for stack in (edge_global_stack(platforms[env]), edge_stack(platforms[env])):
        assert lint_template(render(stack), stack.region) == []


def test_site_access_is_logged_into_the_log_bucket_by_s3_only(
        platforms: dict[str, Platform]) -> None:
    template = rendered(edge_stack(platforms["dev"]))
    # GIVEN the site bucket: its server access logs go to the edge's log bucket (S3.9)
    logging = template["Resources"]["SiteBucket"]["Properties"]["LoggingConfiguration"]
    assert logging == {"DestinationBucketName": {"Ref": "LogBucket"}, "LogFilePrefix": "s3/site/"}
    # THEN the log bucket lets S3's logging service write there, for this site bucket only
    policy = template["Resources"]["LogBucketPolicy"]["Properties"]["PolicyDocument"]
    (delivery,) = [s for s in policy["Statement"] if s.get("Sid") == "S3ServerAccessLogDelivery"]
    assert delivery["Principal"] == {"Service": ["logging.s3.amazonaws.com"]}
    assert delivery["Action"] == ["s3:PutObject"]
    assert delivery["Condition"]["ArnLike"] == {
        "aws:SourceArn": {"Fn::GetAtt": ["SiteBucket", "Arn"]}}
    # AND the log bucket's own logging is a declared deviation, with its reason
    declared = template["Metadata"]["Archway::Deviations"]
    assert [d["Resources"] for d in declared if d["Control"] == "S3.9"] == [["LogBucket"]]
