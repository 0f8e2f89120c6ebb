"""edge-global: what CloudFront needs from us-east-1 (WAF web ACL, ACM certificate).

The distribution stack (edge.py, home region) takes their ARNs as parameters.
"""

from __future__ import annotations

from functools import cached_property

from troposphere import GetAtt, Ref, Sub, logs
from troposphere import certificatemanager as acm
from troposphere import wafv2 as waf

from archway.shared.blueprint import StackDef, new_template, output, tags
from archway.shared.errors import ConfigError
from archway.shared.model import Platform
from archway.shared.naming import GLOBAL_REGION


def edge_global_stack(platform: Platform) -> StackDef:
    return EdgeGlobalBlueprint(platform).build()


ACTIONS = {"Allow": waf.AllowAction, "Block": waf.BlockAction}


def _visibility(name: str) -> waf.VisibilityConfig:
    return waf.VisibilityConfig(CloudWatchMetricsEnabled=True, SampledRequestsEnabled=True,
                                MetricName=name)


class EdgeGlobalBlueprint:
    region = GLOBAL_REGION

    def __init__(self, platform: Platform) -> None:
        if platform.global_region != GLOBAL_REGION:
            raise ConfigError("config/platform.yaml", "edge", (
                f"CloudFront's web ACL and certificate must be in {GLOBAL_REGION}, "
                f"got {platform.global_region}"))
        self.platform = platform
        self.settings = platform.settings.edge.waf
        self.stack = StackDef(
            id="edge-global",
            name=platform.names.edge_global_stack,
            account=platform.account,
            region=GLOBAL_REGION,
            template=new_template(f"Archway edge-global ({platform.env}): WAF web ACL and "
                                  "certificate for CloudFront"),
            kind="edge-global",
            termination_protection=platform.environment.termination_protection,
        )
        self.t = self.stack.template

    def build(self) -> StackDef:
        _ = self.waf_logging
        output(self.t, "WebAclArn", GetAtt(self.web_acl, "Arn"), "WAF web ACL for CloudFront")
        if self.certificate is not None:
            output(self.t, "CertificateArn", Ref(self.certificate),
                   "ACM certificate of the platform domain")
        return self.stack

    @property
    def prefix(self) -> str:
        return self.platform.names.prefix

    def _ip_set(self, name: str, addresses: tuple[str, ...]) -> waf.IPSet | None:
        if not addresses:
            return None
        versions = {"IPV6" if ":" in a else "IPV4" for a in addresses}
        if len(versions) > 1:
            raise ConfigError("config/platform.yaml", f"edge.waf.ip_{name}", (
                "an IP set holds one address family: split IPv4 and IPv6 "
                f"(got {', '.join(addresses)})"))
        return self.t.add_resource(waf.IPSet(
            f"IpSet{name.title()}",
            Name=f"{self.prefix}-ip-{name}",
            Scope="CLOUDFRONT",
            IPAddressVersion=versions.pop(),
            Addresses=list(addresses),
            Tags=tags(self.platform.name, self.platform.env),
        ))

    def rules(self) -> list[waf.WebACLRule]:
        """Priority order: allow list, deny list, geo block, managed groups, rate limit."""
        rules: list[waf.WebACLRule] = []
        allow = self._ip_set("allow", self.settings.ip_allow)
        if allow is not None:
            rules.append(self._rule("ip-allow", waf.Statement(
                IPSetReferenceStatement=waf.IPSetReferenceStatement(Arn=GetAtt(allow, "Arn"))),
                action="Allow"))
        deny = self._ip_set("deny", self.settings.ip_deny)
        if deny is not None:
            rules.append(self._rule("ip-deny", waf.Statement(
                IPSetReferenceStatement=waf.IPSetReferenceStatement(Arn=GetAtt(deny, "Arn")))))
        if self.settings.geo_block:
            rules.append(self._rule("geo-block", waf.Statement(
                GeoMatchStatement=waf.GeoMatchStatement(
                    CountryCodes=list(self.settings.geo_block)))))
        for group in self.settings.managed_rule_groups:
            rules.append(self._rule(group, waf.Statement(
                ManagedRuleGroupStatement=waf.ManagedRuleGroupStatement(
                    VendorName="AWS", Name=group)), managed=True))
        limit = self.settings.rate_limit
        rules.append(self._rule("rate-limit", waf.Statement(
            RateBasedStatement=waf.RateBasedStatement(
                Limit=limit.requests, EvaluationWindowSec=limit.window_seconds,
                AggregateKeyType="IP"))))
        for priority, rule in enumerate(rules):
            rule.Priority = priority
        return rules

    def _rule(self, name: str, statement: waf.Statement, action: str = "Block",
              managed: bool = False) -> waf.WebACLRule:
        props: dict[str, object] = dict(Name=name, Priority=0, Statement=statement,
                                        VisibilityConfig=_visibility(f"{self.prefix}-{name}"))
        if managed:
            props["OverrideAction"] = waf.OverrideAction(**{"None": {}})
        else:
            props["Action"] = waf.RuleAction(**{action: ACTIONS[action]()})
        return waf.WebACLRule(**props)

    @cached_property
    def web_acl(self) -> waf.WebACL:
        return self.t.add_resource(waf.WebACL(
            "WebAcl",
            Name=f"{self.prefix}-edge",
            Scope="CLOUDFRONT",
            DefaultAction=waf.DefaultAction(Allow=waf.AllowAction()),
            Rules=self.rules(),
            VisibilityConfig=_visibility(f"{self.prefix}-edge"),
            Tags=tags(self.platform.name, self.platform.env),
        ))

    @cached_property
    def waf_logs(self) -> logs.LogGroup:
        # WAF logs only to destinations named aws-waf-logs-*, and a CloudFront web ACL's
        # log group must be in us-east-1 (this stack's region):
        # https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html
        retention = (self.platform.environment.log_retention_days
                     or self.platform.settings.log_retention_days)
        return self.t.add_resource(logs.LogGroup(
            "WafLogs", LogGroupName=f"aws-waf-logs-{self.prefix}",
            RetentionInDays=retention, Tags=tags(self.platform.name, self.platform.env)))

    @cached_property
    def waf_logging(self) -> waf.LoggingConfiguration:
        """Every request the web ACL sees, with credentials redacted (FSBP WAF.11).

        The destination is the log group's ARN without the ``:*`` that its Arn attribute
        carries, which WAF refuses:
        https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-wafv2-loggingconfiguration.html
        """
        return self.t.add_resource(waf.LoggingConfiguration(
            "WafLogging",
            ResourceArn=GetAtt(self.web_acl, "Arn"),
            LogDestinationConfigs=[Sub(
                "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                "${Group}", Group=Ref(self.waf_logs))],
            RedactedFields=[
                waf.LoggingConfigurationFieldToMatch(SingleHeader=waf.SingleHeader(Name=name))
                for name in ("authorization", "cookie")],
        ))

    @cached_property
    def certificate(self) -> acm.Certificate | None:
        domain = self.platform.domain
        if domain is None:
            return None
        return self.t.add_resource(acm.Certificate(
            "Certificate",
            DomainName=domain.name,
            ValidationMethod="DNS",
            DomainValidationOptions=[acm.DomainValidationOption(
                DomainName=domain.name, HostedZoneId=domain.hosted_zone_id)],
            Tags=tags(self.platform.name, self.platform.env),
        ))
