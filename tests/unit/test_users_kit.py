"""current_user: the signed-in user from the Cognito authorizer's claims, 401/403 otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler.exceptions import ForbiddenError, UnauthorizedError

from archway.shared.kit import users
from archway.shared.kit.users import User, current_user

REPO = Path(__file__).resolve().parents[2]
ID_TOKEN = {"sub": "7f3c2a10", "cognito:username": "zoe", "email": "zoe@example.com",
            "token_use": "id", "cognito:groups": "editors,admins"}
ACCESS_TOKEN = {"sub": "7f3c2a10", "username": "zoe", "token_use": "access",
                "scope": "openid reviews.example.com/write", "cognito:groups": "[editors admins]"}


def request(claims: Any) -> dict[str, Any]:
    """A REST proxy event as API Gateway sends it after its Cognito authorizer."""
    return {"httpMethod": "POST", "headers": {"Authorization": "<token>"},
            "requestContext": {"authorizer": {"claims": claims}}}


def test_an_id_token_s_claims_give_the_user() -> None:
    # GIVEN the claims of an ID token (API Gateway passes every value as a string)
    # WHEN the handler asks who calls
    user = current_user(request(ID_TOKEN))
    # THEN it gets the user, groups split from the one string
    assert user == User(sub="7f3c2a10", username="zoe", email="zoe@example.com",
                        groups=("editors", "admins"), scopes=())


def test_an_access_token_s_claims_give_the_user_and_scopes() -> None:
    # GIVEN the claims of an access token (username, scope; no email; bracketed groups)
    # WHEN the handler asks who calls
    user = current_user(request(ACCESS_TOKEN))
    # THEN the user has no email, and its scopes and groups are lists
    assert (user.username, user.email) == ("zoe", None)
    assert user.scopes == ("openid", "reviews.example.com/write")
    assert user.groups == ("editors", "admins")


@pytest.mark.parametrize("event", [
    {},
    {"requestContext": {}},
    {"requestContext": {"authorizer": None}},
    {"requestContext": {"authorizer": {"claims": {}}}},
    request({"cognito:username": "zoe"}),
    request({"sub": "7f3c2a10"}),
    request("sub=7f3c2a10"),
])
def test_no_user_in_the_request_is_a_401(event: dict[str, Any]) -> None:
    # GIVEN a request without (complete) authorizer claims
    # WHEN the handler asks who calls
    # THEN it answers 401
    with pytest.raises(UnauthorizedError, match="sign in first"):
        current_user(event)


def test_groups_are_checked_by_the_handler() -> None:
    # GIVEN a user in editors and admins, and one in no group
    member, outsider = request(ID_TOKEN), request({**ID_TOKEN, "cognito:groups": ""})
    # WHEN a route wants one of its groups
    # THEN members pass and the others get 403
    assert current_user(member, groups=("reviewers", "admins")).username == "zoe"
    with pytest.raises(ForbiddenError, match="only members of reviewers may do this"):
        current_user(outsider, groups=["reviewers"])
    with pytest.raises(ForbiddenError):
        current_user(member, groups=("reviewers",))


def test_every_service_ships_the_kit_s_users_module_unchanged() -> None:
    # GIVEN the kit's module and every service's copy (handlers cannot import archway)
    kit = Path(users.__file__).read_text(encoding="utf-8")
    copies = sorted((REPO / "services").glob("*/src/users.py"))
    # WHEN compared
    # THEN each copy is the kit's module, byte for byte
    assert copies, "no service ships users.py"
    for copy in copies:
        assert copy.read_text(encoding="utf-8") == kit, f"{copy} differs from shared/kit/users.py"
