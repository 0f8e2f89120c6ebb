"""`archway local`: the whole platform on 127.0.0.1, no AWS account needed."""

from __future__ import annotations

import argparse
import sys
import time


def cmd_local(args: argparse.Namespace) -> int:
    from archway.shared.commands import load_platform
    from archway.shared.local.cloud import LocalCloud
    from archway.shared.local.interpreter import choose
    from archway.shared.local.persistence import Saver, cloud_snapshot
    from archway.shared.local.processes import stop_on_signals, stop_with_parent

    def say(line: str) -> None:
        print(line, flush=True)

    platform = load_platform(args.root, "local")
    cloud = LocalCloud(platform, port=args.port, moto_port=args.moto_port, out=say,
                       warm_workers=args.warm_workers, idle_timeout=args.idle_timeout,
                       trust_forwarded_for=args.trust_forwarded_for, auth_port=args.auth_port)
    started = time.perf_counter()
    stop_on_signals()  # SIGTERM and SIGHUP stop everything, as Ctrl-C does
    stop_with_parent()  # and so does the end of whatever started it (tox, an IDE)
    saver: Saver | None = None
    try:
        cloud.start()  # moto starts; the interpreters are looked for and synth runs meanwhile
        cloud.interpreters = choose({service.runtime for service in platform.services}, say)
        say("deploying the local environment (same templates, plan and parameters as AWS)")
        cloud.deploy("all")
        cloud.publish_site()
        snapshot = cloud_snapshot(cloud)
        if args.fresh:
            snapshot.discard(snapshot.directory)
            say("--fresh: saved local data discarded")
        restored = snapshot.restore()
        if restored:
            say(f"restored {len(restored)} tables and buckets from build/local/data "
                "(--fresh starts without them)")
        cloud.seed(skip=restored)
        saver = Saver(snapshot, out=say, activity=cloud.activity).start()
        if args.no_serve:
            say(f"deployed in {time.perf_counter() - started:.1f} s (--no-serve: stopping)")
            return 0
        mounted = cloud.mount()
        say("mounted:")
        for line in cloud.describe_mounts(mounted):
            say(line)
        cloud.serve(mounted)
        say(f"\nArchway is running on http://127.0.0.1:{args.port}/  "
            f"(ready in {time.perf_counter() - started:.1f} s)")
        say(f"  try: curl 'http://127.0.0.1:{args.port}/api/catalog/search?q=c'")
        say("  sign in on the site as alice / alice-local-only or bob / bob-local-only "
            "(local-only users, docs/auth.md)")
        say(f"  the platform as a picture: http://127.0.0.1:{args.port}/_archway/diagram")
        say("  redeploy a service into it: tox -e deploy-service -- catalog")
        say("  handler edits under services/*/src are redeployed automatically")
        say("  Ctrl-C stops everything\n")
        cloud.watch(mounted)
    except KeyboardInterrupt:
        say("\nstopping")
    finally:
        if saver is not None:
            saver.stop()  # the last save, while moto still runs
        cloud.stop()
    return 0


def _count(raw: str) -> int:
    if not raw.isdigit():
        raise argparse.ArgumentTypeError(f"a whole number of workers, 0 or more (got {raw!r})")
    return int(raw)


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"a number of seconds above 0 (got {raw!r})")
    return value


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from pathlib import Path

    from archway.shared.local import logs
    from archway.shared.local.runner import IDLE_TIMEOUT, WARM_WORKERS

    logs.register(sub)

    parser = sub.add_parser("local", help="run the whole platform on 127.0.0.1 (no AWS)")
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root")
    parser.add_argument("--port", type=int, default=8080, help="edge port (default 8080)")
    parser.add_argument("--auth-port", type=int, default=None,
                        help="port of the local sign-in (OpenID Connect) issuer "
                             "(default: edge port + 1, or any free port if that is taken)")
    parser.add_argument("--moto-port", type=int, default=0,
                        help="port of the local AWS stand-in (default: any free port)")
    parser.add_argument("--warm-workers", type=_count, default=WARM_WORKERS,
                        help="Lambda workers kept warm when idle, all functions together "
                             f"(default {WARM_WORKERS}); each function's first invoke starts "
                             "its worker")
    parser.add_argument("--idle-timeout", type=_seconds, default=IDLE_TIMEOUT,
                        help="seconds without an invoke before a warm worker stops "
                             f"(default {IDLE_TIMEOUT:.0f})")
    parser.add_argument("--no-serve", action="store_true", help="deploy, seed and exit")
    parser.add_argument("--fresh", action="store_true",
                        help="discard the saved local data (build/local/data) and start "
                             "with the sample data only")
    parser.add_argument("--trust-forwarded-for", action="store_true",
                        help="take the viewer IP (what the WAF rate limit counts) from the "
                             "last X-Forwarded-For address, for a proxy of your own in front; "
                             "by default it is the TCP peer, as on CloudFront")
    parser.set_defaults(handler=cmd_local)


if __name__ == "__main__":
    sys.exit("use: archway local")
