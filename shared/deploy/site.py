"""publish-site: upload platform/site to the SPA bucket, invalidate only what changed.

Content types from the file name; ``index.html`` (and any .html) is ``no-cache`` so a
new release shows at once; other files are cached for 5 minutes (their names carry no
content hash, so a long ``immutable`` lifetime would pin stale code). Unchanged files
(same sha256, kept as object metadata) are skipped; files gone from the folder are
deleted; the CloudFront invalidation lists only changed and deleted paths.
"""

from __future__ import annotations

import hashlib
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8",
                 ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
                 ".ico": "image/x-icon", ".woff2": "font/woff2", ".txt": "text/plain"}
HTML_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=300"


@dataclass
class SiteChanges:
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    invalidation: str | None = None

    @property
    def paths(self) -> list[str]:
        paths = [f"/{key}" for key in (*self.uploaded, *self.deleted)]
        if "/index.html" in paths:
            paths.append("/")
        return sorted(paths)


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or \
        "application/octet-stream"


def cache_control(path: Path) -> str:
    return HTML_CACHE if path.suffix == ".html" else ASSET_CACHE


def _remote(s3: Any, bucket: str) -> dict[str, str]:
    """key -> sha256 metadata of what the bucket holds now."""
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            head = s3.head_object(Bucket=bucket, Key=item["Key"])
            found[item["Key"]] = head.get("Metadata", {}).get("sha256", "")
    return found


def publish_site(site_dir: Path, s3: Any, bucket: str, cloudfront: Any | None = None,
                 distribution_id: str | None = None,
                 log: Callable[[str], None] = print) -> SiteChanges:
    changes = SiteChanges()
    remote = _remote(s3, bucket)
    local = {p.relative_to(site_dir).as_posix(): p for p in sorted(site_dir.rglob("*"))
             if p.is_file() and not p.name.startswith(".")}
    for key, path in local.items():
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if remote.get(key) == digest:
            changes.unchanged.append(key)
            continue
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type(path),
                      CacheControl=cache_control(path), Metadata={"sha256": digest})
        changes.uploaded.append(key)
        log(f"uploaded  {key} ({content_type(path)}, {cache_control(path)})")
    for key in sorted(set(remote) - set(local)):
        s3.delete_object(Bucket=bucket, Key=key)
        changes.deleted.append(key)
        log(f"deleted   {key}")
    if cloudfront is not None and distribution_id and changes.paths:
        response = cloudfront.create_invalidation(
            DistributionId=distribution_id,
            InvalidationBatch={"Paths": {"Quantity": len(changes.paths), "Items": changes.paths},
                               "CallerReference": f"archway-{time.time_ns()}"})
        changes.invalidation = response["Invalidation"]["Id"]
        log(f"invalidated {', '.join(changes.paths)}")
    log(f"site: {len(changes.uploaded)} uploaded, {len(changes.deleted)} deleted, "
        f"{len(changes.unchanged)} unchanged")
    return changes
