"""One chokepoint for boto3: one botocore session, credentials per account, region and role.

``client(service, account, region)`` returns a client acting in ``account``: the
caller's session (profile or environment) assumes the deploy role that ``archway
bootstrap`` made in that account and region (``<platform>-deploy-<region>``). On the local
cloud the same calls go to moto on 127.0.0.1, where assuming a role in an account
yields credentials that act in that account. Tests inject stubs with ``on_client``.

Every client comes from the same botocore session: its loader reads each service model
(the JSON that describes an API, several MB for some services) once per process, however
many accounts and regions a deploy touches. What differs between accounts is only the
credentials, which each client is given explicitly (``create_client`` with the assumed
role's keys, see
https://boto3.amazonaws.com/v1/documentation/api/latest/guide/credentials.html#passing-credentials-as-parameters
). Clients are cached per service, account, region and role, so each keeps its HTTP
connections alive between calls (botocore pools connections per client, see
``max_pool_connections`` in
https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
). Clients are thread-safe once made, sessions are not, so the session is only touched
under the lock
(https://boto3.amazonaws.com/v1/documentation/api/latest/guide/session.html#multithreading-or-multiprocessing-with-sessions,
https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html#multithreading-or-multiprocessing-with-clients).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from archway.shared.errors import ArchwayError
from archway.shared.naming import deploy_role_name, lookup_role

Role = Literal["deploy", "lookup"]

RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=10,
                 read_timeout=60)
LOCAL_CREDENTIALS = {"aws_access_key_id": "archway-local", "aws_secret_access_key": "local"}
ASSUMED_FOR = 3600  # seconds; a deploy that runs longer re-runs with fresh credentials


class CredentialsError(ArchwayError):
    exit_code = 1


class ConnectionManager:
    def __init__(self, platform: str, home_region: str, *, profile: str | None = None,
                 region: str | None = None, endpoint_url: str | None = None,
                 assume_role: bool = True, role_name: str | None = None) -> None:
        self.platform = platform
        self.role_name = role_name  # None: the deploy role bootstrap made in that region
        self.home_region = region or home_region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.assume_role = assume_role
        self.on_client: Callable[[Any], None] | None = None  # tests attach Stubbers here
        self._lock = threading.RLock()
        self._base: boto3.Session | None = None
        self._credentials: dict[tuple[str, str, str], Credentials | None] = {}
        self._clients: dict[tuple[str, ...], Any] = {}
        self._sts: Any = None  # the caller's own STS client (assumes the roles)

    @property
    def local(self) -> bool:
        return self.endpoint_url is not None

    def base_session(self) -> boto3.Session:
        """The caller's own session; every client of this manager is made from it."""
        with self._lock:
            if self._base is None:
                if self.local:
                    self._base = boto3.Session(region_name=self.home_region,
                                               **LOCAL_CREDENTIALS)
                else:
                    self._base = boto3.Session(profile_name=self.profile,
                                               region_name=self.home_region)
            return self._base

    def role_arn(self, account: str, region: str, role: Role = "deploy") -> str:
        """The role assumed to act in ``account`` and ``region``.

        Each bootstrapped region has its own deploy role (its policy names that region's
        stacks), so us-east-1 stacks of the platform account use that region's role.
        ``lookup`` is the read-only role bootstrap made beside it: reads of stacks this
        deploy does not own (other accounts' outputs, the origin secrets) go through it.
        """
        partition = self.base_session().get_partition_for_region(region)
        if self.role_name:
            name = self.role_name
        elif role == "lookup":
            name = lookup_role(self.platform, region)
        else:
            name = deploy_role_name(self.platform, region)
        return f"arn:{partition}:iam::{account}:role/{name}"

    def credentials_for(self, account: str, region: str,
                        role: Role = "deploy") -> Credentials | None:
        """The credentials acting in ``account`` (None: the caller's own, not assumed)."""
        key = (account, region, role)
        with self._lock:
            if key not in self._credentials:
                self._credentials[key] = self._assume(account, region, role)
            return self._credentials[key]

    def _assume(self, account: str, region: str, role: Role = "deploy") -> Credentials | None:
        if not self.assume_role:
            return None
        if self._sts is None:
            self._sts = self._make("sts", self.home_region, None)
        sts = self._sts
        arn = self.role_arn(account, region, role)
        try:
            credentials = sts.assume_role(RoleArn=arn, RoleSessionName="archway-deploy",
                                          DurationSeconds=ASSUMED_FOR)["Credentials"]
        except NoCredentialsError:
            raise CredentialsError("no AWS credentials found: log in (e.g. aws sso login), "
                                   "set AWS_PROFILE or pass --profile") from None
        except (ClientError, BotoCoreError) as exc:
            caller = self._caller(sts)
            raise CredentialsError(f"cannot assume {arn} from {caller}: {exc} (was the account "
                                   "bootstrapped? see docs/bootstrap.md)") from None
        return _frozen(credentials)

    @staticmethod
    def _caller(sts: Any) -> str:
        try:
            return str(sts.get_caller_identity()["Arn"])
        except (ClientError, BotoCoreError):
            return "the current credentials (no identity: are you logged in?)"

    def _make(self, service: str, region: str, credentials: Credentials | None) -> Any:
        """A new client from the one session, with ``credentials`` (None: the caller's)."""
        keys = {} if credentials is None else {
            "aws_access_key_id": credentials.access_key,
            "aws_secret_access_key": credentials.secret_key,
            "aws_session_token": credentials.token}
        with self._lock:
            return self.base_session().client(service, region_name=region,
                                              endpoint_url=self.endpoint_url, config=RETRIES,
                                              **keys)

    def _cached(self, key: tuple[str, ...], make: Callable[[], Any]) -> Any:
        with self._lock:
            cached = self._clients.get(key)
        if cached is not None:
            return cached
        client = make()
        if self.on_client is not None:
            self.on_client(client)
        with self._lock:
            return self._clients.setdefault(key, client)

    def client(self, service: str, account: str, region: str, role: Role = "deploy") -> Any:
        return self._cached((service, account, region, role), lambda: self._make(
            service, region, self.credentials_for(account, region, role)))

    def chained_client(self, service: str, role_arn: str, via_account: str,
                       via_region: str) -> Any:
        """A client acting as ``role_arn``, assumed from the deploy role of ``via_account``
        (role chaining: e.g. a service account's deploy role -> the edge's registrar)."""
        def make() -> Any:
            sts = self.client("sts", via_account, via_region)
            try:
                credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="archway-routes",
                                              DurationSeconds=ASSUMED_FOR)["Credentials"]
            except (ClientError, BotoCoreError) as exc:
                raise CredentialsError(f"cannot assume {role_arn} from the deploy role of "
                                       f"{via_account}: {exc}") from None
            return self._make(service, self.home_region, _frozen(credentials))

        return self._cached((service, role_arn, f"{via_account}/{via_region}", "chained"), make)

    def credentials(self, account: str, region: str) -> dict[str, str]:
        """Plain credentials acting in ``account`` (the local Lambda runner's workers)."""
        own = self.credentials_for(account, region)
        frozen = (own if own is not None else
                  self.base_session().get_credentials().get_frozen_credentials())
        return {"AWS_ACCESS_KEY_ID": frozen.access_key,
                "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
                "AWS_SESSION_TOKEN": frozen.token or ""}


def _frozen(assumed: dict[str, Any]) -> Credentials:
    return Credentials(assumed["AccessKeyId"], assumed["SecretAccessKey"],
                       assumed["SessionToken"], method="assume-role")
