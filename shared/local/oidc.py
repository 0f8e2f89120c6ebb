"""A local OpenID Connect issuer standing in for the platform's Cognito user pool.

Served by ``archway local`` on its own 127.0.0.1 port, with the paths of Cognito's
managed login domain, so the SPA runs the same sign-in code locally and on AWS:

- ``/.well-known/openid-configuration`` and ``/.well-known/jwks.json``;
- ``/oauth2/authorize`` (authorization code grant only, PKCE S256 required) sends the
  browser to ``/login``, a plain HTML form for one of the seeded users;
- ``/oauth2/token`` exchanges a code once, within five minutes, for the redirect URI it
  was issued to and the verifier that hashes to its challenge;
- ``/oauth2/userInfo`` and ``/logout``.

Tokens are RS256 JWTs (joserfc) shaped like Cognito's: the ID token carries ``aud`` (the
app client), ``token_use: id``, ``cognito:username``, ``email`` and ``cognito:groups``;
the access token ``client_id``, ``token_use: access``, ``scope`` and ``username``.
The signing key is made when the issuer starts and lives only in memory: every token
dies with the process. Neither tokens, codes nor passwords are ever logged.
https://docs.aws.amazon.com/cognito/latest/developerguide/authorization-endpoint.html
https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html
https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-with-identity-providers.html
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from archway.shared.local.http import Request, Response

# Cognito's authorization codes are valid for five minutes and used once; its ID and
# access tokens default to one hour.
# https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html
CODE_SECONDS = 300
TOKEN_SECONDS = 3600
DEFAULT_CLIENT_ID = "archway-local-spa"
DEFAULT_SCOPES = ("openid", "email", "profile")


@dataclass(frozen=True)
class LocalUser:
    username: str
    password: str  # local-only: these users exist on 127.0.0.1 and nowhere else
    email: str
    groups: tuple[str, ...] = ()

    @property
    def sub(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"archway-local-user:{self.username}"))


# The seeded users of the local issuer. Their passwords are public on purpose: they sign
# in to a loopback-only stand-in and are never part of a template or an AWS user pool.
LOCAL_USERS = (
    LocalUser("alice", "alice-local-only", "alice@example.com"),
    LocalUser("bob", "bob-local-only", "bob@example.com", ("moderators",)),
)


@dataclass(frozen=True)
class Client:
    """A registered app client: public (no secret), the SPA's redirect and logout URLs."""

    client_id: str
    callback_urls: tuple[str, ...]
    logout_urls: tuple[str, ...]
    scopes: tuple[str, ...] = DEFAULT_SCOPES

    @property
    def origins(self) -> set[str]:
        return {_origin(url) for url in self.callback_urls}


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    user: LocalUser
    nonce: str | None
    expires: float
    auth_time: int = field(default_factory=lambda: int(time.time()))


class TokenRejected(Exception):
    """Why a token is not accepted (never includes the token)."""


class OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Issuer:
    """The user pool's stand-in: users, clients, codes, keys; no HTTP here."""

    def __init__(self, url: str, clients: list[Client],
                 users: tuple[LocalUser, ...] = LOCAL_USERS,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = url.rstrip("/")
        self.clients = {client.client_id: client for client in clients}
        self.users = {user.username.lower(): user for user in users}
        self.clock = clock
        self.key = RSAKey.generate_key(2048, parameters={
            "kid": secrets.token_hex(8), "use": "sig", "alg": "RS256"}, private=True)
        self.public_keys = KeySet.import_key_set(
            KeySet([self.key]).as_dict(private=False))
        self._codes: dict[str, Grant] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------- documents

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/oauth2/authorize",
            "token_endpoint": f"{self.url}/oauth2/token",
            "userinfo_endpoint": f"{self.url}/oauth2/userInfo",
            "end_session_endpoint": f"{self.url}/logout",
            "jwks_uri": f"{self.url}/.well-known/jwks.json",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": sorted({s for c in self.clients.values() for s in c.scopes}),
        }

    def jwks(self) -> dict[str, Any]:
        return dict(self.public_keys.as_dict(private=False))

    # ------------------------------------------------------------- sign-in

    def check_authorize(self, params: dict[str, str]) -> Client:
        """The client of an authorization request whose client and redirect URI are
        valid (else OAuthError, shown on the page: never a redirect to an unknown URI)."""
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            raise OAuthError("invalid_request", "unknown client_id")
        if params.get("redirect_uri") not in client.callback_urls:
            raise OAuthError("invalid_request", "redirect_uri is not a callback URL of "
                                                "this client")
        return client

    def authorize_error(self, params: dict[str, str], client: Client) -> str | None:
        """An error to send back to the (valid) redirect URI, or None."""
        if params.get("response_type") != "code":
            return "unsupported_response_type"
        if params.get("code_challenge_method") != "S256" or \
                len(params.get("code_challenge", "")) != 43:
            return "invalid_request"  # PKCE S256 is required of this public client
        scopes = params.get("scope", "openid").split()
        if not scopes or not set(scopes) <= set(client.scopes):
            return "invalid_scope"
        return None

    def sign_in(self, username: str, password: str) -> LocalUser | None:
        user = self.users.get(username.strip().lower())
        if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
            return None
        return user

    def issue_code(self, params: dict[str, str], user: LocalUser) -> str:
        code = secrets.token_urlsafe(32)
        grant = Grant(params["client_id"], params["redirect_uri"], params["code_challenge"],
                      params.get("scope", "openid"), user, params.get("nonce"),
                      self.clock() + CODE_SECONDS)
        with self._lock:
            self._codes = {k: g for k, g in self._codes.items() if g.expires > self.clock()}
            self._codes[code] = grant
        return code

    def exchange(self, form: dict[str, str]) -> dict[str, Any]:
        """The token endpoint's authorization_code grant (OAuthError when refused)."""
        if form.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "only authorization_code is allowed")
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # single use, even if refused
        if grant is None or grant.expires <= self.clock():
            raise OAuthError("invalid_grant", "the code is unknown, used or expired")
        if form.get("client_id") != grant.client_id:
            raise OAuthError("invalid_client", "client_id does not match the code")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the code")
        if not hmac.compare_digest(s256(form.get("code_verifier", "")), grant.challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the challenge")
        return {"id_token": self.id_token(grant), "access_token": self.access_token(grant),
                "token_type": "Bearer", "expires_in": TOKEN_SECONDS}

    # ------------------------------------------------------------- tokens

    def _common(self, grant: Grant) -> dict[str, Any]:
        now = int(self.clock())
        claims: dict[str, Any] = {"sub": grant.user.sub, "iss": self.url,
                                  "auth_time": grant.auth_time, "iat": now,
                                  "exp": now + TOKEN_SECONDS, "jti": str(uuid.uuid4()),
                                  "origin_jti": str(uuid.uuid4())}
        if grant.user.groups:  # Cognito leaves the claim out for a user in no group
            claims["cognito:groups"] = list(grant.user.groups)
        return claims

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)

    def id_token(self, grant: Grant) -> str:
        claims = {**self._common(grant), "aud": grant.client_id, "token_use": "id",
                  "cognito:username": grant.user.username, "email": grant.user.email,
                  "email_verified": True}
        if grant.nonce:
            claims["nonce"] = grant.nonce
        return self._sign(claims)

    def access_token(self, grant: Grant) -> str:
        return self._sign({**self._common(grant), "client_id": grant.client_id,
                           "token_use": "access", "scope": grant.scope,
                           "username": grant.user.username})

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this issuer signed and that has not expired."""
        try:
            decoded = jwt.decode(token, self.public_keys, algorithms=["RS256"])
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenRejected(f"not a token signed by this issuer ({type(exc).__name__})"
                                ) from None
        claims = dict(decoded.claims)
        if claims.get("iss") != self.url:
            raise TokenRejected("issued by another issuer")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= self.clock():
            raise TokenRejected("expired")
        return claims

    def userinfo(self, token: str) -> dict[str, Any]:
        claims = self.verify(token)
        if claims.get("token_use") != "access":
            raise TokenRejected("userInfo needs an access token")
        user = self.users[str(claims["username"]).lower()]
        return {"sub": user.sub, "username": user.username, "email": user.email,
                "email_verified": "true"}


# ------------------------------------------------------------------ HTTP

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Archway (local)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}}
label{{display:block;margin:.8rem 0}}input{{display:block;width:100%;padding:.4rem}}
.error{{color:#b00020}}.note{{color:#555;font-size:.85rem}}</style></head>
<body><h1>Sign in</h1>
<p class="note">Local sign-in (stand-in for the Cognito user pool). Seeded users:
{users}. Their passwords are in docs/auth.md and work on 127.0.0.1 only.</p>
{error}<form method="post" action="/login">{hidden}
<label>Username <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"
required></label>
<button type="submit">Sign in</button></form></body></html>
"""

AUTHORIZE_KEYS = ("response_type", "client_id", "redirect_uri", "scope", "state",
                  "code_challenge", "code_challenge_method", "nonce")


def _json(status: int, body: dict[str, Any], **headers: str) -> Response:
    response = Response.json(status, json.dumps(body), cache_control="no-store",
                             pragma="no-cache")
    for name, value in headers.items():
        response.set_header(name.replace("_", "-"), value)
    return response


def _redirect(url: str) -> Response:
    return Response(302, [("location", url), ("cache-control", "no-store")])


def _html(status: int, text: str, redirects: tuple[str, ...] = ()) -> Response:
    """A page of the issuer. ``redirects``: the origins the login form's answer may
    redirect to (browsers apply form-action to the redirects after a submission too)."""
    form_action = " ".join(("'self'", *redirects))
    return Response(status, [("content-type", "text/html; charset=utf-8"),
                             ("cache-control", "no-store"),
                             ("content-security-policy", "default-src 'none'; "
                              f"style-src 'unsafe-inline'; form-action {form_action}"),
                             ("x-frame-options", "DENY")], text.encode())


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


