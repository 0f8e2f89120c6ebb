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


def _topic_keys(template: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(topic properties, key policy of its KMS key) of every topic."""
    found = []
    for topic in resources(template, "AWS::SNS::Topic").values():
        key = template["Resources"][topic["Properties"]["KmsMasterKeyId"]["Ref"]]
        assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"]
        found.append((topic["Properties"], key["Properties"]["KeyPolicy"]))
    return found


def _publishers(key_policy: dict[str, Any]) -> set[str]:
    return {service for s in key_policy["Statement"]
            if {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(s["Action"])
            for service in s.get("Principal", {}).get("Service", [])}


def test_every_topic_is_encrypted_with_a_key_its_publisher_may_use(
        platforms: dict[str, Platform], config: Any) -> None:
    from archway.pipelines.blueprint import pipeline_stacks
    from archway.services.blueprint import service_stack

    # GIVEN a service's alarm topic: CloudWatch alarms publish to it
    platform = platforms["prod"]
    service = rendered(service_stack(platform, platform.service("catalog")))
    ((_, key_policy),) = _topic_keys(service)
    assert _publishers(key_policy) == {"cloudwatch.amazonaws.com"}
    # and a pipeline's notification topic: CodeStar notifications publish to it
    pipeline = rendered(pipeline_stacks(config)[0])
    ((_, key_policy),) = _topic_keys(pipeline)
    assert _publishers(key_policy) == {"codestar-notifications.amazonaws.com"}


def test_artifact_bucket_access_is_logged(config: Any) -> None:
    from archway.pipelines.blueprint import pipeline_stacks

    template = rendered(pipeline_stacks(config)[0])
    artifacts = template["Resources"]["ArtifactBucket"]["Properties"]
    # GIVEN the artifact bucket logs to a bucket of the same stack
    target = artifacts["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    logs = template["Resources"][target]["Properties"]
    # THEN that bucket uses SSE-S3 (S3 cannot deliver logs to an SSE-KMS bucket)
    (rule,) = logs["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # and only S3's logging service, for the artifact bucket of this account, may write
    policy = template["Resources"][f"{target}Policy"]["Properties"]["PolicyDocument"]
    (delivery,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert delivery["Principal"] == {"Service": ["logging.s3.amazonaws.com"]}
    assert delivery["Action"] == ["s3:PutObject"]
    assert delivery["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": ["ArtifactBucket", "Arn"]}},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # and the log bucket's own exemption is declared, with its reason
    declared = template["Metadata"]["Archway::Deviations"]
    assert [(d["Control"], d["Resources"]) for d in declared] == [
        ("S3.9", ["ArtifactAccessLogs"])]


def test_lint_lists_every_declared_deviation(platforms: dict[str, Platform],
                                             tmp_path: Any) -> None:
    from archway.shared.lint import declared_deviations
    from archway.shared.synth import synth

    # GIVEN dev (tables may be deleted) and prod (deletion protection on)
    dev = declared_deviations(synth(platforms["dev"], tmp_path / "dev"))
    prod = declared_deviations(synth(platforms["prod"], tmp_path / "prod"))
    # THEN each template's declarations are listed with the control and the reason
    assert any(line.startswith("svc-catalog.json: deviation DynamoDB.6 (ProductsTable): "
                               "deletion_protection is off in config/environments/dev.yaml")
               for line in dev)
    assert not any("DynamoDB.6" in line for line in prod)
    assert sum("deviation APIGateway.4 (Stage)" in line for line in prod) == 2
    assert sum("deviation S3.9 (AssetsBucket)" in line for line in prod) == 4


def test_customer_managed_keys_encrypt_tables_logs_and_topics(
        platforms: dict[str, Platform]) -> None:
    from dataclasses import replace

    from archway.services.blueprint import service_stack
    from archway.shared.config.models import Encryption
    from archway.shared.lint import lint_template
    from archway.shared.synth import render

    # GIVEN platform.yaml asking for customer-managed keys
    base = platforms["prod"]
    platform = replace(base, settings=base.settings.model_copy(
        update={"encryption": Encryption(customer_managed_keys=True)}))
    stack = service_stack(platform, platform.service("catalog"))
    template = rendered(stack)
    key = {"Ref": "DataKey"}
    # THEN the tables, every log group and the alarm topic use the stack's key
    for table in resources(template, "AWS::DynamoDB::Table").values():
        assert table["Properties"]["SSESpecification"] == {
            "SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}
    groups = resources(template, "AWS::Logs::LogGroup").values()
    assert groups and all(g["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
                          for g in groups)
    (topic,) = resources(template, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == key
    # and the key lets CloudWatch Logs use it for this account's log groups only
    statements = {s["Sid"]: s for s in
                  template["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]}
    logs = statements["LogsEncryptLogGroups"]
    assert logs["Principal"] == {"Service": [{"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}]}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}
    assert lint_template(render(stack), stack.region) == []
    # by default, AWS-owned keys for tables and logs (the topic has its own key)
    default = rendered(service_stack(base, base.service("catalog")))
    assert "DataKey" not in default["Resources"]
