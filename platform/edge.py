"""edge (home region): the SPA bucket, Origin Access Control, the distribution, DNS.

Default behavior -> private S3 bucket (CachingOptimized, security headers, the SPA
fallback function). One ``/api/*`` behavior for every service: its viewer-request
function (``functions/api_router.js``) looks ``/api/<svc>/`` up in a CloudFront
KeyValueStore and sends the request to that service's API with ``cf.updateRequestOrigin``
(AllViewerExceptHostHeader, an API cache policy that honours origin Cache-Control, the
origin secret as ``x-api-key``); an unknown service gets a JSON 404 from the function.

Services come and go through the store, not this template: deploying a service writes
its entry through the route registrar role (which may write only this store), so the
distribution changes only for platform changes. The registrar trusts the deploy roles of
the service accounts, passed as a parameter the engine derives from the manifest.

No custom error pages: they would turn API 404s into index.html. Error responses are
declared only to set their caching to 0 s (CloudFront otherwise caches 4xx/5xx for 10 s).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from awacs import s3 as s3_actions
from awacs import sts
from awacs.aws import Action, Allow, ArnLike, Condition, Policy, Principal, Statement, StringEquals
from troposphere import GetAtt, Ref, Sub, iam, route53, s3
from troposphere import cloudfront as cf

from archway.shared.blueprint import (
    StackDef,
    deviation,
    new_template,
    output,
    service_accounts,
    stack_output,
    tags,
)
from archway.shared.blueprint.storage import access_log_delivery, private_bucket
from archway.shared.errors import ConfigError
from archway.shared.model import Platform
from archway.shared.naming import deploy_role_name

FUNCTIONS_DIR = Path(__file__).parent / "functions"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # managed cache policy
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # managed origin request policy
CLOUDFRONT_ZONE = "Z2FDTNDATAQYW2"  # hosted zone of every CloudFront alias target
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]
S3_ORIGIN = "site"
API_ORIGIN = "api-router"  # placeholder: the router function always replaces or answers
API_PATH_PATTERN = "/api/*"
AUTHORIZATION = "Authorization"  # the signed-in user's token: in the API cache key
MAX_API_TTL = 3600
# Error codes whose caching CloudFront lets a distribution set (ErrorCachingMinTTL):
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HTTPStatusCodes.html
ERROR_CODES = (400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504)
KVS_ACTIONS = ("DescribeKeyValueStore", "GetKey", "ListKeys", "PutKey", "DeleteKey")


# CloudFront quota: a Content-Security-Policy value is at most 1783 characters.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html
MAX_CSP = 1783


def with_source(policy: str, directive: str, source: str) -> str:
    """``policy`` with ``source`` allowed by ``directive`` (added when absent)."""
    parts = [part.strip() for part in policy.split(";") if part.strip()]
    for index, part in enumerate(parts):
        if part.split()[0].lower() == directive:
            if source not in part.split()[1:]:
                parts[index] = f"{part} {source}"
            return "; ".join(parts)
    return "; ".join([*parts, f"{directive} {source}"])


def edge_stack(platform: Platform) -> StackDef:
    return EdgeBlueprint(platform).build()


class EdgeBlueprint:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.settings = platform.settings.edge
        self.stack = StackDef(
            id="edge",
            name=platform.names.edge_stack,
            account=platform.account,
            region=platform.home_region,
            template=new_template(f"Archway edge ({platform.env}): one domain for the SPA "
                                  "and every service API"),
            kind="edge",
            termination_protection=platform.environment.termination_protection,
        )
        self.t = self.stack.template

    def build(self) -> StackDef:
        _ = self.distribution, self.dns_records, self.registrar_role
        output(self.t, "DistributionId", Ref(self.distribution), "CloudFront distribution id")
        output(self.t, "DistributionDomain", GetAtt(self.distribution, "DomainName"),
               "CloudFront domain name")
        output(self.t, "SiteBucket", Ref(self.site_bucket), "Bucket of the single-page app")
        output(self.t, "RouteStoreArn", GetAtt(self.route_store, "Arn"),
               "KeyValueStore of the API routes (one entry per deployed service)")
        output(self.t, "RouteRegistrarRoleArn", GetAtt(self.registrar_role, "Arn"),
               "Role that service deploys assume to write their route, and only that store")
        return self.stack

    @property
    def prefix(self) -> str:
        return self.platform.names.prefix

    def tags(self) -> object:
        return tags(self.platform.name, self.platform.env)

    # -------------------------------------------------------------- parameters

    @cached_property
    def web_acl_arn(self) -> object:
        return self.stack.add_parameter("WebAclArn", stack_output("edge-global", "WebAclArn"),
                                        "WAF web ACL (edge-global, us-east-1)")

    @cached_property
    def certificate_arn(self) -> object | None:
        if self.platform.domain is None:
            return None
        return self.stack.add_parameter(
            "CertificateArn", stack_output("edge-global", "CertificateArn"),
            "ACM certificate (edge-global, us-east-1)")

    @cached_property
    def registrar_accounts(self) -> object:
        # A parameter, not a literal: a service in an existing account changes nothing
        # here, and a new account is an IAM-only update of this stack.
        return self.stack.add_parameter(
            "RegistrarAccounts", service_accounts(),
            "Accounts whose deploy roles may register their services' routes",
            Type="CommaDelimitedList")

    # ----------------------------------------------------------------- buckets

    @cached_property
    def site_bucket(self) -> s3.Bucket:
        distribution_arn = Sub("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:"
                               "distribution/${Distribution}")
        read = Statement(
            Sid="ReadByThisDistributionOnly",
            Effect=Allow,
            Principal=Principal("Service", ["cloudfront.amazonaws.com"]),
            Action=[s3_actions.GetObject],
            Resource=[Sub("${SiteBucket.Arn}/*")],
            Condition=Condition(StringEquals({"AWS:SourceArn": distribution_arn})),
        )
        return private_bucket(
            self.t, "SiteBucket", extra_statements=(read,), Tags=self.tags(),
            BucketName=f"{self.prefix}-site-{self.platform.account}-{self.platform.home_region}",
            # Server access logs (FSBP S3.9) into the edge's log bucket:
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
            LoggingConfiguration=s3.LoggingConfiguration(
                DestinationBucketName=Ref(self.log_bucket), LogFilePrefix="s3/site/"))

    @cached_property
    def log_bucket(self) -> s3.Bucket:
        # CloudFront standard logs are delivered with an ACL: the log bucket needs them.
        # S3 server access logs of the site bucket arrive as the logging service, allowed
        # for this account's site bucket only (the target keeps SSE-S3, as S3 requires).
        delivery = access_log_delivery("LogBucket", "s3/", "SiteBucket")
        deviation(self.t, "S3.9", ["LogBucket"], (
            "the edge's log bucket (CloudFront and site access logs): logging it would "
            "log the logs"))
        return private_bucket(
            self.t, "LogBucket", ownership="BucketOwnerPreferred", versioned=False,
            extra_statements=(delivery,), Tags=self.tags(),
            BucketName=f"{self.prefix}-edge-logs-{self.platform.account}-"
                       f"{self.platform.home_region}",
            LifecycleConfiguration=s3.LifecycleConfiguration(Rules=[s3.LifecycleRule(
                Id="expire-access-logs", Status="Enabled",
                ExpirationInDays=self.settings.log_retention_days)]),
        )

    # ---------------------------------------------------------------- policies

    @cached_property
    def origin_access_control(self) -> cf.OriginAccessControl:
        return self.t.add_resource(cf.OriginAccessControl(
            "SiteOriginAccessControl",
            OriginAccessControlConfig=cf.OriginAccessControlConfig(
                Name=f"{self.prefix}-site", Description="CloudFront reads the SPA bucket",
                OriginAccessControlOriginType="s3", SigningBehavior="always",
                SigningProtocol="sigv4"),
        ))

    def _function(self, title: str, source: str, comment: str, **config: object) -> cf.Function:
        """A published viewer-request CloudFront Function from ``functions/<source>``."""
        return self.t.add_resource(cf.Function(
            title,
            Name=f"{self.prefix}-{source.removesuffix('.js').replace('_', '-')}",
            AutoPublish=True,
            FunctionCode=(FUNCTIONS_DIR / source).read_text(encoding="utf-8"),
            FunctionConfig=cf.FunctionConfig(Comment=comment, Runtime="cloudfront-js-2.0",
                                             **config),
        ))

    @cached_property
    def spa_function(self) -> cf.Function:
        return self._function("SpaFallbackFunction", "spa_fallback.js",
                              "SPA routes (no file extension) -> /index.html")

    @cached_property
    def content_security_policy(self) -> str:
        """platform.yaml's policy; with a user pool, the SPA may also fetch tokens from its
        sign-in domain (the code exchange and refresh go to its /oauth2/token)."""
        policy = self.settings.security_headers.content_security_policy
        if self.platform.auth is None:
            return policy
        policy = with_source(policy, "connect-src", f"https://{self.platform.auth.hosted_domain}")
        if len(policy) > MAX_CSP:
            raise ConfigError("config/platform.yaml", "edge.security_headers."
                              "content_security_policy", (
                                  f"with the sign-in domain added to connect-src it is "
                                  f"{len(policy)} characters (CloudFront allows {MAX_CSP})"))
        return policy

    @cached_property
    def security_headers(self) -> cf.ResponseHeadersPolicy:
        h = self.settings.security_headers
        return self.t.add_resource(cf.ResponseHeadersPolicy(
            "SecurityHeaders",
            ResponseHeadersPolicyConfig=cf.ResponseHeadersPolicyConfig(
                Name=f"{self.prefix}-security-headers",
                Comment="Security headers on every response",
                SecurityHeadersConfig=cf.SecurityHeadersConfig(
                    ContentSecurityPolicy=cf.ContentSecurityPolicy(
                        ContentSecurityPolicy=self.content_security_policy, Override=True),
                    ContentTypeOptions=cf.ContentTypeOptions(Override=True),
                    FrameOptions=cf.FrameOptions(FrameOption=h.frame_options, Override=True),
                    ReferrerPolicy=cf.ReferrerPolicy(ReferrerPolicy=h.referrer_policy,
                                                     Override=True),
                    StrictTransportSecurity=cf.StrictTransportSecurity(
                        AccessControlMaxAgeSec=h.hsts_max_age, IncludeSubdomains=True,
                        Preload=True, Override=True),
                    XSSProtection=cf.XSSProtection(Protection=True, ModeBlock=True,
                                                   Override=True),
                ),
            ),
        ))

    @cached_property
    def api_cache_policy(self) -> cf.CachePolicy:
        """DefaultTTL 0: nothing is cached unless the API sends Cache-Control (routes that
        declare cache_ttl do); query strings are part of the key (search?q=...).

        ``Authorization`` (the signed-in user's token) is part of the key too: CloudFront
        removes it from origin requests unless a cache policy includes it, and headers in
        the cache key always reach the origin; an origin request policy cannot forward
        it (AllViewerExceptHostHeader does not). In the key, a response to one token is
        never served to a request carrying another token, or none.
        https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-401-unauthorized.html
        https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/add-origin-custom-headers.html#add-origin-custom-headers-forward-authorization
        https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/controlling-the-cache-key.html
        """
        return self.t.add_resource(cf.CachePolicy(
            "ApiCachePolicy",
            CachePolicyConfig=cf.CachePolicyConfig(
                Name=f"{self.prefix}-api",
                Comment="Honours origin Cache-Control; query strings and Authorization in "
                        "the key",
                DefaultTTL=0, MinTTL=0, MaxTTL=MAX_API_TTL,
                ParametersInCacheKeyAndForwardedToOrigin=cf.ParametersInCacheKeyAndForwardedToOrigin(
                    EnableAcceptEncodingGzip=True, EnableAcceptEncodingBrotli=True,
                    CookiesConfig=cf.CacheCookiesConfig(CookieBehavior="none"),
                    HeadersConfig=cf.CacheHeadersConfig(HeaderBehavior="whitelist",
                                                        Headers=[AUTHORIZATION]),
                    QueryStringsConfig=cf.CacheQueryStringsConfig(QueryStringBehavior="all"),
                ),
            ),
        ))

    # ------------------------------------------------------------------ routing

    def site_origin(self) -> cf.Origin:
        return cf.Origin(
            Id=S3_ORIGIN,
            DomainName=GetAtt(self.site_bucket, "RegionalDomainName"),
            S3OriginConfig=cf.S3OriginConfig(OriginAccessIdentity=""),
            OriginAccessControlId=GetAtt(self.origin_access_control, "Id"),
        )

    def default_behavior(self) -> cf.DefaultCacheBehavior:
        return cf.DefaultCacheBehavior(
            TargetOriginId=S3_ORIGIN,
            ViewerProtocolPolicy="redirect-to-https",
            AllowedMethods=["GET", "HEAD", "OPTIONS"],
            CachedMethods=["GET", "HEAD"],
            Compress=True,
            CachePolicyId=CACHING_OPTIMIZED,
            ResponseHeadersPolicyId=Ref(self.security_headers),
            FunctionAssociations=[cf.FunctionAssociation(
                EventType="viewer-request",
                FunctionARN=GetAtt(self.spa_function, "FunctionMetadata.FunctionARN"))],
        )

    @cached_property
    def route_store(self) -> cf.KeyValueStore:
        # Keys are service names, values the route JSON: 512 bytes per key, 1 KB per
        # value, 5 MB per store (checked in config):
        # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-functions
        return self.t.add_resource(cf.KeyValueStore(
            "RouteStore", Name=self.platform.names.route_store,
            Comment="API routes: service -> API domain, stage path, origin secret"))

    @cached_property
    def router_function(self) -> cf.Function:
        # One store per function:
        # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/kvs-with-functions-associate.html
        return self._function(
            "ApiRouterFunction", "api_router.js",
            "/api/<svc>/* -> that service's API (KeyValueStore lookup)",
            KeyValueStoreAssociations=[cf.KeyValueStoreAssociation(
                KeyValueStoreARN=GetAtt(self.route_store, "Arn"))])

    @cached_property
    def registrar_role(self) -> iam.Role:
        """May read and write the route store, nothing else; assumed by deploy roles of
        the service accounts (role chaining from the service's own deploy role)."""
        deploy_roles = Sub(f"arn:${{AWS::Partition}}:iam::*:role/"
                           f"{deploy_role_name(self.platform.name, self.platform.home_region)}")
        trust = Policy(Version="2012-10-17", Statement=[Statement(
            Effect=Allow, Principal=Principal("AWS", Ref(self.registrar_accounts)),
            Action=[sts.AssumeRole],
            Condition=Condition(ArnLike({"aws:PrincipalArn": deploy_roles})),
        )])
        write = Policy(Version="2012-10-17", Statement=[Statement(
            Sid="RouteStoreOnly", Effect=Allow,
            Action=[Action("cloudfront-keyvaluestore", a) for a in KVS_ACTIONS],
            Resource=[GetAtt(self.route_store, "Arn")],
        )])
        return self.t.add_resource(iam.Role(
            "RouteRegistrarRole", RoleName=self.platform.names.route_registrar_role,
            Description="Writes service routes into the edge's KeyValueStore",
            AssumeRolePolicyDocument=trust, MaxSessionDuration=3600,
            Policies=[iam.Policy(PolicyName="route-store", PolicyDocument=write)],
            Tags=self.tags()))

    def api_origin(self) -> cf.Origin:
        # Never used for a request: the router either points the request at a service's
        # API or answers 404 itself. Should that ever fail, this origin fails closed (the
        # private bucket, unsigned, answers 403) and carries no secret.
        return cf.Origin(
            Id=API_ORIGIN,
            DomainName=GetAtt(self.site_bucket, "RegionalDomainName"),
            CustomOriginConfig=cf.CustomOriginConfig(
                HTTPSPort=443, OriginProtocolPolicy="https-only",
                OriginSSLProtocols=["TLSv1.2"]),
        )

    def api_behavior(self) -> cf.CacheBehavior:
        return cf.CacheBehavior(
            PathPattern=API_PATH_PATTERN,
            TargetOriginId=API_ORIGIN,
            ViewerProtocolPolicy="https-only",
            AllowedMethods=ALL_METHODS,
            CachedMethods=["GET", "HEAD"],
            Compress=True,
            CachePolicyId=Ref(self.api_cache_policy),
            OriginRequestPolicyId=ALL_VIEWER_EXCEPT_HOST,
            ResponseHeadersPolicyId=Ref(self.security_headers),
            FunctionAssociations=[cf.FunctionAssociation(
                EventType="viewer-request",
                FunctionARN=GetAtt(self.router_function, "FunctionMetadata.FunctionARN"))],
        )

    def viewer_certificate(self) -> cf.ViewerCertificate:
        if self.certificate_arn is None:
            return cf.ViewerCertificate(CloudFrontDefaultCertificate=True)
        return cf.ViewerCertificate(AcmCertificateArn=Ref(self.certificate_arn),
                                    SslSupportMethod="sni-only",
                                    MinimumProtocolVersion="TLSv1.2_2021")

    @cached_property
    def distribution(self) -> cf.Distribution:
        config: dict[str, object] = dict(
            Comment=f"{self.prefix}: SPA and /api/<svc>/*",
            Enabled=True,
            HttpVersion="http2and3",
            IPV6Enabled=True,
            DefaultRootObject="index.html",
            PriceClass=self.settings.price_class,
            WebACLId=Ref(self.web_acl_arn),
            Origins=[self.site_origin(), self.api_origin()],
            DefaultCacheBehavior=self.default_behavior(),
            CacheBehaviors=[self.api_behavior()],
            CustomErrorResponses=[cf.CustomErrorResponse(ErrorCode=code, ErrorCachingMinTTL=0)
                                  for code in ERROR_CODES],
            ViewerCertificate=self.viewer_certificate(),
            Logging=cf.Logging(Bucket=GetAtt(self.log_bucket, "DomainName"),
                               Prefix="cloudfront/", IncludeCookies=False),
        )
        if self.platform.domain is not None:
            config["Aliases"] = [self.platform.domain.name]
        return self.t.add_resource(cf.Distribution(
            "Distribution", DistributionConfig=cf.DistributionConfig(**config), Tags=self.tags()))

    @cached_property
    def dns_records(self) -> list[route53.RecordSetType]:
        domain = self.platform.domain
        if domain is None:
            return []
        return [self.t.add_resource(route53.RecordSetType(
            f"Alias{kind}",
            HostedZoneId=domain.hosted_zone_id,
            Name=domain.name,
            Type=kind,
            AliasTarget=route53.AliasTarget(DNSName=GetAtt(self.distribution, "DomainName"),
                                            HostedZoneId=CLOUDFRONT_ZONE),
        )) for kind in ("A", "AAAA")]

