"""The documented limits and request semantics the local edge and API stand-ins follow."""

from __future__ import annotations

import fnmatch
import ipaddress

# CloudFront quotas, https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html
# (General quotas): "Maximum length of a URL: 8,192 bytes" and "Maximum length of a request
# or an origin response, including headers and query strings, but not including the body
# content: 20,480 bytes". That page gives the limits only; the statuses are the ones
# CloudFront sends for them: 414 (URI Too Long) and 494 (Request header too large).
CLOUDFRONT_MAX_URL = 8192
CLOUDFRONT_MAX_REQUEST_HEAD = 20480
URL_TOO_LONG = 414
HEADER_TOO_LARGE = 494

# Lambda quotas, https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html and
# the Invoke API, https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html: "For
# synchronous invocations, the maximum payload size is 6 MB" (6,291,456 bytes), for the
# request (the proxy event as JSON) and for the function's response.
LAMBDA_MAX_PAYLOAD = 6 * 1024 * 1024


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: ``/a/./b/../c`` -> ``/a/c``; never above the root."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    normalized = "/".join(output)
    return normalized if normalized.startswith("/") else "/" + normalized


def forwarded_for(viewer_value: str | None, peer: str) -> str:
    """The X-Forwarded-For CloudFront sends to a custom origin: whatever the viewer sent,
    unchanged and never trusted, then the IP address of the TCP peer. See "Client IP
    addresses" in https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RequestAndResponseBehaviorCustomOrigin.html
    ("CloudFront gets the IP address of the viewer from the TCP connection, appends it to
    the end of the value of the X-Forwarded-For header")."""
    viewer_value = (viewer_value or "").strip()
    return f"{viewer_value}, {peer}" if viewer_value else peer


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_binary(content_type: str | None, binary_media_types: list[str]) -> bool:
    """Whether API Gateway passes a Lambda proxy body base64-encoded: only when the request's
    Content-Type matches one of the API's binaryMediaTypes (``*`` wildcards allowed);
    without any, "the payload is handled as a UTF-8 encoded JSON string". See
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html"""
    if not binary_media_types or not content_type:
        return False
    kind = content_type.split(";")[0].strip().lower()
    return any(fnmatch.fnmatchcase(kind, pattern.strip().lower().replace("~1", "/"))
               for pattern in binary_media_types)
