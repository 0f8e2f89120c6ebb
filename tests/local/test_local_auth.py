"""Local sign-in: the OpenID Connect issuer (code + PKCE) and the API's Cognito authorizer."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from archway.shared.local.api_router import ApiRouter
from archway.shared.local.http import Request, Response
from archway.shared.local.intrinsics import Context
from archway.shared.local.oidc import Client, Issuer, IssuerServer, s256
from archway.shared.local.runner import InvokeResult
from archway.shared.local.server import loggable_query

SPA = "http://127.0.0.1:8080/"
CLIENT = "spa-client"
ISSUER_URL = "http://127.0.0.1:8081"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer(ISSUER_URL, [Client(CLIENT, (SPA,), (SPA,),
                                      ("openid", "email", "profile", "reviews/write"))])


def respond(server: IssuerServer, method: str, path: str, query: dict[str, str] | None = None,
            form: dict[str, str] | None = None, origin: str | None = None) -> Response:
    headers = [("origin", origin)] if origin else []
    body = b""
    if form is not None:
        headers.append(("content-type", "application/x-www-form-urlencoded"))
        body = urlencode(form).encode()
    return server.respond(Request(method, path, urlencode(query or {}), headers, body))


def authorize_params(verifier: str, **overrides: str) -> dict[str, str]:
    return {"response_type": "code", "client_id": CLIENT, "redirect_uri": SPA,
            "scope": "openid email profile", "state": "st-1",
            "code_challenge": s256(verifier), "code_challenge_method": "S256", **overrides}


def sign_in(server: IssuerServer, verifier: str, username: str = "alice",
            password: str = "alice-local-only", **overrides: str) -> Response:
    start = respond(server, "GET", "/oauth2/authorize", authorize_params(verifier, **overrides))
    assert start.status == 302
    login = urlsplit(start.header("location") or "")
    assert login.path == "/login"
    page = respond(server, "GET", "/login", dict(parse_qsl(login.query)))
    assert page.status == 200 and b'name="password"' in page.body
    return respond(server, "POST", "/login",
                   form={**dict(parse_qsl(login.query)), "username": username,
                         "password": password})


def code_of(response: Response) -> str:
    assert response.status == 302
    back = urlsplit(response.header("location") or "")
    assert f"{back.scheme}://{back.netloc}{back.path}" == SPA
    params = dict(parse_qsl(back.query))
    assert params["state"] == "st-1"
    return params["code"]


def exchange(server: IssuerServer, code: str, verifier: str,
             redirect_uri: str = SPA) -> tuple[int, dict[str, Any], Response]:
    response = respond(server, "POST", "/oauth2/token", form={
        "grant_type": "authorization_code", "client_id": CLIENT, "code": code,
        "redirect_uri": redirect_uri, "code_verifier": verifier}, origin=SPA.rstrip("/"))
    return response.status, json.loads(response.body), response


def tokens(issuer: Issuer, username: str = "alice", password: str | None = None,
           scope: str = "openid email profile") -> dict[str, Any]:
    server = IssuerServer(issuer)
    verifier = secrets.token_urlsafe(48)
    code = code_of(sign_in(server, verifier, username, password or f"{username}-local-only",
                           scope=scope))
    status, body, _ = exchange(server, code, verifier)
    assert status == 200, body
    return body


# ----------------------------------------------------------------- the issuer


def test_discovery_and_jwks_let_anyone_verify_the_tokens(issuer: Issuer) -> None:
    server = IssuerServer(issuer)
    # GIVEN the discovery document and the key set it points to
    discovery = json.loads(respond(server, "GET", "/.well-known/openid-configuration").body)
    assert discovery["issuer"] == ISSUER_URL
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    jwks_path = urlsplit(discovery["jwks_uri"]).path
    jwks = json.loads(respond(server, "GET", jwks_path).body)
    assert all("d" not in key for key in jwks["keys"])  # public halves only
    # WHEN alice signs in with the code flow
    body = tokens(issuer)
    # THEN both tokens verify with the published keys and carry Cognito's claims
    keys = KeySet.import_key_set(jwks)
    id_claims = jwt.decode(body["id_token"], keys, algorithms=["RS256"]).claims
    access = jwt.decode(body["access_token"], keys, algorithms=["RS256"]).claims
    assert (id_claims["iss"], id_claims["aud"], id_claims["token_use"]) == (
        ISSUER_URL, CLIENT, "id")
    assert (id_claims["cognito:username"], id_claims["email"]) == ("alice", "alice@example.com")
    assert "cognito:groups" not in id_claims  # alice is in no group
    assert (access["client_id"], access["token_use"], access["username"], access["scope"]) == (
        CLIENT, "access", "alice", "openid email profile")
    assert "aud" not in access
    assert id_claims["exp"] - id_claims["iat"] == 3600
    assert body["token_type"] == "Bearer"


def test_groups_are_in_both_tokens(issuer: Issuer) -> None:
    body = tokens(issuer, "bob")
    claims = issuer.verify(body["id_token"])
    assert claims["cognito:groups"] == ["moderators"]
    assert issuer.verify(body["access_token"])["cognito:groups"] == ["moderators"]


def test_a_code_is_single_use_bound_to_its_verifier_redirect_and_lifetime() -> None:
    clock = Clock()
    issuer = Issuer(ISSUER_URL, [Client(CLIENT, (SPA,), (SPA,))], clock=clock)
    server = IssuerServer(issuer)
    verifier = secrets.token_urlsafe(48)
    # GIVEN a code; WHEN it is redeemed with another verifier THEN refused, and spent
    code = code_of(sign_in(server, verifier))
    status, body, _ = exchange(server, code, secrets.token_urlsafe(48))
    assert (status, body["error"]) == (400, "invalid_grant")
    assert exchange(server, code, verifier)[1]["error"] == "invalid_grant"
    # a good exchange works once, the second one is refused
    code = code_of(sign_in(server, verifier))
    assert exchange(server, code, verifier)[0] == 200
    assert exchange(server, code, verifier)[1]["error"] == "invalid_grant"
    # another redirect URI than the code's is refused
    code = code_of(sign_in(server, verifier))
    assert exchange(server, code, verifier, "http://127.0.0.1:8080/x")[1]["error"] == \
        "invalid_grant"
    # a code older than five minutes is refused
    code = code_of(sign_in(server, verifier))
    clock.now += 301
    assert exchange(server, code, verifier)[1]["error"] == "invalid_grant"


def test_the_token_answer_is_not_cached_and_only_the_spa_origin_may_read_it(
        issuer: Issuer) -> None:
    server = IssuerServer(issuer)
    verifier = secrets.token_urlsafe(48)
    _, _, response = exchange(server, code_of(sign_in(server, verifier)), verifier)
    assert response.header("cache-control") == "no-store"
    assert response.header("access-control-allow-origin") == "http://127.0.0.1:8080"
    other = respond(server, "POST", "/oauth2/token", form={"grant_type": "authorization_code"},
                    origin="http://evil.example")
    assert other.header("access-control-allow-origin") is None


def test_authorize_refuses_requests_without_pkce_or_with_unknown_redirects(
        issuer: Issuer) -> None:
    server = IssuerServer(issuer)
    verifier = secrets.token_urlsafe(48)
    # WHEN the request has no PKCE challenge THEN the SPA is told, never given a code
    params = authorize_params(verifier)
    del params["code_challenge"], params["code_challenge_method"]
    response = respond(server, "GET", "/oauth2/authorize", params)
    assert dict(parse_qsl(urlsplit(response.header("location") or "").query)) == {
        "error": "invalid_request", "state": "st-1"}
    # AND plain PKCE is not accepted either
    response = respond(server, "GET", "/oauth2/authorize",
                       authorize_params(verifier, code_challenge_method="plain"))
    assert "error=invalid_request" in (response.header("location") or "")
    # WHEN the redirect URI is not registered THEN an error page, no redirect at all
    response = respond(server, "GET", "/oauth2/authorize",
                       authorize_params(verifier, redirect_uri="http://evil.example/"))
    assert response.status == 400 and response.header("location") is None
    # AND a scope the client may not ask for is refused
    response = respond(server, "GET", "/oauth2/authorize",
                       authorize_params(verifier, scope="openid admin/everything"))
    assert "error=invalid_scope" in (response.header("location") or "")


def test_a_wrong_password_shows_the_form_again_without_a_code(issuer: Issuer) -> None:
    response = sign_in(IssuerServer(issuer), secrets.token_urlsafe(48), "alice", "guess")
    assert response.status == 401
    assert b"Incorrect username or password." in response.body
    assert response.header("location") is None


def test_logout_returns_only_to_a_registered_url(issuer: Issuer) -> None:
    server = IssuerServer(issuer)
    ok = respond(server, "GET", "/logout", {"client_id": CLIENT, "logout_uri": SPA})
    assert (ok.status, ok.header("location")) == (302, SPA)
    bad = respond(server, "GET", "/logout", {"client_id": CLIENT,
                                             "logout_uri": "http://evil.example/"})
    assert bad.status == 400 and bad.header("location") is None


def test_userinfo_needs_an_access_token(issuer: Issuer) -> None:
    server = IssuerServer(issuer)
    body = tokens(issuer)
    for token, status in ((body["access_token"], 200), (body["id_token"], 401)):
        response = server.respond(Request("GET", "/oauth2/userInfo", "",
                                          [("authorization", f"Bearer {token}")]))
        assert response.status == status
    ok = server.respond(Request("GET", "/oauth2/userInfo", "",
                                [("authorization", f"Bearer {body['access_token']}")]))
    assert json.loads(ok.body)["username"] == "alice"


def test_the_request_log_never_shows_codes_or_tokens() -> None:
    assert loggable_query("code=abc123&state=xyz") == "code=REDACTED&state=xyz"
    assert loggable_query("id_token=eyJ.x.y") == "id_token=REDACTED"
    assert loggable_query("q=ceramic&page=2") == "q=ceramic&page=2"


@pytest.mark.parametrize(("query", "logged"), [
    ("CODE=abc&state=x", "CODE=REDACTED&state=x"),           # names match in any case
    ("c%6Fde=abc&state=x", "code=REDACTED&state=x"),         # and once percent-decoded
    ("Access_Token=t", "Access_Token=REDACTED"),
    ("q=zipcode&codes=2&barcode=1", "q=zipcode&codes=2&barcode=1"),  # only whole names
    ("q=a+b&n=%41", "q=a+b&n=%41"),                          # nothing secret: as sent
    ("", ""),
])
def test_the_request_log_redacts_by_decoded_name(query: str, logged: str) -> None:
    # GIVEN a query string as a viewer sent it WHEN the request log shows it
    # THEN parameters named like credentials (after decoding, any case) are redacted,
    # and a query without any is shown exactly as sent
    assert loggable_query(query) == logged


# ------------------------------------------------------------- the authorizer

API = "AWS::ApiGateway::"


def template() -> dict[str, Any]:
    """A service API as the service blueprint renders one with a user-pool authorizer:
    GET (public), POST (signed-in users: the ID token) and DELETE (access token with the
    ``reviews/write`` scope) on /api/svc/items."""
    def method(verb: str, **auth: Any) -> dict[str, Any]:
        return {"Type": f"{API}Method", "Properties": {
            "RestApiId": {"Ref": "Api"}, "ResourceId": {"Ref": "ItemsResource"},
            "HttpMethod": verb, "ApiKeyRequired": True,
            "AuthorizationType": "NONE", **auth,
            "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST", "Uri": {
                "Fn::Sub": ["arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/"
                            "2015-03-31/functions/${Target}/invocations",
                            {"Target": {"Fn::GetAtt": ["Fn", "Arn"]}}]}}}}

    user = {"AuthorizationType": "COGNITO_USER_POOLS", "AuthorizerId": {"Ref": "Users"}}
    return {"Parameters": {"UserPoolArn": {"Type": "String"}}, "Resources": {
        "Api": {"Type": f"{API}RestApi", "Properties": {"Name": "svc"}},
        "ApiResource": {"Type": f"{API}Resource", "Properties": {
            "RestApiId": {"Ref": "Api"}, "PathPart": "api",
            "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]}}},
        "SvcResource": {"Type": f"{API}Resource", "Properties": {
            "RestApiId": {"Ref": "Api"}, "PathPart": "svc", "ParentId": {"Ref": "ApiResource"}}},
        "ItemsResource": {"Type": f"{API}Resource", "Properties": {
            "RestApiId": {"Ref": "Api"}, "PathPart": "items",
            "ParentId": {"Ref": "SvcResource"}}},
        "Users": {"Type": f"{API}Authorizer", "Properties": {
            "RestApiId": {"Ref": "Api"}, "Name": "users", "Type": "COGNITO_USER_POOLS",
            "ProviderARNs": [{"Ref": "UserPoolArn"}],
            "IdentitySource": "method.request.header.Authorization"}},
        "GetItems": method("GET"),
        "PostItems": method("POST", **user),
        "DeleteItems": method("DELETE", **user, AuthorizationScopes=["reviews/write"]),
        "Stage": {"Type": f"{API}Stage", "Properties": {
            "RestApiId": {"Ref": "Api"}, "StageName": "live"}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "svc-fn"}},
        "FnInvoke": {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "Principal": "apigateway.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": ["Fn", "Arn"]},
            "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:"
                                     "${AWS::AccountId}:${Api}/*"}}},
    }}


class RecordingRunner:
    """Stands in for the Lambda runner: answers 200 and keeps the events it was given."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def ainvoke(self, name: str, event: bytes,
                      timeout: float | None = None) -> InvokeResult:
        self.events.append(json.loads(event))  # the event's JSON, as the router sends it
        return InvokeResult(payload={"statusCode": 200, "body": "{}"})


