"""The signed-in user of a request, as API Gateway's Cognito authorizer passed it on.

Copy this file into a service's ``src/`` (``from users import current_user``); the copy
must stay identical to ``shared/kit/users.py`` (a test checks). Routes declared with
``auth: user`` in service.yaml reach the handler only with a token API Gateway has
validated (signature, expiry, issuer, scopes); its claims are in
``requestContext.authorizer.claims``, every value a string. Nothing here reads or parses a
token, and nothing logs one.
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-integrate-with-cognito.html

Groups: Cognito authorizers do not check them. A route that asks for groups
(``auth: {user: true, groups: [...]}``) enforces them here:
``current_user(event, groups=("editors",))`` answers 403 to a user in none of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler.exceptions import ForbiddenError, UnauthorizedError

# An ID token names the user in cognito:username, an access token in username.
# https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html
# https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html
USERNAME_CLAIMS = ("cognito:username", "username")
# API Gateway hands list claims on as one string: "a,b" or "[a b]" (group names hold no
# commas or spaces in Archway's config); a list is taken as it is.
_SEPARATORS = re.compile(r"[,\s]+")


@dataclass(frozen=True)
class User:
    sub: str  # the user's stable id in the pool
    username: str
    email: str | None  # only ID tokens carry it
    groups: tuple[str, ...]
    scopes: tuple[str, ...]  # only access tokens carry them

    def in_any(self, groups: Iterable[str]) -> bool:
        return bool(set(groups) & set(self.groups))


def claims_of(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The authorizer's claims, or {} when the request reached the handler without any."""
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    claims = authorizer.get("claims") if isinstance(authorizer, Mapping) else None
    return claims if isinstance(claims, Mapping) else {}


def _listed(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if str(v))
    if not isinstance(value, str):
        return ()
    return tuple(part for part in _SEPARATORS.split(value.strip().strip("[]")) if part)


def current_user(event: Mapping[str, Any], groups: Iterable[str] = ()) -> User:
    """The signed-in user; 401 when the request carries no user, 403 when ``groups`` is
    given and the user is in none of them."""
    claims = claims_of(event)
    sub = claims.get("sub")
    username = next((claims[k] for k in USERNAME_CLAIMS if claims.get(k)), None)
    if not isinstance(sub, str) or not sub or not isinstance(username, str):
        raise UnauthorizedError("sign in first")
    email = claims.get("email")
    user = User(sub=sub, username=username, email=email if isinstance(email, str) else None,
                groups=_listed(claims.get("cognito:groups")), scopes=_listed(claims.get("scope")))
    wanted = tuple(groups)
    if wanted and not user.in_any(wanted):
        raise ForbiddenError(f"only members of {', '.join(wanted)} may do this")
    return user
