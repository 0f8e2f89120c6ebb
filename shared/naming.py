"""Physical names of everything Archway creates: one place, one rule.

Every name starts with ``<platform>-<env>-`` so an execution role can be limited to
the platform's own resources and two environments never collide in one account.
"""

from __future__ import annotations

from dataclasses import dataclass

GLOBAL_REGION = "us-east-1"  # CloudFront's WAF web ACL and ACM certificate live here


@dataclass(frozen=True)
class Names:
    platform: str
    env: str

    @property
    def prefix(self) -> str:
        return f"{self.platform}-{self.env}"

    def service_stack(self, service: str) -> str:
        return f"{self.prefix}-svc-{service}"

    @property
    def edge_global_stack(self) -> str:
        return f"{self.prefix}-edge-global"

    @property
    def edge_stack(self) -> str:
        return f"{self.prefix}-edge"

    def pipeline_stack(self, name: str) -> str:
        return f"{self.prefix}-pipeline-{name}"

    def api(self, service: str) -> str:
        return f"{self.prefix}-{service}"

    def table(self, service: str, table: str) -> str:
        return f"{self.prefix}-{service}-{table}"

    def function(self, service: str, function: str) -> str:
        return f"{self.prefix}-{service}-{function}"

    @property
    def route_store(self) -> str:
        """The edge's CloudFront KeyValueStore of API routes."""
        return f"{self.prefix}-routes"

    @property
    def route_registrar_role(self) -> str:
        return f"{self.prefix}-route-registrar"

    def secret_parameter(self, service: str) -> str:
        """SSM SecureString (platform account) holding a service's origin secret."""
        return f"/{self.platform}/{self.env}/origin-secret/{service}"


def deploy_role_name(platform: str, region: str) -> str:
    """The role ``archway bootstrap`` creates for deploys in every account and region."""
    return f"{platform}-deploy-{region}"


def route_path(service: str, path: str) -> str | None:
    """The public path of a route: ``/search`` -> ``/api/catalog/search``.

    A path already under ``/api/`` must be under the service's own prefix; None if not.
    """
    prefix = f"/api/{service}"
    if path.startswith("/api/"):
        return path if path.startswith(prefix + "/") else None
    return prefix + path


def logical_id(*parts: str) -> str:
    """CloudFormation logical id from name parts: ('products', 'search-x') -> ProductsSearchX."""
    words = []
    for part in parts:
        words += part.replace("_", "-").replace("{", "").replace("}", "").split("-")
    return "".join(w[:1].upper() + w[1:] for w in words if w)


# ------------------------------------------------------- bootstrap (per account, region)
# One set per account and region (IAM names are account-wide, bootstrap is regional).


def execution_role(platform: str, region: str) -> str:
    """What CloudFormation acts as (computed from the templates' resource types)."""
    return f"{platform}-cfn-exec-{region}"


def lookup_role(platform: str, region: str) -> str:
    """Read-only: stack outputs of the platform's stacks (and, in the platform account,
    the origin secrets). Pipelines read other accounts through it, never a deploy role."""
    return f"{platform}-lookup-{region}"


def bootstrap_role_patterns(platform: str) -> tuple[str, ...]:
    """Role name patterns of everything bootstrap makes: no template may touch them."""
    return (f"{platform}-deploy-*", f"{platform}-cfn-exec-*", f"{platform}-lookup-*",
            f"{platform}-apigw-logs-*")


def pipeline_deploy_role(platform: str, pipeline: str) -> str:
    """The tooling account role a pipeline's deploy builds run as (trusted by name)."""
    return f"{platform}-tooling-{pipeline}-deploy"


def pipeline_deploy_role_pattern(platform: str) -> str:
    return f"{platform}-tooling-*-deploy"


def deployed_digest_parameter(platform: str, stack: str) -> str:
    """SSM parameter (the stack's account and region) holding what was last deployed:
    the no-op key lives here, never on the stack (stack tags reach every resource)."""
    return f"/{platform}/deployed/{stack}"
