"""auth (platform account, home region): the environment's Cognito user pool.

One user pool per environment, its managed login domain
(``<prefix>-<env>.auth.<region>.amazoncognito.com``) and one app client for the SPA: a
public client (no secret) that may use only the authorization code grant, which the SPA
completes with PKCE. Callback and logout URLs are the platform's own domain (the custom
domain, or the distribution's domain read from the edge stack).

Why a stack of its own in the home region: a user pool is regional and holds user data,
so it sits with the APIs that authorize against it (the services' region) and outlives
the distribution (Retain); only custom sign-in domains would need us-east-1 (their ACM
certificate), and the prefix domain needs none. Service stacks take the pool's ARN as a
parameter (``UserPoolArn``) the engine reads from this stack's outputs through the
platform account's lookup role: REST API Cognito authorizers accept a pool of another
account.
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-cross-account-cognito-authorizer.html
"""

from __future__ import annotations

from functools import cached_property

from troposphere import GetAtt, Ref, Sub, cognito

from archway.shared.blueprint import StackDef, new_template, output, stack_output
from archway.shared.model import AuthModel, Platform

# The SPA handles the redirect back from sign-in (and sign-out) on its root page.
CALLBACK_PATH = "/"
LOGOUT_PATH = "/"
# Token lifetimes of the SPA's client: one hour for the ID and access tokens, 30 days
# for the refresh token (Cognito allows 5 minutes to 1 day, and 1 hour to 10 years).
# https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-with-identity-providers.html
TOKEN_MINUTES = 60
REFRESH_DAYS = 30
MFA = {"off": "OFF", "optional": "OPTIONAL", "on": "ON"}


def auth_stack(platform: Platform) -> StackDef:
    if platform.auth is None:
        raise ValueError("auth_stack needs platform.yaml auth")
    return AuthBlueprint(platform, platform.auth).build()


