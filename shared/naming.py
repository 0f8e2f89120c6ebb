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