KEY = "k" * 40


def api_for(issuer: Issuer) -> tuple[ApiRouter, RecordingRunner]:
    t = template()
    t["Resources"]["ApiKey"] = {"Type": f"{API}ApiKey",
                                "Properties": {"Enabled": True, "Value": KEY}}
    ctx = Context(t, {"UserPoolArn": "arn:aws:cognito-idp:eu-west-1:1:userpool/local"},
                  "100000000002", "eu-west-1", "svc-local")
    runner = RecordingRunner()
    return ApiRouter.from_template(ctx, runner, issuer), runner  # type: ignore[arg-type]


def call(api: ApiRouter, method: str, authorization: str | None) -> tuple[int, Any]:
    headers = [("x-api-key", KEY)]
    if authorization is not None:
        headers.append(("authorization", authorization))
    response = asyncio.run(api.handle(Request(method, "/live/api/svc/items", "", headers)))
    return response.status, json.loads(response.body)


def test_a_signed_in_route_needs_a_valid_id_token_and_passes_its_claims(issuer: Issuer) -> None:
    api, runner = api_for(issuer)
    body = tokens(issuer, "bob")
    # WHEN no token is sent THEN 401 with API Gateway's body, and the handler never runs
    assert call(api, "POST", None) == (401, {"message": "Unauthorized"})
    assert runner.events == []
    # WHEN bob's ID token is sent (with or without "Bearer ")
    assert call(api, "POST", f"Bearer {body['id_token']}")[0] == 200
    assert call(api, "POST", body["id_token"])[0] == 200
    # THEN the handler sees his claims as API Gateway passes them: every value a string
    claims = runner.events[-1]["requestContext"]["authorizer"]["claims"]
    assert claims["cognito:username"] == "bob"
    assert claims["cognito:groups"] == "moderators"
    assert claims["token_use"] == "id" and claims["email_verified"] == "true"
    assert claims["exp"].endswith(" UTC " + claims["exp"][-4:]) and claims["exp"][:3].isalpha()
    assert all(isinstance(value, str) for value in claims.values())
    # AND the authorizer answers before the API key check, as on AWS
    response = asyncio.run(api.handle(Request("POST", "/live/api/svc/items", "", [])))
    assert (response.status, json.loads(response.body)) == (401, {"message": "Unauthorized"})
    # AND a public route needs nothing and gets no claims
    assert call(api, "GET", None)[0] == 200
    assert "authorizer" not in runner.events[-1]["requestContext"]


