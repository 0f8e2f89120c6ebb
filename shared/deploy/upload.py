"""Asset upload: content-addressed keys, uploaded only when missing in that account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from archway.shared.assets import Dependencies, package, sha256
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.deploy.provider import Target
from archway.shared.errors import ArchwayError


class AssetError(ArchwayError):
    exit_code = 1


def upload_asset(connections: ConnectionManager, root: Path, asset: dict[str, Any],
                 target: Target, bucket_known: bool = False, bucket_new: bool = False) -> bool:
    """Upload ``asset`` to its bucket in the target's account; False when already there.
    ``bucket_known``: the caller knows the bucket exists (a missing key is not asked
    about again); ``bucket_new``: the caller made it in this run, so only this run put
    anything there (the key is not looked for)."""
    s3 = connections.client("s3", target.account, target.region)
    try:
        if not bucket_new:
            s3.head_object(Bucket=asset["bucket"], Key=asset["key"])
            return False
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code == "NoSuchBucket" or (code == "404" and not bucket_known
                                      and _bucket_missing(s3, asset["bucket"])):
            raise AssetError(f"assets bucket {asset['bucket']} does not exist in account "
                             f"{target.account} ({target.region}): run archway bootstrap "
                             "first") from None
        if code not in {"404", "NoSuchKey"}:
            raise
    deps = asset.get("dependencies")
    data = package(root, asset["path"], Dependencies(**deps) if deps else None)
    if sha256(data) != asset["sha256"]:
        raise AssetError(f"{asset['path']} changed since synth: run archway synth again")
    s3.put_object(Bucket=asset["bucket"], Key=asset["key"], Body=data,
                  ContentType="application/zip", ServerSideEncryption="AES256")
    return True


def _bucket_missing(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except ClientError:
        return True
