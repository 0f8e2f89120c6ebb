"""API Gateway's COGNITO_USER_POOLS authorizer, on the local issuer.

What a method with ``AuthorizationType: COGNITO_USER_POOLS`` asks of a request:

- the token in the authorizer's identity source header (``Authorization``), alone or
  after ``Bearer ``; missing -> 401 ``{"message": "Unauthorized"}``;
- signed by the pool (here: the local issuer's key), issued by it, not expired; the
  ``aud`` of an ID token matches the authorizer's ``IdentityValidationExpression`` when
  it has one;
- without ``AuthorizationScopes`` the token is taken as an ID token; with them as an
  access token that must claim at least one of the method's scopes; otherwise 401.

"if the OAuth Scopes option isn't specified, API Gateway treats the supplied token as an
identity token [...] Otherwise, API Gateway treats the supplied token as an access token
and verifies the access scopes [...]; the call fails with a 401 Unauthorized response":
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-enable-cognito-user-pool.html

The token's claims reach the handler as ``requestContext.authorizer.claims``, every value
a string, as API Gateway passes them to a Lambda proxy integration (lists joined with
commas, ``exp``/``iat`` as dates, other numbers and booleans as text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from archway.shared.local.http import Request
from archway.shared.local.intrinsics import Context
from archway.shared.local.oidc import TokenRejected


class UserPool(Protocol):
    clients: dict[str, Any]

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or TokenRejected (bad signature, issuer, expired)."""


@dataclass(frozen=True)
class CognitoAuth:
    header: str = "authorization"
    scopes: tuple[str, ...] = ()
    audience: str | None = None  # IdentityValidationExpression (a regex on aud)

    @classmethod
    def from_method(cls, ctx: Context, resources: dict[str, Any],
                    props: dict[str, Any]) -> CognitoAuth | None:
        if props.get("AuthorizationType") != "COGNITO_USER_POOLS":
            return None
        authorizer_id = props.get("AuthorizerId")
        logical = authorizer_id.get("Ref") if isinstance(authorizer_id, dict) else None
        authorizer = resources.get(logical or "", {}).get("Properties", {})
        source = str(authorizer.get("IdentitySource", "method.request.header.Authorization"))
        expression = authorizer.get("IdentityValidationExpression")
        return cls(header=source.removeprefix("method.request.header.").lower(),
                   scopes=tuple(str(s) for s in ctx.evaluate(
                       props.get("AuthorizationScopes", []))),
                   audience=str(ctx.evaluate(expression)) if expression else None)


def authorize(auth: CognitoAuth, pool: UserPool | None,
              request: Request) -> dict[str, str] | None:
    """The claims a handler sees, or None when API Gateway would answer 401."""
    value = (request.header(auth.header) or "").strip()
    token = value[7:].strip() if value[:7].lower() == "bearer " else value
    if not token or pool is None:
        return None
    try:
        claims = pool.verify(token)
    except TokenRejected:
        return None
    if not _fits(auth, pool, claims):
        return None
    return api_gateway_claims(claims)


def _fits(auth: CognitoAuth, pool: UserPool, claims: dict[str, Any]) -> bool:
    if auth.scopes:
        granted = set(str(claims.get("scope", "")).split())
        return (claims.get("token_use") == "access" and claims.get("client_id") in pool.clients
                and bool(granted & set(auth.scopes)))
    audience = claims.get("aud")
    if claims.get("token_use") != "id" or audience not in pool.clients:
        return False
    return auth.audience is None or re.fullmatch(auth.audience, str(audience)) is not None


def _date(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def api_gateway_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as a REST API's proxy event carries them: every value a string."""
    out: dict[str, str] = {}
    for name, value in claims.items():
        if name in {"exp", "iat"} and isinstance(value, int):
            out[name] = _date(value)
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, list):
            out[name] = ",".join(str(v) for v in value)
        else:
            out[name] = str(value)
    return out