class AuthBlueprint:
    def __init__(self, platform: Platform, auth: AuthModel) -> None:
        self.platform = platform
        self.auth = auth
        self.stack = StackDef(
            id=AuthModel.stack_id,
            name=auth.stack_name,
            account=auth.account,
            region=auth.region,
            template=new_template(f"Archway auth ({platform.env}): the user pool, its "
                                  "sign-in domain and the SPA's app client"),
            kind="auth",
            termination_protection=platform.environment.termination_protection,
        )
        self.t = self.stack.template

    def build(self) -> StackDef:
        _ = self.domain, self.branding
        output(self.t, "UserPoolId", Ref(self.user_pool), "Cognito user pool id")
        output(self.t, "UserPoolArn", GetAtt(self.user_pool, "Arn"),
               "Cognito user pool ARN (the services' authorizers)")
        output(self.t, "ClientId", Ref(self.client), "App client id of the SPA (public: no "
                                                     "secret)")
        output(self.t, "Issuer", Sub("https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/"
                                     "${UserPool}"), "OpenID Connect issuer of the tokens")
        output(self.t, "HostedDomain", Sub(f"{self.auth.domain_prefix}.auth.${{AWS::Region}}."
                                           "amazoncognito.com"),
               "Managed login (hosted UI) domain")
        return self.stack

    # -------------------------------------------------------------- parameters

    @cached_property
    def site(self) -> object:
        """https://<the platform's domain>: the custom domain, or the distribution's."""
        if self.platform.domain is not None:
            return f"https://{self.platform.domain.name}"
        domain = self.stack.add_parameter(
            "SiteDomain", stack_output("edge", "DistributionDomain"),
            "CloudFront domain of the platform (edge): the SPA's sign-in callbacks")
        return Sub("https://${SiteDomain}", SiteDomain=Ref(domain))

    def url(self, path: str) -> object:
        if isinstance(self.site, str):
            return self.site + path
        return Sub("${Site}" + path, Site=self.site)

    # ----------------------------------------------------------------- the pool

    @cached_property
    def user_pool(self) -> cognito.UserPool:
        auth = self.auth
        password = auth.password
        props: dict[str, object] = dict(
            UserPoolName=auth.user_pool_name,
            # Users sign in with a username (shown as a review's author) or their email.
            AliasAttributes=["email"],
            UsernameConfiguration=cognito.UsernameConfiguration(CaseSensitive=False),
            AutoVerifiedAttributes=["email"],
            Schema=[cognito.SchemaAttribute(Name="email", AttributeDataType="String",
                                            Required=True, Mutable=True)],
            Policies=cognito.Policies(PasswordPolicy=cognito.PasswordPolicy(
                MinimumLength=password.min_length,
                RequireLowercase=password.require_lowercase,
                RequireUppercase=password.require_uppercase,
                RequireNumbers=password.require_numbers,
                RequireSymbols=password.require_symbols,
                TemporaryPasswordValidityDays=password.temporary_password_validity_days)),
            AdminCreateUserConfig=cognito.AdminCreateUserConfig(
                AllowAdminCreateUserOnly=not auth.self_sign_up),
            AccountRecoverySetting=cognito.AccountRecoverySetting(RecoveryMechanisms=[
                cognito.RecoveryOption(Name="verified_email", Priority=1)]),
            MfaConfiguration=MFA[auth.mfa],
            # Threat protection needs the Plus feature plan; managed login needs
            # Essentials or Plus.
            # https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UserPoolAddOnsType.html
            # https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-sign-in-feature-plans.html
            UserPoolTier="ESSENTIALS" if auth.advanced_security == "off" else "PLUS",
            DeletionProtection="ACTIVE" if auth.deletion_protection else "INACTIVE",
            UserPoolTags={"archway:env": self.platform.env,
                          "archway:platform": self.platform.name},
        )
        if auth.mfa != "off":
            # An authenticator app (TOTP): SMS and email codes need SNS or SES set up.
            props["EnabledMfas"] = ["SOFTWARE_TOKEN_MFA"]
        if auth.advanced_security != "off":
            props["UserPoolAddOns"] = cognito.UserPoolAddOns(
                AdvancedSecurityMode=auth.advanced_security.upper())
        # Users are data: the pool outlives the stack, as tables do.
        return self.t.add_resource(cognito.UserPool(
            "UserPool", DeletionPolicy="Retain", UpdateReplacePolicy="Retain", **props))

    @cached_property
    def domain(self) -> cognito.UserPoolDomain:
        # ManagedLoginVersion 2: managed login (the newer hosted UI); its pages render once
        # the app client has a branding style (``branding``).
        # https://docs.aws.amazon.com/cognito/latest/developerguide/managed-login-branding.html
        return self.t.add_resource(cognito.UserPoolDomain(
            "UserPoolDomain", Domain=self.auth.domain_prefix, UserPoolId=Ref(self.user_pool),
            ManagedLoginVersion=2))

    @cached_property
    def resource_servers(self) -> list[cognito.UserPoolResourceServer]:
        """One per identifier of the custom scopes routes ask for (``server/name``)."""
        made = []
        for index, (identifier, names) in enumerate(sorted(self.auth.resource_scopes.items())):
            made.append(self.t.add_resource(cognito.UserPoolResourceServer(
                f"ResourceServer{index}", Identifier=identifier, Name=identifier,
                UserPoolId=Ref(self.user_pool),
                Scopes=[cognito.ResourceServerScopeType(ScopeName=name,
                                                        ScopeDescription=f"{identifier}/{name}")
                        for name in names])))
        return made

    @cached_property
    def client(self) -> cognito.UserPoolClient:
        """The SPA: a public client (a browser cannot keep a secret), authorization code
        grant only (no implicit grant: no tokens in URLs), PKCE on the SPA's side.
        https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-settings-client-apps.html
        https://docs.aws.amazon.com/cognito/latest/developerguide/using-pkce-in-authorization-code.html
        """
        servers = [server.title for server in self.resource_servers]
        return self.t.add_resource(cognito.UserPoolClient(
            "SpaClient",
            **({"DependsOn": servers} if servers else {}),
            ClientName=self.auth.client_name,
            UserPoolId=Ref(self.user_pool),
            GenerateSecret=False,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=list(self.auth.client_scopes),
            SupportedIdentityProviders=["COGNITO"],
            CallbackURLs=[self.url(CALLBACK_PATH)],
            LogoutURLs=[self.url(LOGOUT_PATH)],
            # Sign-in happens on the managed login pages; the SPA only refreshes tokens.
            ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
            PreventUserExistenceErrors="ENABLED",
            EnableTokenRevocation=True,
            AccessTokenValidity=TOKEN_MINUTES,
            IdTokenValidity=TOKEN_MINUTES,
            RefreshTokenValidity=REFRESH_DAYS,
            TokenValidityUnits=cognito.TokenValidityUnits(
                AccessToken="minutes", IdToken="minutes", RefreshToken="days"),
        ))

    @cached_property
    def branding(self) -> cognito.ManagedLoginBranding:
        return self.t.add_resource(cognito.ManagedLoginBranding(
            "SpaLoginBranding", UserPoolId=Ref(self.user_pool), ClientId=Ref(self.client),
            UseCognitoProvidedValues=True))
