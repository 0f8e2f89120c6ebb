"""Repositories of N services for the benchmarks, each in a temporary folder.

A bench repo is a copy of this repository's ``config/``, ``platform/`` (no Python: the
blueprints are imported from the installed package) and its real services (handler
code and seed data, no tests), topped up with generated one-function services
(tests/helpers/scale.py, the generator the scale test uses) until it holds ``count``
services. N = 2 is the repository as it is (catalog and reviews); N = 24 and N = 100 add
22 and 98 tiny services spread over a few workload accounts per environment.

Use it from a benchmark::

    from _generate import bench_repo
    with bench_repo(24) as root:
        ...  # run archway with cwd=root (or --root root)

or by hand: ``python bench/_generate.py 24 /tmp/archway-24`` (the folder must not exist).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import _env  # noqa: F401  (the environment a user's shell gives processes)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from helpers.scale import environments, service_name, write_service  # noqa: E402

NO_PYTHON = shutil.ignore_patterns("__pycache__", "*.py")


def real_services() -> list[Path]:
    """This repository's own service folders (those holding a service.yaml), sorted."""
    return sorted(p.parent for p in (REPO / "services").glob("*/service.yaml"))


def generate(root: Path, count: int) -> list[str]:
    """Make ``root`` (absent or empty) a repository of ``count`` services; their names.

    The real services come first; ``count`` below their number is an error, so every
    size measures the same real services plus generated ones.
    """
    real = real_services()
    if count < len(real):
        raise ValueError(f"count must be at least {len(real)} (the repository's own "
                         f"services), got {count}")
    shutil.copytree(REPO / "config", root / "config")
    shutil.copytree(REPO / "platform", root / "platform", ignore=NO_PYTHON)
    for folder in real:
        shutil.copytree(folder, root / "services" / folder.name,
                        ignore=shutil.ignore_patterns("__pycache__", "tests"))
    envs = environments(root)
    names = [folder.name for folder in real]
    for index in range(count - len(real)):
        name = service_name(index)
        write_service(root, name, index, envs)
        names.append(name)
    return names


@contextmanager
def bench_repo(count: int) -> Iterator[Path]:
    """A temporary repository of ``count`` services, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"archway-bench-{count}-") as folder:
        root = Path(folder)
        generate(root, count)
        yield root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="number of services (at least the real ones)")
    parser.add_argument("root", type=Path, help="folder to create (must not exist)")
    args = parser.parse_args()
    if args.root.exists():
        sys.exit(f"{args.root} exists: pass a new folder")
    try:
        names = generate(args.root, args.count)
    except ValueError as exc:
        sys.exit(str(exc))
    print(f"{args.root}: {len(names)} services ({', '.join(names[:3])}, ...)")


if __name__ == "__main__":
    main()