def forged(issuer: Issuer, **changes: Any) -> str:
    """An ID token the issuer signed, with some claims changed before signing."""
    claims = {**issuer.verify(tokens(issuer)["id_token"]), **changes}
    return issuer._sign(claims)


def test_bad_tokens_get_401(issuer: Issuer) -> None:
    api, runner = api_for(issuer)
    good = tokens(issuer)["id_token"]
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["cognito:username"] = "mallory"
    tampered = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    other_pool = Issuer(ISSUER_URL, [Client(CLIENT, (SPA,), (SPA,))])  # same name, other key
    cases = {
        "tampered payload": f"{header}.{tampered}.{signature}",
        "signed by another key": tokens(other_pool)["id_token"],
        "another issuer": forged(issuer, iss="https://cognito-idp.eu-west-1.amazonaws.com/x"),
        "another audience": forged(issuer, aud="some-other-client"),
        "expired": forged(issuer, exp=int(issuer.clock()) - 1),
        "an access token": tokens(issuer)["access_token"],
        "not a JWT": "hello",
    }
    for case, token in cases.items():
        assert call(api, "POST", f"Bearer {token}") == (401, {"message": "Unauthorized"}), case
    assert runner.events == []


def test_a_route_with_scopes_needs_an_access_token_holding_one(issuer: Issuer) -> None:
    api, runner = api_for(issuer)
    plain = tokens(issuer)
    scoped = tokens(issuer, scope="openid reviews/write")
    # WHEN the ID token, or an access token without the scope, is sent THEN 401
    assert call(api, "DELETE", f"Bearer {plain['id_token']}")[0] == 401
    assert call(api, "DELETE", f"Bearer {plain['access_token']}")[0] == 401
    assert call(api, "DELETE", f"Bearer {scoped['id_token']}")[0] == 401
    # WHEN an access token with the scope is sent THEN the handler runs with its claims
    assert call(api, "DELETE", f"Bearer {scoped['access_token']}")[0] == 200
    claims = runner.events[-1]["requestContext"]["authorizer"]["claims"]
    assert (claims["username"], claims["scope"]) == ("alice", "openid reviews/write")
