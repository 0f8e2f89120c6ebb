"""Signing in, as config: auth needs a user pool, names what is wrong, resolves per env."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from archway.shared.cli import main
from archway.shared.config import load_config
from archway.shared.model import RouteAuthModel, resolve


def edit(path: Path, change: Callable[[dict], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def platform_file(root: Path) -> Path:
    return root / "config" / "platform.yaml"


def reviews_file(root: Path) -> Path:
    return root / "services" / "reviews" / "service.yaml"


def synth(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["synth", "--root", str(root), "--env", "dev"])
    return code, capsys.readouterr().err


def test_a_route_asking_for_users_without_a_user_pool_is_a_config_error(
        repo_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN platform.yaml without auth, and the reviews service asking for signed-in users
    edit(platform_file(repo_copy), lambda d: d.pop("auth"))
    edit(repo_copy / "config" / "environments" / "prod.yaml", lambda d: d.pop("auth"))
    # WHEN synthesizing
    code, err = synth(repo_copy, capsys)
    # THEN one line names the service file, the route's auth key and the value; nothing written
    assert code == 2
    assert err.strip() == (
        "error: services/reviews/service.yaml: routes[1].auth: POST /products/{id}/reviews "
        "asks for signed-in users, but config/platform.yaml has no auth: section (no user "
        "pool) (got 'user')")
    assert not (repo_copy / "build").exists()


def test_without_auth_and_without_auth_routes_there_is_no_user_pool(
        repo_copy: Path) -> None:
    # GIVEN neither platform.yaml auth nor any route asking for it
    edit(platform_file(repo_copy), lambda d: d.pop("auth"))
    edit(reviews_file(repo_copy), lambda d: [r.pop("auth", None) for r in d["routes"]])
    edit(repo_copy / "config" / "environments" / "prod.yaml", lambda d: d.pop("auth"))
    # WHEN dev is resolved
    platform = resolve(load_config(repo_copy), "dev")
    # THEN there is no user pool and every route is public
    assert platform.auth is None
    assert all(r.auth is None for s in platform.services for r in s.routes)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["auth"].update(domain_prefix="my-cognito-shop"),
     "config/platform.yaml: auth.domain_prefix: 'my-cognito-shop' holds 'cognito', which "
     "Cognito refuses in a prefix domain"),
    (lambda d: d["auth"].update(domain_prefix="Shop"),
     "config/platform.yaml: auth.domain_prefix: must match"),
    (lambda d: d["auth"]["user_pool"].update(mfa="sometimes"),
     "config/platform.yaml: auth.user_pool.mfa: must be 'off', 'optional' or 'on' (got "
     "'sometimes')"),
    (lambda d: d["auth"]["user_pool"]["password"].update(min_length=6),
     "config/platform.yaml: auth.user_pool.password.min_length: must be between 8 and 99 "
     "(got 6)"),
])
def test_bad_auth_settings_name_file_key_and_value(
        repo_copy: Path, capsys: pytest.CaptureFixture[str],
        change: Callable[[dict], None], expected: str) -> None:
    # GIVEN platform.yaml auth broken in one way
    edit(platform_file(repo_copy), change)
    # WHEN synthesizing
    code, err = synth(repo_copy, capsys)
    # THEN one line says what and where, exit 2
    assert code == 2
    assert err.startswith("error: " + expected), err
    assert len(err.strip().splitlines()) == 1


def test_a_route_scope_must_be_cognito_s_or_a_resource_server_s(
        repo_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a route asking for a scope that is neither built in nor server/name
    edit(reviews_file(repo_copy), lambda d: d["routes"][1].update(
        auth={"user": True, "scopes": ["write"]}))
    # WHEN synthesizing
    code, err = synth(repo_copy, capsys)
    # THEN the scope is named
    assert code == 2
    assert err.strip() == (
        "error: services/reviews/service.yaml: routes[1].auth.scopes[0]: must be a Cognito "
        "scope (openid, email, phone, profile, aws.cognito.signin.user.admin) or "
        "<resource server>/<scope> (got 'write')")


def test_an_environment_override_without_a_user_pool_is_refused(
        repo_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN prod overriding threat protection, and no auth in platform.yaml or routes
    edit(platform_file(repo_copy), lambda d: d.pop("auth"))
    edit(reviews_file(repo_copy), lambda d: [r.pop("auth", None) for r in d["routes"]])
    # WHEN synthesizing
    code, err = synth(repo_copy, capsys)
    # THEN prod.yaml's auth key is named
    assert code == 2
    assert err.strip() == (
        "error: config/environments/prod.yaml: auth: overrides a user pool "
        "config/platform.yaml does not declare (add auth: there, or remove this key)")


def test_unquoted_off_and_on_mean_the_words(repo_copy: Path) -> None:
    # GIVEN YAML 1.1 booleans where the words were meant (mfa: on, advanced_security: off)
    platform = platform_file(repo_copy)
    text = platform.read_text().replace("mfa: optional", "mfa: on").replace(
        'advanced_security: "off"', "advanced_security: off")
    platform.write_text(text)
    # WHEN dev is resolved
    auth = resolve(load_config(repo_copy), "dev").auth
    # THEN they read as the words
    assert auth is not None and (auth.mfa, auth.advanced_security) == ("on", "off")


def test_environment_overrides_and_route_auth_resolve_into_the_model(
        repo_copy: Path) -> None:
    # GIVEN prod enforcing threat protection, and a route with scopes and groups
    edit(reviews_file(repo_copy), lambda d: d["routes"][2].update(auth={
        "user": True, "scopes": ["reviews.example.com/write", "openid"],
        "groups": ["editors"]}))
    config = load_config(repo_copy)
    # WHEN dev and prod are resolved
    dev, prod = resolve(config, "dev"), resolve(config, "prod")
    # THEN each environment has its pool, prod with its override, dev with the default
    assert dev.auth is not None and prod.auth is not None
    assert (dev.auth.advanced_security, prod.auth.advanced_security) == ("off", "enforced")
    assert (dev.auth.domain_prefix, prod.auth.domain_prefix) == (
        "archway-shop-dev", "archway-shop-prod")
    assert dev.auth.hosted_domain == "archway-shop-dev.auth.eu-west-1.amazoncognito.com"
    assert (dev.auth.account, dev.auth.region) == ("200000000000", "eu-west-1")
    # AND the routes carry what they asked for; the custom scope becomes the client's
    routes = {(r.method, r.path): r.auth for r in dev.service("reviews").routes}
    assert routes == {
        ("GET", "/api/reviews/products/{id}/reviews"): None,
        ("POST", "/api/reviews/products/{id}/reviews"): RouteAuthModel((), ()),
        ("POST", "/api/reviews/products/{id}/views"): RouteAuthModel(
            ("reviews.example.com/write", "openid"), ("editors",)),
    }
    assert dev.auth.resource_scopes == {"reviews.example.com": ("write",)}
    assert dev.auth.client_scopes == ("openid", "email", "profile", "reviews.example.com/write")


def test_logging_whole_events_is_refused(
        repo_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a function that would make Powertools log every event (tokens included)
    edit(reviews_file(repo_copy), lambda d: d["functions"]["reviews"].update(
        environment={"POWERTOOLS_LOGGER_LOG_EVENT": "true"}))
    # WHEN synthesizing
    code, err = synth(repo_copy, capsys)
    # THEN it is refused, naming the variable
    assert code == 2
    assert err.startswith(
        "error: services/reviews/service.yaml: functions.reviews.environment: "
        "'POWERTOOLS_LOGGER_LOG_EVENT' would log every event whole"), err


def test_a_sign_in_domain_longer_than_cognito_allows_is_refused(
        repo_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the longest domain prefix and an environment whose name makes it 64 characters
    env = "integration-test-euro"
    (repo_copy / "config" / "environments" / f"{env}.yaml").write_text(
        (repo_copy / "config" / "environments" / "dev.yaml").read_text())
    for service in sorted((repo_copy / "services").glob("*/service.yaml")):
        edit(service, lambda d: d["accounts"].update({env: d["accounts"]["dev"]}))
    edit(platform_file(repo_copy), lambda d: d["auth"].update(domain_prefix="a" * 42))
    # WHEN synthesizing
    code, err = synth(repo_copy, capsys)
    # THEN the prefix is named with the length it would reach
    assert code == 2
    assert err.strip() == (
        f"error: config/platform.yaml: auth.domain_prefix: the {env} sign-in domain prefix "
        f"{'a' * 42}-{env!r} would be 64 characters (Cognito allows 63)")
