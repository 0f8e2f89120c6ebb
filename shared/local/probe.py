"""The local deploy tries each function's init, as its first invoke on Lambda would.

On AWS a handler that cannot be imported deploys fine and fails on its first invoke
(Runtime.ImportModuleError, Runtime.UserCodeSyntaxError, Runtime.HandlerNotFound). A local
deploy (``archway deploy ... --env local``) goes through just the same, and then loads
every function of the stack in a worker exactly as the running cloud will, so the deploy
output names the broken file and line (``services/<svc>/src/<file>.py:<line>``) at once.
The outcome is kept per code key, handler and settings (under ``.cloud/probed/``): a
no-op redeploy says it again without starting a worker.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from archway.shared.deploy.provider import Target
from archway.shared.local.intrinsics import Context
from archway.shared.local.runner import InitError, LambdaRunner, LocalFunction

ClientFactory = Callable[[str, str, str], Any]


def local_functions(target: Target, ctx: Context, code: dict[str, str] | None = None,
                    labels: dict[str, str] | None = None) -> list[LocalFunction]:
    """The Lambda functions of a stack, as the local runner runs them; ``labels``: function
    name -> how the console names it (``catalog/search``)."""
    functions = []
    for resource in target.template.get("Resources", {}).values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props = ctx.evaluate(resource["Properties"])
        functions.append(LocalFunction(
            name=props["FunctionName"], account=target.account, region=target.region,
            handler=props["Handler"], memory=int(props["MemorySize"]),
            timeout=int(props["Timeout"]), code_bucket=props["Code"]["S3Bucket"],
            code_key=props["Code"]["S3Key"],
            environment=props.get("Environment", {}).get("Variables", {}),
            label=(labels or {}).get(props["FunctionName"], ""),
            runtime=props.get("Runtime", ""), **(code or {})))
    return functions


class HandlerProbe:
    """Loads each function once in a worker and reports the ones that fail to."""

    def __init__(self, client: ClientFactory,
                 credentials: Callable[[str, str], dict[str, str]], endpoint: str,
                 work_dir: Path, code: dict[str, dict[str, str]]) -> None:
        self.client = client
        self.credentials = credentials
        self.endpoint = endpoint
        self.work_dir = work_dir
        self.code = code  # stack name -> {"source": ..., "requirements": ...}

    def __call__(self, target: Target, ctx: Context) -> list[str]:
        functions = local_functions(target, ctx, self.code.get(target.name))
        known = {f.name: self._known(f) for f in functions}
        fresh = [f for f in functions if known[f.name] is None]
        if fresh:
            for function, error in zip(fresh, self._load(fresh), strict=True):
                known[function.name] = self._remember(function, error)
        return [f"{f.name} cannot load its handler ({f.handler}): {known[f.name]}; its routes "
                "answer 502 until it is fixed" for f in functions if known[f.name]]

    def _load(self, functions: list[LocalFunction]) -> list[InitError | None]:
        runner = LambdaRunner(self.client, self.credentials, self.endpoint, self.work_dir,
                              workers_per_function=1)
        try:
            for function in functions:
                runner.register(function)
            with ThreadPoolExecutor(max_workers=4) as pool:
                return list(pool.map(lambda f: runner.warm(f.name), functions))
        finally:
            runner.close()

    def _record(self, function: LocalFunction) -> Path:
        """Where the outcome of loading this code, handler and settings is kept: the code
        key names the asset's content, so the same key loads the same way again."""
        key = json.dumps([function.generation, function.handler, function.source])
        return self.work_dir / "probed" / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def _known(self, function: LocalFunction) -> str | None:
        """'' (loads), the init error, or None (not tried yet)."""
        try:
            return str(json.loads(self._record(function).read_text())["error"])
        except (OSError, ValueError, KeyError):
            return None

    def _remember(self, function: LocalFunction, error: InitError | None) -> str:
        outcome = "" if error is None else str(error)
        record = self._record(function)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"error": outcome}))
        return outcome
