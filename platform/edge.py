"""edge (home region): the SPA bucket, Origin Access Control, the distribution, DNS.

Default behavior -> private S3 bucket (CachingOptimized, security headers, the SPA
fallback function). One ordered behavior per service ``/api/<svc>/*`` -> that service's
API (AllViewerExceptHostHeader, an API cache policy that honours origin Cache-Control,
the origin secret as ``x-api-key``). No distribution-wide custom error responses: they
would turn API 404s into index.html.

Routing lives in :meth:`EdgeBlueprint.api_routes`; a later router mode (one ``/api/*``
behavior whose function picks the origin from a KeyValueStore) replaces that method.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from awacs import s3 as s3_actions
from awacs.aws import Allow, Condition, Principal, Statement, StringEquals
from troposphere import GetAtt, Ref, Sub, route53, s3
from troposphere import cloudfront as cf

from archway.shared.blueprint import StackDef, new_template, output, secret, stack_output, tags
from archway.shared.blueprint.storage import private_bucket
from archway.shared.model import Platform, ServiceModel

FUNCTIONS_DIR = Path(__file__).parent / "functions"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # managed cache policy
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # managed origin request policy
CLOUDFRONT_ZONE = "Z2FDTNDATAQYW2"  # hosted zone of every CloudFront alias target
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]
S3_ORIGIN = "site"
MAX_API_TTL = 3600


def edge_stack(platform: Platform) -> StackDef:
    return EdgeBlueprint(platform).build()


def api_origin_id(service: ServiceModel) -> str:
    return f"api-{service.name}"


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
        _ = self.distribution, self.dns_records
        output(self.t, "DistributionId", Ref(self.distribution), "CloudFront distribution id")
        output(self.t, "DistributionDomain", GetAtt(self.distribution, "DomainName"),
               "CloudFront domain name")
        output(self.t, "SiteBucket", Ref(self.site_bucket), "Bucket of the single-page app")
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

    def api_parameters(self, service: ServiceModel) -> tuple[object, object]:
        """The service's API domain (its stack output) and origin secret (NoEcho)."""
        name = service.logical
        domain = self.stack.add_parameter(
            f"{name}ApiDomain", stack_output(f"svc-{service.name}", "ApiDomain"),
            f"API domain of service {service.name} (account {service.account})")
        origin_secret = self.stack.add_parameter(
            f"{name}OriginSecret", secret(service.name),
            f"Origin secret of service {service.name}")
        return domain, origin_secret

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
            BucketName=f"{self.prefix}-site-{self.platform.account}-{self.platform.home_region}")

    @cached_property
    def log_bucket(self) -> s3.Bucket:
        # CloudFront standard logs are delivered with an ACL: the log bucket needs them.
        return private_bucket(
            self.t, "LogBucket", ownership="BucketOwnerPreferred", versioned=False,
            Tags=self.tags(),
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

    @cached_property
    def spa_function(self) -> cf.Function:
        code = (FUNCTIONS_DIR / "spa_fallback.js").read_text(encoding="utf-8")
        return self.t.add_resource(cf.Function(
            "SpaFallbackFunction",
            Name=f"{self.prefix}-spa-fallback",
            AutoPublish=True,
            FunctionCode=code,
            FunctionConfig=cf.FunctionConfig(
                Comment="SPA routes (no file extension) -> /index.html",
                Runtime="cloudfront-js-2.0"),
        ))

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
                        ContentSecurityPolicy=h.content_security_policy, Override=True),
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
        # DefaultTTL 0: nothing is cached unless the API sends Cache-Control (routes that
        # declare cache_ttl do); query strings are part of the key (search?q=...).
        return self.t.add_resource(cf.CachePolicy(
            "ApiCachePolicy",
            CachePolicyConfig=cf.CachePolicyConfig(
                Name=f"{self.prefix}-api",
                Comment="Honours origin Cache-Control; query strings in the key",
                DefaultTTL=0, MinTTL=0, MaxTTL=MAX_API_TTL,
                ParametersInCacheKeyAndForwardedToOrigin=cf.ParametersInCacheKeyAndForwardedToOrigin(
                    EnableAcceptEncodingGzip=True, EnableAcceptEncodingBrotli=True,
                    CookiesConfig=cf.CacheCookiesConfig(CookieBehavior="none"),
                    HeadersConfig=cf.CacheHeadersConfig(HeaderBehavior="none"),
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

    def api_routes(self) -> tuple[list[cf.Origin], list[cf.CacheBehavior]]:
        """Behaviors mode: one origin and one ordered behavior per service."""
        origins, behaviors = [], []
        for service in self.platform.services:
            domain, origin_secret = self.api_parameters(service)
            origins.append(cf.Origin(
                Id=api_origin_id(service),
                DomainName=Ref(domain),
                OriginPath=f"/{service.stage}",
                CustomOriginConfig=cf.CustomOriginConfig(
                    HTTPSPort=443, OriginProtocolPolicy="https-only",
                    OriginSSLProtocols=["TLSv1.2"]),
                OriginCustomHeaders=[cf.OriginCustomHeader(
                    HeaderName="x-api-key", HeaderValue=Ref(origin_secret))],
            ))
            behaviors.append(cf.CacheBehavior(
                PathPattern=service.path_pattern,
                TargetOriginId=api_origin_id(service),
                ViewerProtocolPolicy="https-only",
                AllowedMethods=ALL_METHODS,
                CachedMethods=["GET", "HEAD"],
                Compress=True,
                CachePolicyId=Ref(self.api_cache_policy),
                OriginRequestPolicyId=ALL_VIEWER_EXCEPT_HOST,
                ResponseHeadersPolicyId=Ref(self.security_headers),
            ))
        return origins, behaviors

    def viewer_certificate(self) -> cf.ViewerCertificate:
        if self.certificate_arn is None:
            return cf.ViewerCertificate(CloudFrontDefaultCertificate=True)
        return cf.ViewerCertificate(AcmCertificateArn=Ref(self.certificate_arn),
                                    SslSupportMethod="sni-only",
                                    MinimumProtocolVersion="TLSv1.2_2021")

    @cached_property
    def distribution(self) -> cf.Distribution:
        api_origins, api_behaviors = self.api_routes()
        config: dict[str, object] = dict(
            Comment=f"{self.prefix}: SPA and /api/<svc>/*",
            Enabled=True,
            HttpVersion="http2and3",
            IPV6Enabled=True,
            DefaultRootObject="index.html",
            PriceClass=self.settings.price_class,
            WebACLId=Ref(self.web_acl_arn),
            Origins=[self.site_origin(), *api_origins],
            DefaultCacheBehavior=self.default_behavior(),
            CacheBehaviors=api_behaviors,
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

