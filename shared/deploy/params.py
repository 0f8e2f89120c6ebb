"""Origin secrets: generated once, kept encrypted in the platform account, never printed.

Each service's secret is an SSM SecureString (KMS-encrypted) in the platform account's
home region at ``/<platform>/<env>/origin-secret/<service>``. The edge reads it to send
as ``x-api-key``; the service's API key is created with the same value.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from archway.shared.deploy.connections import ConnectionManager, Role
from archway.shared.errors import ArchwayError
from archway.shared.model import Platform

GET_PARAMETERS_MAX = 10


class SecretStore:
    def __init__(self, connections: ConnectionManager, platform: Platform) -> None:
        self.connections = connections
        self.platform = platform
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}
        self._missing: set[str] = set()  # not there when prefetched: made without a read

    def _ssm(self, role: Role = "deploy") -> Any:
        return self.connections.client("ssm", self.platform.account, self.platform.home_region,
                                       role)

    def get_or_create(self, name: str) -> str:
        with self._lock:
            if name not in self._cache:
                try:
                    self._cache[name] = ((None if name in self._missing else self._read(name))
                                         or self._create(name))
                except ArchwayError as exc:
                    raise ArchwayError(f"origin secret of {name} (platform account "
                                       f"{self.platform.account}): {exc}") from None
            return self._cache[name]

    def prefetch(self, names: list[str]) -> None:
        """Read the secrets of ``names`` ten per GetParameters call (its limit: "Maximum
        number of 10 items",
        https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html)
        instead of one call each (the edge's deploy needs every service's); those not made
        yet are made by ``get_or_create``. Only a shortcut: if the call fails (a lookup
        role bootstrapped before it allowed ssm:GetParameters refuses it), each secret is
        read on its own when needed, and a real problem is reported there, with its name."""
        with self._lock:
            wanted = sorted({n for n in names if n not in self._cache})
        for start in range(0, len(wanted), GET_PARAMETERS_MAX):
            batch = {self.platform.names.secret_parameter(n): n
                     for n in wanted[start:start + GET_PARAMETERS_MAX]}
            try:
                reply = self._ssm("lookup").get_parameters(Names=list(batch),
                                                           WithDecryption=True)
            except (ArchwayError, ClientError, BotoCoreError):
                return
            with self._lock:
                for parameter in reply.get("Parameters", []):
                    self._cache.setdefault(batch[parameter["Name"]], str(parameter["Value"]))
                self._missing |= {n for n in batch.values() if n not in self._cache}

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