class IssuerServer:
    """The issuer's HTTP surface (the same Request/Response as the local routers)."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer

    async def handle(self, request: Request) -> tuple[Response, str]:
        """The answer and who gave it (for the request log), as the edge's handle."""
        return self.respond(request), "issuer"

    def respond(self, request: Request) -> Response:
        routes = {
            ("GET", "/.well-known/openid-configuration"): lambda r: _json(
                200, self.issuer.discovery()),
            ("GET", "/.well-known/jwks.json"): lambda r: _json(200, self.issuer.jwks()),
            ("GET", "/oauth2/authorize"): self.authorize,
            ("GET", "/login"): self.login_page,
            ("POST", "/login"): self.login,
            ("POST", "/oauth2/token"): self.token,
            ("OPTIONS", "/oauth2/token"): self.preflight,
            ("GET", "/oauth2/userInfo"): self.userinfo,
            ("GET", "/logout"): self.logout,
        }
        route = routes.get((request.method, request.path))
        if route is None:
            return _json(404, {"error": "not_found"})
        return route(request)

    def _cors(self, request: Request) -> dict[str, str]:
        origin = request.header("origin")
        allowed = {o for c in self.issuer.clients.values() for o in c.origins}
        if origin in allowed:
            return {"access_control_allow_origin": origin, "vary": "Origin"}
        return {}

    def authorize(self, request: Request) -> Response:
        params = dict(parse_qsl(request.query_string))
        try:
            client = self.issuer.check_authorize(params)
        except OAuthError as exc:
            return _html(400, f"<h1>Sign-in error</h1><p>{html.escape(exc.description)}</p>")
        error = self.issuer.authorize_error(params, client)
        if error is not None:
            back = {"error": error, **({"state": params["state"]} if "state" in params else {})}
            return _redirect(_with_query(params["redirect_uri"], back))
        kept = {k: params[k] for k in AUTHORIZE_KEYS if k in params}
        return _redirect(f"/login?{urlencode(kept)}")

    def login_page(self, request: Request, error: str = "", status: int = 200) -> Response:
        params = dict(parse_qsl(request.query_string))
        try:
            client = self.issuer.check_authorize(params)
        except OAuthError as exc:
            return _html(400, f"<h1>Sign-in error</h1><p>{html.escape(exc.description)}</p>")
        hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(params[k])}">'
                         for k in AUTHORIZE_KEYS if k in params)
        users = ", ".join(html.escape(u.username) for u in self.issuer.users.values())
        message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        return _html(status, LOGIN_PAGE.format(users=users, hidden=hidden, error=message),
                     tuple(sorted(client.origins)))

    def login(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        params = {k: form[k] for k in AUTHORIZE_KEYS if k in form}
        try:
            client = self.issuer.check_authorize(params)
        except OAuthError as exc:
            return _html(400, f"<h1>Sign-in error</h1><p>{html.escape(exc.description)}</p>")
        if self.issuer.authorize_error(params, client) is not None:
            return _html(400, "<h1>Sign-in error</h1><p>invalid authorization request</p>")
        user = self.issuer.sign_in(form.get("username", ""), form.get("password", ""))
        if user is None:
            again = Request("GET", "/login", urlencode(params))
            return self.login_page(again, "Incorrect username or password.", 401)
        code = self.issuer.issue_code(params, user)
        back = {"code": code, **({"state": params["state"]} if "state" in params else {})}
        return _redirect(_with_query(params["redirect_uri"], back))

    def token(self, request: Request) -> Response:
        cors = self._cors(request)
        if not (request.header("content-type") or "").startswith(
                "application/x-www-form-urlencoded"):
            return _json(400, {"error": "invalid_request"}, **cors)
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        try:
            return _json(200, self.issuer.exchange(form), **cors)
        except OAuthError as exc:
            status = 401 if exc.error == "invalid_client" else 400
            return _json(status, {"error": exc.error, "error_description": exc.description},
                         **cors)

    def preflight(self, request: Request) -> Response:
        cors = self._cors(request)
        response = Response(204 if cors else 403, [])
        for name, value in cors.items():
            response.set_header(name.replace("_", "-"), value)
        if cors:
            response.set_header("access-control-allow-methods", "POST")
            response.set_header("access-control-allow-headers", "content-type")
        return response

    def userinfo(self, request: Request) -> Response:
        cors = self._cors(request)
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise TokenRejected("no bearer token")
            return _json(200, self.issuer.userinfo(token), **cors)
        except TokenRejected:
            return _json(401, {"error": "invalid_token"}, **cors)

    def logout(self, request: Request) -> Response:
        params = dict(parse_qsl(request.query_string))
        client = self.issuer.clients.get(params.get("client_id", ""))
        if client is None or params.get("logout_uri") not in client.logout_urls:
            return _html(400, "<h1>Sign-out error</h1><p>unknown client_id or logout_uri</p>")
        return _redirect(params["logout_uri"])  # no server-side session is kept
