"""What the edge templates mean: routing order, origins, protection, TLS, WAF, DNS."""

from __future__ import annotations

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


def test_each_api_behavior_goes_to_its_service_in_order_without_host(
        platforms: dict[str, Platform]) -> None:
    platform = platforms["prod"]
    stack = edge_stack(platform)
    config = distribution(rendered(stack))
    behaviors = config["CacheBehaviors"]
    assert [b["PathPattern"] for b in behaviors] == ["/api/catalog/*", "/api/reviews/*"]
    for behavior, service in zip(behaviors, platform.services, strict=True):
        origin = origins(config)[behavior["TargetOriginId"]]
        domain_param = origin["DomainName"]["Ref"]
        # the origin's domain is the service's ApiDomain output, read from its stack
        assert stack.sources[domain_param].to_dict() == {
            "kind": "stack_output", "stack": f"svc-{service.name}", "output": "ApiDomain"}
        assert origin["OriginPath"] == "/live"
        assert origin["CustomOriginConfig"] == {
            "HTTPSPort": 443, "OriginProtocolPolicy": "https-only",
            "OriginSSLProtocols": ["TLSv1.2"]}
        (header,) = origin["OriginCustomHeaders"]
        assert header["HeaderName"] == "x-api-key"
        secret_param = header["HeaderValue"]["Ref"]
        assert stack.sources[secret_param].to_dict() == {"kind": "secret", "name": service.name}
        # the viewer's Host header never reaches API Gateway
        assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
        assert "FunctionAssociations" not in behavior
        assert set(behavior["AllowedMethods"]) == {
            "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}


def test_api_cache_policy_honours_origin_cache_control(platforms: dict[str, Platform]) -> None:
    template = rendered(edge_stack(platforms["dev"]))
    policy = template["Resources"]["ApiCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert (policy["DefaultTTL"], policy["MinTTL"]) == (0, 0)
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "all"}


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_no_custom_error_responses(platforms: dict[str, Platform], env: str) -> None:
    assert "CustomErrorResponses" not in distribution(rendered(edge_stack(platforms[env])))


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


def test_edge_depends_on_edge_global_and_every_service(platforms: dict[str, Platform]) -> None:
    stack = edge_stack(platforms["prod"])
    assert stack.depends_on == ["edge-global", "svc-catalog", "svc-reviews"]


def test_secrets_are_noecho_and_never_in_outputs(platforms: dict[str, Platform]) -> None:
    template = rendered(edge_stack(platforms["prod"]))
    secrets = [n for n, p in template["Parameters"].items() if n.endswith("OriginSecret")]
    assert secrets == ["CatalogOriginSecret", "ReviewsOriginSecret"]
    assert all(template["Parameters"][n]["NoEcho"] is True for n in secrets)
    outputs = json.dumps(template["Outputs"])
    assert not any(name in outputs for name in secrets)
    assert not any(isinstance(v, str) and v.startswith("arn:aws:") for v in walk(template))


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_cfn_lint_is_clean(platforms: dict[str, Platform], env: str) -> None:
    for stack in (edge_global_stack(platforms[env]), edge_stack(platforms[env])):
        assert lint_template(render(stack), stack.region) == []
