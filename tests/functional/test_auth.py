"""Signing in, as templates: the user pool stack, authorizers on exactly the routes that ask,
and an edge that forwards the token without serving one user's answer to another."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from archway.platform.auth import auth_stack
from archway.platform.edge import edge_stack
from archway.services.blueprint import service_stack
from archway.shared.config import load_config
from archway.shared.lint import lint_template
from archway.shared.model import Platform, resolve
from archway.shared.synth import platform_stacks, render
from helpers.cfn import rendered, resources, walk


def service_template(platform: Platform, name: str) -> dict[str, Any]:
    return rendered(service_stack(platform, platform.service(name)))


def api_path(template: dict[str, Any], ref: Any) -> str:
    parts = []
    while isinstance(ref, dict) and "Ref" in ref:
        props = template["Resources"][ref["Ref"]]["Properties"]
        parts.append(props["PathPart"])
        ref = props["ParentId"]
    return "/" + "/".join(reversed(parts))


def guards(template: dict[str, Any]) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(method, path) -> (AuthorizationType, authorizer, scopes, API key required)."""
    table = {}
    for method in resources(template, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        table[(props["HttpMethod"], api_path(template, props["ResourceId"]))] = (
            props["AuthorizationType"], props.get("AuthorizerId"),
            tuple(props.get("AuthorizationScopes", ())), props["ApiKeyRequired"])
    return table


def edit(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


# --------------------------------------------------------------- service stacks


def test_the_authorizer_guards_exactly_the_routes_that_ask_for_it(
        platforms: dict[str, Platform]) -> None:
    # GIVEN reviews: POST review asks for a signed-in user, the rest is public
    # WHEN its dev template is rendered
    template = service_template(platforms["dev"], "reviews")
    # THEN only that method uses the Cognito authorizer; every method keeps the origin secret
    user = ("COGNITO_USER_POOLS", {"Ref": "UserAuthorizer"}, (), True)
    public = ("NONE", None, (), True)
    assert guards(template) == {
        ("GET", "/api/reviews/products/{id}/reviews"): public,
        ("POST", "/api/reviews/products/{id}/reviews"): user,
        ("POST", "/api/reviews/products/{id}/views"): public,
    }


def test_the_authorizer_trusts_the_platform_pool_read_from_the_auth_stack(
        platforms: dict[str, Platform]) -> None:
    # GIVEN the reviews stack of dev (service account 210000000002, pool in 200000000000)
    stack = service_stack(platforms["dev"], platforms["dev"].service("reviews"))
    template = rendered(stack)
    # WHEN its authorizer and parameters are read
    authorizers = resources(template, "AWS::ApiGateway::Authorizer")
    # THEN one Cognito authorizer reads the token from Authorization and trusts the pool
    #      whose ARN is a parameter the engine takes from the auth stack's output
    assert list(authorizers) == ["UserAuthorizer"]
    props = authorizers["UserAuthorizer"]["Properties"]
    assert props["Type"] == "COGNITO_USER_POOLS"
    assert props["ProviderARNs"] == [{"Ref": "UserPoolArn"}]
    assert props["IdentitySource"] == "method.request.header.Authorization"
    assert stack.sources["UserPoolArn"].to_dict() == {
        "kind": "stack_output", "stack": "auth", "output": "UserPoolArn"}
    assert stack.depends_on == ["auth"]
    assert "NoEcho" not in template["Parameters"]["UserPoolArn"]  # an ARN is no secret


def test_a_public_service_has_no_authorizer_and_no_pool_parameter(
        platforms: dict[str, Platform]) -> None:
    # GIVEN catalog, whose routes are all public
    stack = service_stack(platforms["dev"], platforms["dev"].service("catalog"))
    template = rendered(stack)
    # THEN it neither creates an authorizer nor waits for the auth stack
    assert resources(template, "AWS::ApiGateway::Authorizer") == {}
    assert "UserPoolArn" not in template.get("Parameters", {})
    assert stack.depends_on == []


def test_scopes_reach_the_method_and_groups_stay_out_of_the_template(
        repo_copy: Path) -> None:
    # GIVEN the views route asking for a custom scope and a group
    edit(repo_copy / "services" / "reviews" / "service.yaml", lambda d: d["routes"][2].update(
        auth={"user": True, "scopes": ["reviews.example.com/count"], "groups": ["editors"]}))
    platform = resolve(load_config(repo_copy), "dev")
    # WHEN the reviews and auth templates are rendered
    template = service_template(platform, "reviews")
    pool = rendered(auth_stack(platform))
    # THEN the method requires the scope (API Gateway then wants an access token holding it)
    assert guards(template)[("POST", "/api/reviews/products/{id}/views")] == (
        "COGNITO_USER_POOLS", {"Ref": "UserAuthorizer"}, ("reviews.example.com/count",), True)
    # AND groups appear nowhere (the handler checks them: Cognito authorizers do not)
    assert "editors" not in render(service_stack(platform, platform.service("reviews")))
    # AND the pool defines the scope on a resource server, and the SPA's client may ask for it
    servers = resources(pool, "AWS::Cognito::UserPoolResourceServer")
    assert [s["Properties"]["Identifier"] for s in servers.values()] == ["reviews.example.com"]
    assert [s["ScopeName"] for s in next(iter(servers.values()))["Properties"]["Scopes"]] == [
        "count"]
    client = pool["Resources"]["SpaClient"]
    assert client["Properties"]["AllowedOAuthScopes"] == [
        "openid", "email", "profile", "reviews.example.com/count"]
    assert client["DependsOn"] == list(servers)


def test_adding_auth_to_a_route_makes_a_new_deployment(platforms: dict[str, Platform],
                                                        repo_copy: Path) -> None:
    # GIVEN reviews with POST review public instead of signed-in
    edit(repo_copy / "services" / "reviews" / "service.yaml",
         lambda d: d["routes"][1].pop("auth"))
    public = service_template(resolve(load_config(repo_copy), "dev"), "reviews")
    signed_in = service_template(platforms["dev"], "reviews")
    # THEN the two API surfaces deploy under different Deployment resources
    deployments = [set(resources(t, "AWS::ApiGateway::Deployment")) for t in (public, signed_in)]
    assert deployments[0] != deployments[1]


# ------------------------------------------------------------------- the pool


def test_the_pool_lives_in_the_platform_account_home_region(
        platforms: dict[str, Platform]) -> None:
    # GIVEN every environment's stacks
    for env, platform in platforms.items():
        stacks = {s.id: s for s in platform_stacks(platform)}
        # THEN each has one auth stack, in the platform account and home region
        auth = stacks["auth"]
        assert (auth.account, auth.region, auth.name) == (
            platform.account, platform.home_region, f"archway-{env}-auth")


def test_the_spa_client_is_public_and_uses_the_code_grant_only(
        platforms: dict[str, Platform]) -> None:
    # GIVEN the dev pool
    template = rendered(auth_stack(platforms["dev"]))
    client = template["Resources"]["SpaClient"]["Properties"]
    # THEN the SPA's client has no secret and may use only the authorization code grant
    #      (no implicit grant: tokens never ride in URLs; the SPA adds PKCE)
    assert client["GenerateSecret"] is False
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["AllowedOAuthScopes"] == ["openid", "email", "profile"]
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    # AND no password grant from the browser: sign-in happens on the managed login pages
    assert client["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert "ClientSecret" not in str(template["Outputs"])


def test_callbacks_go_back_to_the_platform_s_own_domain(platforms: dict[str, Platform]) -> None:
    # GIVEN prod (custom domain) and dev (the distribution's domain)
    prod = rendered(auth_stack(platforms["prod"]))["Resources"]["SpaClient"]["Properties"]
    dev_stack = auth_stack(platforms["dev"])
    dev = rendered(dev_stack)["Resources"]["SpaClient"]["Properties"]
    # THEN prod's callback and logout URLs are its domain's root
    assert prod["CallbackURLs"] == prod["LogoutURLs"] == ["https://shop.example.com/"]
    # AND dev's are the CloudFront domain the engine reads from the edge stack
    site = {"Fn::Sub": ["${Site}/", {"Site": {"Fn::Sub": [
        "https://${SiteDomain}", {"SiteDomain": {"Ref": "SiteDomain"}}]}}]}
    assert dev["CallbackURLs"] == dev["LogoutURLs"] == [site]
    assert dev_stack.sources["SiteDomain"].to_dict() == {
        "kind": "stack_output", "stack": "edge", "output": "DistributionDomain"}


def test_the_pool_follows_config_and_keeps_its_users(platforms: dict[str, Platform]) -> None:
    # GIVEN dev (threat protection off) and prod (enforced, deletion protection on)
    dev = rendered(auth_stack(platforms["dev"]))["Resources"]["UserPool"]
    prod = rendered(auth_stack(platforms["prod"]))["Resources"]["UserPool"]
    # THEN both are retained when the stack goes or replaces them
    for pool in (dev, prod):
        assert (pool["DeletionPolicy"], pool["UpdateReplacePolicy"]) == ("Retain", "Retain")
        props = pool["Properties"]
        assert props["MfaConfiguration"] == "OPTIONAL"
        assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
        assert props["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    # AND prod enforces threat protection on the Plus plan, dev is on Essentials without it
    assert prod["Properties"]["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    assert prod["Properties"]["UserPoolTier"] == "PLUS"
    assert prod["Properties"]["DeletionProtection"] == "ACTIVE"
    assert "UserPoolAddOns" not in dev["Properties"]
    assert (dev["Properties"]["UserPoolTier"], dev["Properties"]["DeletionProtection"]) == (
        "ESSENTIALS", "INACTIVE")


def test_the_managed_login_domain_is_per_environment(platforms: dict[str, Platform]) -> None:
    # GIVEN dev's pool
    template = rendered(auth_stack(platforms["dev"]))
    domain = template["Resources"]["UserPoolDomain"]["Properties"]
    # THEN its managed login domain is the prefix and the environment, with a branding style
    assert domain["Domain"] == "archway-shop-dev"
    assert domain["ManagedLoginVersion"] == 2
    branding = resources(template, "AWS::Cognito::ManagedLoginBranding")
    assert [b["Properties"]["ClientId"] for b in branding.values()] == [{"Ref": "SpaClient"}]
    assert template["Outputs"]["HostedDomain"]["Value"] == {
        "Fn::Sub": "archway-shop-dev.auth.${AWS::Region}.amazoncognito.com"}


def test_outputs_name_the_pool_and_client_and_hold_no_secret(
        platforms: dict[str, Platform]) -> None:
    template = rendered(auth_stack(platforms["dev"]))
    assert set(template["Outputs"]) == {"UserPoolId", "UserPoolArn", "ClientId", "Issuer",
                                        "HostedDomain"}
    assert not any(isinstance(v, dict) and "Secret" in str(v.get("Fn::GetAtt", ""))
                   for v in walk(template["Outputs"]))


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_cfn_lint_is_clean(platforms: dict[str, Platform], env: str) -> None:
    stack = auth_stack(platforms[env])
    assert lint_template(render(stack), stack.region) == []


def test_no_auth_no_pool_stack(repo_copy: Path) -> None:
    # GIVEN no auth anywhere
    edit(repo_copy / "config" / "platform.yaml", lambda d: d.pop("auth"))
    edit(repo_copy / "config" / "environments" / "prod.yaml", lambda d: d.pop("auth"))
    edit(repo_copy / "services" / "reviews" / "service.yaml",
         lambda d: d["routes"][1].pop("auth"))
    # WHEN dev's stacks are built
    ids = [s.id for s in platform_stacks(resolve(load_config(repo_copy), "dev"))]
    # THEN there is no auth stack
    assert "auth" not in ids and "edge" in ids


# ------------------------------------------------------------------------ edge


def test_the_token_reaches_the_api_and_is_part_of_the_cache_key(
        platforms: dict[str, Platform]) -> None:
    # GIVEN the edge of dev
    template = rendered(edge_stack(platforms["dev"]))
    policy = template["Resources"]["ApiCachePolicy"]["Properties"]["CachePolicyConfig"]
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    # THEN Authorization is in the API cache key: forwarded to the origin, and a cached
    #      answer is reused only for the same token (or for no token)
    assert key["HeadersConfig"] == {"HeaderBehavior": "whitelist",
                                    "Headers": ["Authorization"]}
    # AND the API behaviour uses that policy
    behavior = template["Resources"]["Distribution"]["Properties"]["DistributionConfig"][
        "CacheBehaviors"][0]
    assert behavior["PathPattern"] == "/api/*"
    assert behavior["CachePolicyId"] == {"Ref": "ApiCachePolicy"}


def test_destroying_the_auth_stack_lists_the_pool_it_keeps(
        platforms: dict[str, Platform]) -> None:
    from archway.shared.deploy.destroy import retained
    from archway.shared.deploy.provider import Target

    # GIVEN dev's auth stack as deployed (the pool's physical id known)
    stack = auth_stack(platforms["dev"])
    target = Target(stack.id, stack.name, stack.kind, stack.account, stack.region,
                    render(stack), "sha")
    # WHEN listing what its deletion keeps
    kept = retained(target, {"UserPool": "eu-west-1_Example01"})
    # THEN the user pool is named, with its account and region
    assert [str(k) for k in kept] == [
        "user pool eu-west-1_Example01 (account 200000000000, eu-west-1)"]


def test_the_spa_may_fetch_tokens_from_the_sign_in_domain_only(
        platforms: dict[str, Platform], repo_copy: Path) -> None:
    from archway.platform.edge import with_source

    # GIVEN the dev edge (a user pool) and one without auth
    def csp(template: dict[str, Any]) -> str:
        config = template["Resources"]["SecurityHeaders"]["Properties"][
            "ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
        return str(config["ContentSecurityPolicy"]["ContentSecurityPolicy"])

    dev = csp(rendered(edge_stack(platforms["dev"])))
    edit(repo_copy / "config" / "platform.yaml", lambda d: d.pop("auth"))
    edit(repo_copy / "config" / "environments" / "prod.yaml", lambda d: d.pop("auth"))
    edit(repo_copy / "services" / "reviews" / "service.yaml",
         lambda d: d["routes"][1].pop("auth"))
    plain = csp(rendered(edge_stack(resolve(load_config(repo_copy), "dev"))))
    # THEN with a pool, connect-src adds exactly its sign-in domain (the token endpoint);
    #      without one, the policy is platform.yaml's as written
    directives = dict(d.split(" ", 1) for d in dev.split("; "))
    assert directives["connect-src"] == (
        "'self' https://archway-shop-dev.auth.eu-west-1.amazoncognito.com")
    assert dev.replace(
        " https://archway-shop-dev.auth.eu-west-1.amazoncognito.com", "") == plain
    # AND a policy without connect-src gets the directive
    assert with_source("default-src 'self'", "connect-src", "https://x") == (
        "default-src 'self'; connect-src https://x")
