"""Private, encrypted, retained S3 buckets: the one way Archway makes a bucket."""

from __future__ import annotations

from typing import Any

from awacs import s3 as s3_actions
from awacs.aws import Allow, ArnLike, Bool, Condition, Deny, Principal, Statement, StringEquals
from troposphere import GetAtt, Ref, Sub, Template, s3

from archway.shared.blueprint.iam import policy


def tls_only(bucket: s3.Bucket) -> Statement:
    """Deny every request to the bucket that does not use TLS."""
    return Statement(
        Sid="DenyInsecureTransport", Effect=Deny, Principal=Principal("*"),
        Action=[s3_actions.Action("*")],
        Resource=[GetAtt(bucket, "Arn"), Sub(f"${{{bucket.title}.Arn}}/*")],
        Condition=Condition(Bool({"aws:SecureTransport": "false"})))


def access_log_delivery(log_bucket: str, prefix: str, source_bucket: str) -> Statement:
    """Let S3's logging service write ``source_bucket``'s server access logs (FSBP S3.9)
    under ``prefix`` of ``log_bucket`` (logical ids), for this account's bucket only; the
    target keeps SSE-S3, as S3 requires:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
    """
    return Statement(
        Sid="S3ServerAccessLogDelivery", Effect=Allow,
        Principal=Principal("Service", ["logging.s3.amazonaws.com"]),
        Action=[s3_actions.PutObject], Resource=[Sub(f"${{{log_bucket}.Arn}}/{prefix}*")],
        Condition=Condition([
            StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")}),
            # by name: the source bucket may be made after the log bucket (it logs there)
            ArnLike({"aws:SourceArn": GetAtt(source_bucket, "Arn")})]))


def private_bucket(template: Template, title: str, *, kms_key: Any = None,
                   ownership: str = "BucketOwnerEnforced", versioned: bool = True,
                   extra_statements: tuple[Statement, ...] = (), **props: Any) -> s3.Bucket:
    """A bucket with public access blocked, encryption (SSE-S3, or SSE-KMS with
    ``kms_key``), versioning, Retain on delete and replace, and a TLS-only bucket policy
    (plus ``extra_statements``)."""
    if kms_key is not None:
        rule = s3.ServerSideEncryptionRule(
            BucketKeyEnabled=True, ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                SSEAlgorithm="aws:kms", KMSMasterKeyID=kms_key))
    else:
        rule = s3.ServerSideEncryptionRule(
            ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256"))
    if versioned:
        props["VersioningConfiguration"] = s3.VersioningConfiguration(Status="Enabled")
    bucket = template.add_resource(s3.Bucket(
        title,
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
        BucketEncryption=s3.BucketEncryption(ServerSideEncryptionConfiguration=[rule]),
        PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True,
            RestrictPublicBuckets=True),
        OwnershipControls=s3.OwnershipControls(
            Rules=[s3.OwnershipControlsRule(ObjectOwnership=ownership)]),
        **props,
    ))
    template.add_resource(s3.BucketPolicy(
        f"{title}Policy", Bucket=Ref(bucket),
        PolicyDocument=policy(tls_only(bucket), *extra_statements)))
    return bucket
