"""The whole platform on one machine: moto + LocalProvider + runner + API and edge routers.

``archway local``: synth the ``local`` environment, deploy it with the same engine,
plan, parameters and assets as a real deploy, seed sample data, then serve the site
through the routing the real distribution uses. While it runs, ``archway deploy``
(env local) redeploys into it, and a changed handler file redeploys its service.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import watchfiles
from botocore.exceptions import ClientError

from archway.shared.deploy.display import Display
from archway.shared.deploy.engine import Engine
from archway.shared.deploy.provider import StackResult, Target
from archway.shared.deploy.routes import FileRoutes
from archway.shared.deploy.site import publish_site, site_config
from archway.shared.errors import ArchwayError
from archway.shared.local.api_router import ApiRouter
from archway.shared.local.cf_function import CloudFrontFunction
from archway.shared.local.deps import requirements_key
from archway.shared.local.edge_router import (
    MANAGED_CACHE_POLICIES,
    ApiOrigin,
    Behavior,
    EdgeRouter,
    FailClosedOrigin,
    S3Origin,
    WebAcl,
)
from archway.shared.local.engine import (  # noqa: F401 - re-exported for callers
    STATE_FILE,
    LocalCloudNotRunning,
    LocalEngine,
    code_locations,
    deploy_lock,
    ensure_asset_buckets,
    ensure_bucket,
    local_engine,
    route_store_path,
    running_endpoint,
    running_issuer,
    show_change_set,
    state_path,
)
from archway.shared.local.http import Request, Response
from archway.shared.local.moto_server import (
    HOST,
    LocalCloudError,
    MotoServer,
    free_port,
    port_free,
)
from archway.shared.local.oidc import (
    DEFAULT_CLIENT_ID,
    DEFAULT_SCOPES,
    LOCAL_USERS,
    Client,
    Issuer,
    IssuerServer,
)
from archway.shared.local.pages import diagram_pages
from archway.shared.local.probe import local_functions
from archway.shared.local.processes import clean_stale, process_tag, running_owner
from archway.shared.local.provider import context
from archway.shared.local.runner import IDLE_TIMEOUT, WARM_WORKERS, LambdaRunner
from archway.shared.local.seed import seed
from archway.shared.local.server import App, LocalServer, Router
from archway.shared.model import Platform, RouteAuthModel
from archway.shared.synth import synth

# What the local cloud asks of moto: ready before its port opens (moto_app.py).
MOTO_SERVICES = ("sts", "ssm", "s3", "dynamodb")


@dataclass
class Mounted:
    router: Router
    digests: dict[str, str | None]


class LocalCloud:
    def __init__(self, platform: Platform, port: int = 8080, moto_port: int = 0,
                 out: Callable[[str], None] = print, *, warm_workers: int = WARM_WORKERS,
                 idle_timeout: float = IDLE_TIMEOUT, trust_forwarded_for: bool = False,
                 interpreters: dict[str, str] | None = None,
                 auth_port: int | None = None) -> None:
        self.platform = platform
        self.interpreters = interpreters or {}  # runtime -> Python that runs its workers
        self.port = port
        self.auth_port = auth_port  # None: the edge port + 1, or any free port if taken
        self.issuer: Issuer | None = None  # the user pool's stand-in (made on first deploy)
        self.issuer_server: LocalServer | None = None
        self.trust_forwarded_for = trust_forwarded_for
        self.out = out
        self.warm_workers = warm_workers
        self.idle_timeout = idle_timeout
        self.work = platform.root / "build" / "local" / ".cloud"
        self.work.mkdir(parents=True, exist_ok=True)
        self.moto = MotoServer(moto_port, log=self.work / "moto.log", preload=MOTO_SERVICES)
        self.server: LocalServer | None = None
        self.runner: LambdaRunner | None = None
        self.engine: Engine | None = None
        self.app: App | None = None
        self._started = False
        self.apis: dict[str, ApiRouter] = {}  # execute-api domain -> API (what the edge reaches)
        self._routes: tuple[object, dict[str, str]] = (None, {})
        self._routes_path: tuple[Platform, str] | None = None  # the platform it is of

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        path = state_path(self.platform.root)
        if path.exists():
            try:
                state = json.loads(path.read_text())
            except ValueError:
                state = {}
            if running_owner(state) is not None:
                raise LocalCloudError(
                    f"archway local is already running for this repository (pid "
                    f"{state['pid']}, {state['url']}): stop it first, or deploy into it with "
                    "archway deploy")
            clean_stale(path, self.out)
        self.moto.launch()  # deploy waits for it, after synthesizing meanwhile
        self._started = True
        self._write_state()
        self.out(f"local AWS stand-in (moto) on {self.moto.endpoint}")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.issuer_server is not None:
            self.issuer_server.stop()
        if self.runner is not None:
            self.runner.close()
        self.moto.stop()
        if self._started:  # never remove the state of another instance that refused us
            state_path(self.platform.root).unlink(missing_ok=True)

    # ------------------------------------------------------------------- deploy

    def deploy(self, what: str = "all", service: str | None = None) -> list[StackResult]:
        result = synth(self.platform)
        self.moto.wait()
        self.engine = local_engine(self.platform, result, self.moto.endpoint, Display(),
                                   probe=False, summarize_new=True)
        results = self.engine.deploy(self.engine.select(what, service))
        failed = [r for r in results if not r.ok]
        if failed:
            raise ArchwayError("local deploy failed: " + "; ".join(
                f"{r.id}: {r.reason}" for r in failed))
        if self.issuer is None:
            self.issuer = self._issuer()
        return results

    def _issuer(self) -> Issuer:
        """The local OpenID Connect issuer: the SPA's client registered with the local
        edge's URLs (127.0.0.1 and localhost) as its callback and logout URLs."""
        client_id, scopes = self._auth_client()
        urls = (f"http://{HOST}:{self.port}/", f"http://localhost:{self.port}/")
        if self.auth_port is None:
            self.auth_port = self.port + 1 if port_free(self.port + 1) else free_port()
        return Issuer(f"http://{HOST}:{self.auth_port}",
                      [Client(client_id, urls, urls, scopes)])

    def _auth_client(self) -> tuple[str, tuple[str, ...]]:
        """The app client id and scopes of the deployed auth stack, when the environment
        has one and it could be read; the local defaults otherwise."""
        assert self.engine is not None
        target = next((t for t in self.engine.targets.values() if t.kind == "auth"), None)
        if target is None:
            return DEFAULT_CLIENT_ID, DEFAULT_SCOPES
        try:
            state = self.engine.provider_for(target).describe(target)
            client_id = str(state.outputs["ClientId"]) if state else DEFAULT_CLIENT_ID
        except (ClientError, KeyError, ArchwayError):
            client_id = DEFAULT_CLIENT_ID
        resources = target.template["Resources"].values()
        client: dict[str, Any] = next((r["Properties"] for r in resources
                                       if r["Type"] == "AWS::Cognito::UserPoolClient"), {})
        scopes = client.get("AllowedOAuthScopes")
        return client_id, tuple(scopes) if isinstance(scopes, list) else DEFAULT_SCOPES

    def publish_site(self) -> None:
        assert self.engine is not None and self.issuer is not None
        edge = self.engine.targets["edge"]
        bucket = self.engine.provider_for(edge).describe(edge).outputs["SiteBucket"]
        s3 = self.engine.connections.client("s3", edge.account, edge.region)
        (client,) = self.issuer.clients.values()
        config = site_config(self.issuer.url, client.client_id, client.scopes)
        publish_site(self.platform.site_dir, s3, bucket, log=lambda _line: None,
                     generated={"config.json": config})

    def seed(self, skip: frozenset[str] | set[str] = frozenset()) -> int:
        assert self.engine is not None
        return seed(self.platform, self.engine.connections.client, log=self.out, skip=skip)

    def activity(self) -> int:
        """Lambda invokes so far: what can change the service data while the cloud runs."""
        return self.runner.invocations if self.runner is not None else 0

    # ------------------------------------------------------------------ routers

    def mount(self) -> Mounted:
        assert self.engine is not None
        engine = self.engine
        digests = self._digests()  # before anything is read: a later change is seen next time
        if self.runner is None:
            self.runner = LambdaRunner(engine.connections.client, engine.connections.credentials,
                                       self.moto.endpoint, self.work, console=self.out,
                                       warm_workers=self.warm_workers,
                                       idle_timeout=self.idle_timeout,
                                       interpreters=self.interpreters)
        apis: dict[str, ApiRouter] = {}
        code = code_locations(self.platform)
        for target in engine.targets.values():
            if target.kind == "service":
                api = self._service(target, code)
                apis[api.domain] = api
        self.apis = apis
        edge = self._edge(engine.targets["edge"], engine.targets["edge-global"], apis)
        self._write_state({"apis": {api.service: api.domain for api in apis.values()}})
        return Mounted(Router(edge, apis, diagram_pages(self.platform)), digests)

    def _write_state(self, extra: dict[str, Any] | None = None) -> None:
        state = {"endpoint": self.moto.endpoint, "url": f"http://{HOST}:{self.port}",
                 "issuer": self.issuer.url if self.issuer else None,
                 "pid": os.getpid(), "moto_pid": self.moto.pid, "tag": process_tag(),
                 **(extra or {})}
        state_path(self.platform.root).write_text(json.dumps(state, indent=1))

    def _service(self, target: Target, code: dict[str, dict[str, str]]) -> ApiRouter:
        """The service's API; its functions are registered (their workers start on the
        first invoke)."""
        assert self.engine is not None and self.runner is not None
        ctx = context(target, self.engine.resolve(target).values)
        labels = {f.physical: f"{service.name}/{f.name}" for service in self.platform.services
                  for f in service.functions.values()}
        for function in local_functions(target, ctx, code.get(target.name), labels):
            self.runner.register(function)
        return ApiRouter.from_template(ctx, self.runner, self.issuer)

    def _edge(self, target: Target, edge_global: Target, apis: dict[str, ApiRouter]) -> EdgeRouter:
        assert self.engine is not None
        ctx = context(target, self.engine.resolve(target).values)
        resources = target.template["Resources"]
        by_physical = {ctx.ref(k): k for k in resources}
        config = ctx.evaluate(resources["Distribution"]["Properties"]["DistributionConfig"])
        origins: dict[str, Any] = {}
        for origin in config["Origins"]:
            if "S3OriginConfig" in origin:
                origins[origin["Id"]] = self._s3_origin(target, origin["DomainName"])
            elif origin["DomainName"] in apis:
                api = apis[origin["DomainName"]]
                headers = {h["HeaderName"]: h["HeaderValue"]
                           for h in origin.get("OriginCustomHeaders", [])}
                origins[origin["Id"]] = ApiOrigin(api.handle, api.domain,
                                                  origin.get("OriginPath", ""), headers)
            else:  # the router's placeholder: the private bucket, unsigned
                origins[origin["Id"]] = FailClosedOrigin()

        def policy(policy_id: str | None, kind: str) -> dict[str, Any] | None:
            if policy_id is None:
                return None
            if policy_id in MANAGED_CACHE_POLICIES:
                return MANAGED_CACHE_POLICIES[policy_id]
            props = ctx.evaluate(resources[by_physical[policy_id]]["Properties"])
            return self._with_local_issuer(dict(props[kind]))

        functions: dict[str, CloudFrontFunction] = {}

        def function(behavior: dict[str, Any]) -> CloudFrontFunction | None:
            for association in behavior.get("FunctionAssociations", []):
                if association["EventType"] == "viewer-request":
                    logical = association["FunctionARN"].rsplit("/", 1)[-1]
                    if logical not in functions:
                        props = resources[logical]["Properties"]
                        store = (self._route_snapshot if props["FunctionConfig"].get(
                            "KeyValueStoreAssociations") else None)
                        functions[logical] = CloudFrontFunction(props["FunctionCode"], logical,
                                                                store)
                    return functions[logical]
            return None

        behaviors = [
            Behavior(b.get("PathPattern"), b["TargetOriginId"], frozenset(b["AllowedMethods"]),
                     policy(b.get("CachePolicyId"), "CachePolicyConfig") or {},
                     policy(b.get("ResponseHeadersPolicyId"), "ResponseHeadersPolicyConfig"),
                     function(b))
            for b in [*config.get("CacheBehaviors", []), config["DefaultCacheBehavior"]]
        ]
        return EdgeRouter(behaviors, origins, config.get("DefaultRootObject"),
                          WebAcl.from_template(edge_global.template), f"{HOST}:{self.port}",
                          api_for=self._api_handle)

    def _with_local_issuer(self, policy: dict[str, Any]) -> dict[str, Any]:
        """The local issuer stands in for the user pool's managed login domain: where the
        site's Content-Security-Policy lets the SPA reach that domain, it reaches the
        issuer (as the API domains of the templates are reached in process)."""
        auth, issuer = self.platform.auth, self.issuer
        csp = policy.get("SecurityHeadersConfig", {}).get("ContentSecurityPolicy")
        if auth is None or issuer is None or not csp:
            return policy
        value = str(csp["ContentSecurityPolicy"]).replace(f"https://{auth.hosted_domain}",
                                                          issuer.url)
        headers = {**policy["SecurityHeadersConfig"],
                   "ContentSecurityPolicy": {**csp, "ContentSecurityPolicy": value}}
        return {**policy, "SecurityHeadersConfig": headers}

    def _api_handle(self, domain: str) -> Callable[[Request], Awaitable[Response]] | None:
        api = self.apis.get(domain)
        return api.handle if api is not None else None

    def _route_snapshot(self) -> tuple[object, dict[str, str]]:
        """The route store as the router function sees it; re-read when the file changes.

        Called on every request through the router function: the file's path is worked out
        once per platform (a config reload makes a new one), and only stat(2) is left."""
        if self._routes_path is None or self._routes_path[0] is not self.platform:
            self._routes_path = (self.platform, str(route_store_path(self.platform)))
        path = self._routes_path[1]
        try:
            version: object = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            return None, {}
        if version != self._routes[0]:
            self._routes = (version, FileRoutes(Path(path)).items())
        return self._routes

    def _s3_origin(self, target: Target, domain: str) -> S3Origin:
        assert self.engine is not None
        bucket = domain.split(".s3.", 1)[0]
        s3 = self.engine.connections.client("s3", target.account, target.region)

        def get_object(key: str) -> tuple[bytes, dict[str, str]] | None:
            try:
                found = s3.get_object(Bucket=bucket, Key=key)
            except ClientError:
                return None
            headers = {"content-type": found.get("ContentType", "binary/octet-stream"),
                       "etag": found.get("ETag", "")}
            if found.get("CacheControl"):
                headers["cache-control"] = found["CacheControl"]
            return found["Body"].read(), headers

        return S3Origin(get_object)

    # -------------------------------------------------------------------- serve

    def describe_mounts(self, mounted: Mounted) -> list[str]:
        waf = self.platform.settings.edge.waf
        lines = [f"  edge: WAF rate limit {waf.rate_limit.requests} requests per "
                 f"{waf.rate_limit.window_seconds} s per IP, IP allow/deny lists; managed "
                 "rule groups and geo rules apply on AWS only"]
        if self.issuer is not None:
            users = ", ".join(user.username for user in LOCAL_USERS)
            lines.append(f"  sign-in: local OpenID Connect issuer {self.issuer.url} (stands in "
                         f"for the user pool; users {users}, passwords in docs/auth.md)")
        for service in self.platform.services:
            lines.append(f"  {service.name} (account {service.account}, stack "
                         f"{service.stack_name})")
            for route in service.routes:
                function = service.functions[route.function].physical
                lines.append(f"    {route.method:<6} {route.path:<38} -> {function}"
                             + _signed_in(route.auth))
        return lines

    def serve(self, mounted: Mounted) -> None:
        self.app = App(mounted.router, log=self.out, trust_forwarded_for=self.trust_forwarded_for)
        if self.issuer is not None:
            issuer = IssuerServer(self.issuer)
            self.issuer_server = LocalServer(App(Router(issuer, {}), log=self.out),
                                             port=urlsplit(self.issuer.url).port or 0,
                                             name="archway-issuer", option="--auth-port")
            self.issuer_server.start()
        self.server = LocalServer(self.app, port=self.port)
        self.server.start()

    def watch(self, mounted: Mounted, stop: threading.Event | None = None) -> None:
        """Follow the repository until Ctrl-C (or ``stop``), with watchfiles.

        - a changed ``services/<svc>/`` (code or service.yaml) redeploys that service;
        - a new service folder is deployed, and its account set up, on the fly;
        - a changed ``config/`` or ``service.yaml`` is validated first: a bad file is
          reported and the last good state keeps serving;
        - a deploy from another process (archway deploy --env local) is picked up: the
          local provider writes each deployed stack's template under
          ``build/local/.cloud/deployed/``, in whichever process deploys.
        After any of these the routes and functions are remounted. Nothing runs between
        changes: the operating system's file events wake the watcher (no polling of moto).
        """
        root = self.platform.root
        deployed = self.work / "deployed"
        deployed.mkdir(parents=True, exist_ok=True)
        paths = [p for p in (root / "services", root / "config", deployed) if p.is_dir()]
        for changes in watchfiles.watch(
                *paths, stop_event=stop, debounce=400, step=100,
                watch_filter=_source_filter, raise_interrupt=True):
            try:
                mounted = self._follow({Path(path) for _, path in changes}, mounted)
            except ArchwayError as exc:
                self.out(f"{exc}: still serving the last good state")
            except Exception as exc:  # noqa: BLE001 - nothing a change does stops the cloud
                self.out(f"reload failed (a bug in archway local, please report it): "
                         f"{type(exc).__name__}: {exc}: still serving the last good state")

    def _follow(self, changed: set[Path], mounted: Mounted) -> Mounted:
        services, config_changed = self._changed(changed)
        new: set[str] = set()
        if config_changed:
            from archway.shared.commands import load_platform

            before = {s.name for s in self.platform.services}
            self.platform = load_platform(self.platform.root, self.platform.env)
            after = {s.name for s in self.platform.services}
            new = after - before
            services |= new
            for gone in sorted(before - after):
                self.out(f"{gone}: removed from the repository, its route goes away")
        for service in sorted(services & {s.name for s in self.platform.services}):
            self.out(f"{service}: new service, deploying" if service in new
                     else f"{service}: changed, redeploying")
            try:
                self.deploy("service", service)
            except ArchwayError as exc:
                self.out(f"{service}: redeploy failed: {exc}")
        if config_changed:
            self.engine = local_engine(self.platform, synth(self.platform),
                                       self.moto.endpoint, Display(), probe=False,
                                       summarize_new=True)
            registry = self.engine.registry(self.engine.targets["edge"])
            for gone in registry.prune() if registry else []:
                self.out(f"{gone}: route removed")
        assert self.engine is not None
        digests = self._digests()
        if digests != mounted.digests:
            mounted.digests = digests  # a failed remount is reported once, not every second
            mounted = self.mount()
            assert self.app is not None
            self.app.router = mounted.router
            self.out("routes and functions reloaded")
        return mounted

    def _digests(self) -> dict[str, str | None]:
        """What the mounted routes and functions follow: each deployed stack's digest, and
        each service's requirements.txt (which is not part of the asset)."""
        assert isinstance(self.engine, LocalEngine)
        with self.engine.provider.records_held(self.engine.targets.values()):  # batched reads
            digests = {t.id: (s.digest if s else None) for t, s in self.engine.status()}
        for service in self.platform.services:
            requirements = service.source_dir.parent / "requirements.txt"
            digests[f"{service.name}/requirements.txt"] = (
                requirements_key(requirements) if requirements.is_file() else None)
        return digests

    def _changed(self, paths: set[Path]) -> tuple[set[str], bool]:
        """Services whose folder changed, and whether any config file did."""
        root = self.platform.root.resolve()
        services: set[str] = set()
        config_changed = False
        for path in paths:
            try:
                parts = path.resolve().relative_to(root).parts
            except ValueError:
                continue
            if parts[0] == "config" or parts[-1] == "service.yaml":
                config_changed = True
            if parts[0] != "services" or len(parts) < 2:
                continue
            known = parts[1] in {s.name for s in self.platform.services}
            if not known or (len(parts) > 2 and parts[2] in {"src", "service.yaml",
                                                             "requirements.txt"}):
                services.add(parts[1])  # a new folder shows up as the folder alone
                config_changed |= not known
        return services, config_changed


def _signed_in(auth: RouteAuthModel | None) -> str:
    """How a mounted route says it needs a signed-in user (and which token)."""
    if auth is None:
        return ""
    return (f"  (signed-in: access token with {' or '.join(auth.scopes)})" if auth.scopes
            else "  (signed-in: ID token)")


def _source_filter(change: watchfiles.Change, path: str) -> bool:
    """Code and config, not caches, tests or editor droppings."""
    name = Path(path).name
    return ("__pycache__" not in path and "/tests/" not in path and not name.startswith(".")
            and not name.endswith(("~", ".swp", ".tmp")))
