"""The deploy engine: a DAG of stacks from the manifest, deployed in parallel waves.

API (shared by ``archway deploy`` on AWS and by the local cloud)::

    engine = Engine(platform, synth_result, connections, provider_for, ui, concurrency=4)
    engine.select("service", "catalog") -> ["svc-catalog"]   # or ("edge",), ("all",)
    engine.plan(selected) -> Plan(waves=[["edge-global", "svc-catalog", ...], ["edge"]])
    engine.deploy(selected) -> list[StackResult]   # outcome created|updated|skipped|failed
    engine.resolve(target) -> Resolved             # parameter values, secrets, digest
    engine.upload_assets(target, params)           # code zips, only when missing
    engine.status() -> [(Target, StackState | None), ...]

``provider_for(target) -> Provider`` picks where a stack lands: CloudFormationProvider
on AWS, LocalProvider on the local cloud. ``connections`` (ConnectionManager) gives
clients acting in any account and region; ``ui`` (Display) prints one line per event,
asks questions on the main thread and carries the Ctrl-C ``cancelled`` flag.

For each stack: resolve its parameters (other stacks' outputs, read in their account
and region; origin secrets from the platform account's encrypted store), upload its
assets when missing, then hand it to its provider. Independent stacks of a wave run in
parallel; a failed wave stops the ones after it. The no-op key is ``digest()``: sha256
of the template and the parameters, secret values hashed; providers keep it on the
stack and skip when it is unchanged. The engine never builds templates; providers never
resolve inputs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from archway.shared.deploy.connections import ConnectionManager
from archway.shared.deploy.display import Display
from archway.shared.deploy.params import SecretStore
from archway.shared.deploy.provider import Provider, Resolved, StackResult, Target
from archway.shared.deploy.routes import KeyValueStoreRoutes, RouteRegistry, RouteStore
from archway.shared.deploy.upload import upload_asset
from archway.shared.errors import ArchwayError
from archway.shared.model import Platform
from archway.shared.routes import RouteEntry
from archway.shared.synth import SynthResult

# Where a service's route is written, acting from ``via`` (a stack's account and region);
# None when there is no store yet (the edge is not deployed).
RouteStoreFactory = Callable[[Target], RouteStore | None]


class DeployError(ArchwayError):
    exit_code = 1


class SelectionError(ArchwayError):
    exit_code = 2


@dataclass(frozen=True)
class Plan:
    waves: list[list[str]]

    @property
    def stacks(self) -> list[str]:
        return [stack for wave in self.waves for stack in wave]


def load_targets(result: SynthResult, bootstrap: bool = False) -> dict[str, Target]:
    """The manifest's stacks: the deployable ones, or (``bootstrap``) only the bootstrap
    stacks, which an administrator deploys with ``archway bootstrap``."""
    targets = {}
    for entry in result.manifest["stacks"]:
        if (entry["kind"] == "bootstrap") != bootstrap:
            continue
        body = (result.out_dir / entry["template"]).read_text(encoding="utf-8")
        targets[entry["id"]] = Target(
            id=entry["id"], name=entry["name"], kind=entry["kind"], account=entry["account"],
            region=entry["region"], template_body=body, template_sha256=entry["template_sha256"],
            termination_protection=entry["termination_protection"], manifest=entry)
    return targets


def waves(targets: dict[str, Target], selected: list[str]) -> Plan:
    """Topological waves of the selected stacks; edges come from declared sources."""
    remaining = set(selected)
    result = []
    while remaining:
        wave = sorted(s for s in remaining
                      if not set(targets[s].manifest["depends_on"]) & remaining)
        if not wave:
            raise DeployError(f"dependency cycle between {', '.join(sorted(remaining))}")
        result.append(wave)
        remaining -= set(wave)
    return Plan(result)


def digest(target: Target, values: dict[str, str], secrets: frozenset[str]) -> str:
    """The no-op key: template and parameters, with secret values hashed."""
    safe = {k: (hashlib.sha256(v.encode()).hexdigest() if k in secrets else v)
            for k, v in sorted(values.items())}
    payload = json.dumps({"template": target.template_sha256, "parameters": safe},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


class Engine:
    def __init__(self, platform: Platform, synth: SynthResult, connections: ConnectionManager,
                 provider_for: Callable[[Target], Provider], ui: Display,
                 concurrency: int = 4, route_store: RouteStoreFactory | None = None) -> None:
        self.platform = platform
        self.synth = synth
        self.targets = load_targets(synth)
        self.connections = connections
        self.provider_for = provider_for
        self.ui = ui
        self.concurrency = max(1, concurrency)
        self.secrets = SecretStore(connections, platform)
        self.route_store = route_store or self._key_value_store
        self.known_buckets: set[str] = set()  # assets buckets known to exist (local cloud)
        self.new_buckets: set[str] = set()  # ... and made by this engine: nothing else in them

    def select(self, what: str, service: str | None = None) -> list[str]:
        if what == "all":
            return list(self.targets)
        if what == "edge":  # the platform's own stacks (the user pool's too)
            return [s for s in ("edge-global", "edge", "auth") if s in self.targets]
        if what == "service":
            if not service:
                raise SelectionError("deploy service needs a service name "
                                     f"(one of: {', '.join(self._services())})")
            stack = f"svc-{service}"
            if stack not in self.targets:
                raise SelectionError(f"unknown service {service!r} "
                                     f"(known: {', '.join(self._services())})")
            return [stack]
        raise SelectionError(f"unknown target {what!r}: use service <name>, edge or all")

    def _services(self) -> list[str]:
        return [s.removeprefix("svc-") for s in self.targets if s.startswith("svc-")]

    def plan(self, selected: list[str]) -> Plan:
        return waves(self.targets, selected)

    def deploy(self, selected: list[str]) -> list[StackResult]:
        """Deploy ``selected`` wave by wave; a failure stops the waves after it.

        Ctrl-C: stacks not yet executing are not started or have their change sets
        deleted (providers see ``ui.cancelled``); KeyboardInterrupt is re-raised.
        """
        plan = self.plan(selected)
        self.prefetch_secrets(selected)
        results: list[StackResult] = []
        for index, wave in enumerate(plan.waves):
            wave_results = self._run_wave(wave)
            results += wave_results
            if any(not r.ok for r in wave_results):
                for stack in (s for later in plan.waves[index + 1:] for s in later):
                    self.ui.line(stack, "skipped", "a stack it depends on failed")
                break
        if not self.ui.cancelled.is_set():
            results += self.sync_routes(results)
        return results

    def prefetch_secrets(self, selected: list[str]) -> None:
        """The origin secrets a deploy of ``selected`` reads, ten per call: its stacks'
        secret parameters and the route entry of each service it registers (every
        service's when it deploys the edge). At 100 services the edge's deploy otherwise
        reads 100 parameters one by one."""
        stacks = [self.targets[s] for s in selected if s in self.targets]
        routed = self.targets.values() if "edge" in selected else stacks
        names = ({source["name"] for target in stacks
                  for source in target.manifest["parameters"].values()
                  if source["kind"] == "secret"}
                 | {t.id.removeprefix("svc-") for t in routed if t.kind == "service"})
        if names:
            self.secrets.prefetch(sorted(names))

    def _run_wave(self, wave: list[str]) -> list[StackResult]:
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(wave))) as pool:
            futures = [pool.submit(self._deploy_one, stack) for stack in wave]
            self.ui.wait(futures)
        return [f.result() for f in futures]

    def _deploy_one(self, stack_id: str) -> StackResult:
        target = self.targets[stack_id]
        if self.ui.cancelled.is_set():
            result = StackResult(stack_id, "skipped", "interrupted: not started")
            self.ui.result(result)
            return result
        self.ui.line(stack_id, "starting", f"{target.name} -> {target.account}/{target.region}")
        try:
            params = self.resolve(target)
            self.upload_assets(target, params)
            result = self.provider_for(target).deploy(target, params)
        except ArchwayError as exc:
            result = StackResult(stack_id, "failed", str(exc))
        self.ui.result(result)
        return result

    def upload_assets(self, target: Target, params: Resolved | None = None) -> None:
        """The target's code zips, into its account's assets bucket when missing there
        (``params``: what the stack is about to be deployed with)."""
        for asset_id in target.manifest["assets"]:
            asset = self.synth.manifest["assets"][asset_id]
            if upload_asset(self.connections, self.platform.root, asset, target,
                            bucket_known=asset["bucket"] in self.known_buckets,
                            bucket_new=asset["bucket"] in self.new_buckets):
                self.ui.line(target.id, "uploaded", f"s3://{asset['bucket']}/{asset['key']}")

    def resolve(self, target: Target) -> Resolved:
        values: dict[str, str] = {}
        secret_names: set[str] = set()
        for name, source in target.manifest["parameters"].items():
            if source["kind"] == "secret":
                values[name] = self.secrets.get_or_create(source["name"])
                secret_names.add(name)
            elif source["kind"] == "stack_output":
                values[name] = self.output_of(source["stack"], source["output"], target)
            elif source["kind"] == "service_accounts":
                values[name] = ",".join(self.route_accounts())
            else:
                raise DeployError(f"{target.id}: parameter {name} has an unknown source "
                                  f"{source!r}")
        frozen = frozenset(secret_names)
        return Resolved(values, frozen, digest(target, values, frozen))

    def read_state(self, target: Target) -> Any:
        """Another stack's state, read, not deployed: through its account's read-only lookup
        role where the provider has one (CloudFormation)."""
        provider = self.provider_for(target)
        return getattr(provider, "read", provider.describe)(target)

    def output_of(self, stack_id: str, output: str, consumer: Target) -> str:
        producer = self.targets.get(stack_id)
        if producer is None:
            raise DeployError(f"{consumer.id} needs {stack_id}, which this environment lacks")
        state = self.read_state(producer)
        hint = (f"deploy it first: archway deploy service {stack_id.removeprefix('svc-')}"
                if stack_id.startswith("svc-") else "deploy it first: archway deploy edge")
        if state is None:
            raise DeployError(f"{consumer.id} needs output {output} of {producer.name} "
                              f"({producer.account}/{producer.region}), which is not "
                              f"deployed: {hint}")
        if output not in state.outputs:
            raise DeployError(f"{consumer.id} needs output {output} of {producer.name}, which "
                              f"has none (outputs: {', '.join(state.outputs) or 'none'})")
        return state.outputs[output]

    # ------------------------------------------------------------------ routes

    def route_accounts(self) -> list[str]:
        """Accounts whose deploy roles may write routes: every service's, the platform's."""
        return sorted({t.account for t in self.targets.values() if t.kind == "service"}
                      | {self.platform.account})

    def registry(self, via: Target) -> RouteRegistry | None:
        store = self.route_store(via)
        if store is None:
            return None
        return RouteRegistry(store, self.expected_route, [s.name for s in self.platform.services])

    def expected_route(self, service: str) -> RouteEntry | None:
        """The entry config and the deployed API call for (None: the API is not deployed)."""
        target = self.targets.get(f"svc-{service}")
        if target is None:
            return None
        state = self.read_state(target)
        if state is None or "ApiDomain" not in state.outputs:
            return None
        model = self.platform.service(service)
        return RouteEntry(service, state.outputs["ApiDomain"], model.stage,
                          self.secrets.get_or_create(service))

    def route_preview(self, target: Target) -> list[str]:
        """What deploying ``target`` (a service) would do to its route, for a plan."""
        service = target.id.removeprefix("svc-")
        if target.kind != "service":
            return []
        registry = self.registry(target)
        if registry is None:
            return [f"+ /api/{service}/* (registered once the edge is deployed)"]
        current = registry.store.get(service)
        expected = self.expected_route(service)
        if current is None:
            return [f"+ /api/{service}/* -> its API (registered by the deploy)"]
        if expected is None or current != expected.value():
            return [f"~ /api/{service}/* -> its API (re-registered by the deploy)"]
        return []

    def sync_routes(self, results: list[StackResult]) -> list[StackResult]:
        """After a deploy: register each service deployed now; after the edge, every one
        (and remove entries of services config no longer has)."""
        done = {r.id for r in results if r.ok}
        services = [t for t in self.targets.values() if t.kind == "service"]
        if "edge" not in done:
            services = [t for t in services if t.id in done]
        failed = []
        for target in services:
            try:
                registry = self.registry(target)
                if registry is None:
                    self.ui.line(target.id, "route", "not registered yet: the edge is not "
                                 "deployed (archway deploy edge)")
                    continue
                self.ui.line(target.id, "route", registry.register(target.id.removeprefix("svc-")))
            except ArchwayError as exc:
                failed.append(StackResult(target.id, "failed", f"route not registered: {exc}"))
                self.ui.result(failed[-1])
        if "edge" in done:
            failed += self._prune_routes()
        return failed

    def _prune_routes(self) -> list[StackResult]:
        try:
            registry = self.registry(self.targets["edge"])
            for service in registry.prune() if registry else []:
                self.ui.line("edge", "route", f"removed /api/{service}/* (no longer in config)")
        except ArchwayError as exc:
            return [StackResult("edge", "failed", f"stale routes not removed: {exc}")]
        return []

    def _key_value_store(self, via: Target) -> RouteStore | None:
        """On AWS: the edge's KeyValueStore, as its registrar role, chained from ``via``."""
        edge = self.targets.get("edge")
        if edge is None:
            return None
        state = self.read_state(edge)
        if state is None or "RouteStoreArn" not in state.outputs:
            return None
        client = self.connections.chained_client(
            "cloudfront-keyvaluestore", state.outputs["RouteRegistrarRoleArn"],
            via.account, via.region)
        return KeyValueStoreRoutes(client, state.outputs["RouteStoreArn"])

    def status(self) -> list[tuple[Target, Any]]:
        return [(t, self.provider_for(t).describe(t)) for t in self.targets.values()]
