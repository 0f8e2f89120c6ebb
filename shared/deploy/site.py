"""publish-site: upload platform/site to the SPA bucket, invalidate only what changed.

Content types from the file name; ``index.html`` (and any .html) is ``no-cache`` so a
new release shows at once; other files are cached for 5 minutes (their names carry no
content hash, so a long ``immutable`` lifetime would pin stale code). Unchanged files
(same sha256, kept as object metadata) are skipped; files gone from the folder are
deleted; the CloudFront invalidation lists only changed and deleted paths. Files the
deploy generates (``config.json``: where the SPA signs users in) are published with the
folder's, ``no-cache`` like the HTML, since they change with the environment, not the code.
"""

from __future__ import annotations

import hashlib
import json
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


def site_config(domain: str, client_id: str, scopes: list[str] | tuple[str, ...]) -> bytes:
    """``config.json``: where the SPA signs users in. ``domain`` serves Cognito's managed
    login paths (``/oauth2/authorize``, ``/oauth2/token``, ``/logout``): the user pool's
    domain on AWS, the local issuer on ``archway local``; ``client_id`` is the SPA's
    public app client (no secret: nothing here is confidential)."""
    return json.dumps({"auth": {"domain": domain.rstrip("/"), "clientId": client_id,
                                "scopes": " ".join(scopes)}}, indent=1).encode()


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
                 log: Callable[[str], None] = print,
                 generated: dict[str, bytes] | None = None) -> SiteChanges:
    changes = SiteChanges()
    remote = _remote(s3, bucket)
    files = {p.relative_to(site_dir).as_posix(): p for p in sorted(site_dir.rglob("*"))
             if p.is_file() and not p.name.startswith(".")}
    local: dict[str, tuple[bytes, str, str]] = {
        key: (path.read_bytes(), content_type(path), cache_control(path))
        for key, path in files.items()}
    for key, data in (generated or {}).items():
        local[key] = (data, content_type(Path(key)), HTML_CACHE)
    for key, (data, kind, cache) in local.items():
        digest = hashlib.sha256(data).hexdigest()
        if remote.get(key) == digest:
            changes.unchanged.append(key)
            continue
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=kind,
                      CacheControl=cache, Metadata={"sha256": digest})
        changes.uploaded.append(key)
        log(f"uploaded  {key} ({kind}, {cache})")
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
