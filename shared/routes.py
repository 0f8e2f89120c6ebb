"""Route entries of the router edge: what the KeyValueStore holds for each service.

Key: the service name. Value: compact JSON ``{"d": API domain, "p": "/<stage>",
"k": origin secret}``, read by ``platform/functions/api_router.js``. Pure data: config
checks use the limits, the deploy engine writes entries, the local edge reads them.

KeyValueStore limits (key 512 bytes, value 1 KB, 5 MB per store):
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-functions
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/kvs-with-functions-create-s3-kvp.html
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 1024
MAX_STORE_BYTES = 5 * 1024 * 1024
SECRET_CHARS = 43  # secrets.token_urlsafe(32), the origin secret (shared/deploy/params.py)
API_ID_CHARS = 10  # REST API ids are 10 characters
# The router matches /api/<svc>/ with this pattern (keep in step with api_router.js).
SERVICE_KEY = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
SERVICE_IN_PATH = re.compile(r"^/api/([a-z][a-z0-9-]{0,62})(/|$)")


class RouteEntryError(ValueError):
    pass


@dataclass(frozen=True)
class RouteEntry:
    service: str
    domain: str  # <api-id>.execute-api.<region>.amazonaws.com
    stage: str
    secret: str

    @property
    def key(self) -> str:
        return self.service

    def value(self) -> str:
        return json.dumps({"d": self.domain, "p": f"/{self.stage}", "k": self.secret},
                          separators=(",", ":"))

    def checked(self) -> RouteEntry:
        if not SERVICE_KEY.match(self.service):
            raise RouteEntryError(f"route key {self.service!r} is not a service name")
        if len(self.value().encode()) > MAX_VALUE_BYTES:
            raise RouteEntryError(f"route of {self.service} exceeds {MAX_VALUE_BYTES} bytes")
        return self

    @classmethod
    def parse(cls, key: str, value: str) -> RouteEntry:
        try:
            data = json.loads(value)
            return cls(key, str(data["d"]), str(data["p"]).lstrip("/"), str(data["k"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise RouteEntryError(f"route entry {key!r} is not an Archway route") from None

    def public(self) -> dict[str, str]:
        """What may be shown: never the secret."""
        return {"service": self.service, "domain": self.domain, "stage": self.stage}


def entry_bytes_bound(service: str, region: str, stage: str) -> int:
    """The largest key + value a service's entry can take (secret and API id included)."""
    domain = "x" * API_ID_CHARS + f".execute-api.{region}.amazonaws.com"
    value = RouteEntry(service, domain, stage, "x" * SECRET_CHARS).value()
    return len(service.encode()) + len(value.encode())


def service_of(path: str) -> str | None:
    """The service a public path routes to (as the router function reads it)."""
    match = SERVICE_IN_PATH.match(path)
    return match.group(1) if match else None
