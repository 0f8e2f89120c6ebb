"""The `archway` command: parse, call, map errors to messages and exit codes.

Exit codes: 0 ok, 1 a known failure (deploy failed, lint findings), 2 bad input
(config or arguments), 3 an unexpected error (a bug: one line saying so; --debug
re-raises it with its traceback), 130 Ctrl-C.
Command groups live beside the code they drive and register themselves here; the
deploy and local groups (boto3, the deploy engine) are imported only when the command
run is not one of the core commands (synth, lint, schema, ...).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from archway.shared.errors import ArchwayError, ConfigError, one_line

Handler = Callable[[argparse.Namespace], int]


def common(parser: argparse.ArgumentParser) -> None:
    """--env (argument > ARCHWAY_ENV > local) and --root."""
    default = os.environ.get("ARCHWAY_ENV", "local")
    parser.add_argument("--env", default=default,
                        help=f"environment (default: $ARCHWAY_ENV or local; now {default})")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="repository root (default: the nearest folder at or above the "
                             "current one holding config/platform.yaml)")


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding config/platform.yaml."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / "config" / "platform.yaml").is_file():
            return folder
    raise ConfigError("config/platform.yaml", "", f"not found in {here} or any folder above "
                      "it: run archway inside an Archway repository, or pass --root")


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("archway")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _Version(argparse.Action):
    """--version, the installed version read only when asked (importlib.metadata costs
    ~20 ms that every other command would pay)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(f"archway {version()}")
        parser.exit()


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Every command, or only the core ones (synth, lint, schema, ...) when ``argv`` runs
    one of them: the deploy and local command groups import boto3 and the deploy engine,
    which a synth or a lint never needs. No ``argv``: every command."""
    from archway.shared import commands

    parser = argparse.ArgumentParser(prog="archway", description=(
        "Archway: many serverless microservices behind one domain on AWS."))
    parser.add_argument("--debug", action="store_true", help="re-raise errors with tracebacks")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show archway's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.register(sub)
    if argv is None or _command(argv) not in sub.choices:
        for register in _plugins():
            register(sub)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option (the top-level
    options take no value)."""
    return next((word for word in argv if not word.startswith("-")), None)


def _plugins() -> list[Callable[[argparse._SubParsersAction], None]]:  # type: ignore[type-arg]
    plugins = []
    for module in ("archway.shared.deploy.cli", "archway.shared.local.cli"):
        try:
            imported = __import__(module, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        plugins.append(imported.register)
    return plugins


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(words)
    args = parser.parse_args(words)
    handler: Handler = args.handler
    try:
        if isinstance(getattr(args, "root", None), Path):
            args.root = find_root(args.root)
        return handler(args)
    except ArchwayError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the boundary: anything else is a bug
        if args.debug:
            raise
        print(f"error: internal error ({type(exc).__name__}: {one_line(str(exc), 200)}): "
              "this is a bug in Archway, please report it (rerun with --debug for the "
              "traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
