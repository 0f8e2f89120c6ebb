"""Origin secrets: generated once, kept encrypted in the platform account, never printed.

Each service's secret is an SSM SecureString (KMS-encrypted) in the platform account's
home region at ``/<platform>/<env>/origin-secret/<service>``. The edge reads it to send
as ``x-api-key``; the service's API key is created with the same value.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from botocore.exceptions import ClientError

from archway.shared.deploy.connections import ConnectionManager, Role
from archway.shared.errors import ArchwayError
from archway.shared.model import Platform


class SecretStore:
    def __init__(self, connections: ConnectionManager, platform: Platform) -> None:
        self.connections = connections
        self.platform = platform
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}

    def _ssm(self, role: Role = "deploy") -> Any:
        return self.connections.client("ssm", self.platform.account, self.platform.home_region,
                                       role)

    def get_or_create(self, name: str) -> str:
        with self._lock:
            if name not in self._cache:
                try:
                    self._cache[name] = self._read(name) or self._create(name)
                except ArchwayError as exc:
                    raise ArchwayError(f"origin secret of {name} (platform account "
                                       f"{self.platform.account}): {exc}") from None
            return self._cache[name]

    def _read(self, name: str) -> str | None:
        try:
            # Read through the platform account's read-only lookup role: a service's
            # pipeline may read its secret there but may not deploy there.
            response = self._ssm("lookup").get_parameter(
                Name=self.platform.names.secret_parameter(name), WithDecryption=True)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                return None
            raise
        return str(response["Parameter"]["Value"])

    def _create(self, name: str) -> str:
        value = secrets.token_urlsafe(32)
        try:
            self._ssm().put_parameter(
                Name=self.platform.names.secret_parameter(name), Type="SecureString",
                Value=value, Overwrite=False,
                Description=f"Archway origin secret of service {name} (edge -> API)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ParameterAlreadyExists":
                raise
            return self._read(name) or value  # another deploy made it first: use theirs
        return value
