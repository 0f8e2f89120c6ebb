"""Security Hub FSBP controls, as what the rendered templates mean."""

from __future__ import annotations

from typing import Any

from archway.platform.edge_global import edge_global_stack
from archway.shared.config.models import RETENTION_DAYS
from archway.shared.model import Platform
from helpers.cfn import rendered, resources


def test_every_web_acl_request_is_logged_without_credentials(
        platforms: dict[str, Platform]) -> None:
    for env in ("dev", "prod"):
        platform = platforms[env]
        template: dict[str, Any] = rendered(edge_global_stack(platform))
        (logging,) = resources(template, "AWS::WAFv2::LoggingConfiguration").values()
        props = logging["Properties"]
        # GIVEN the web ACL's logging configuration: it covers the web ACL
        assert props["ResourceArn"] == {"Fn::GetAtt": ["WebAcl", "Arn"]}
        # WHEN its destination is followed: a log group of this stack (us-east-1)
        (destination,) = props["LogDestinationConfigs"]
        text, variables = destination["Fn::Sub"]
        assert text.endswith(":log-group:${Group}") and ":*" not in text
        group = template["Resources"][variables["Group"]["Ref"]]["Properties"]
        # THEN it is named as WAF requires, kept for a retention CloudWatch accepts
        assert group["LogGroupName"] == f"aws-waf-logs-archway-{env}"
        assert group["RetentionInDays"] in RETENTION_DAYS
        # and credentials never reach the logs
        redacted = {f["SingleHeader"]["Name"].lower() for f in props["RedactedFields"]}
        assert redacted == {"authorization", "cookie"}
