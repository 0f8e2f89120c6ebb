"""A real, tiny wheel built on the spot, so pip installs it with no network."""

from __future__ import annotations

import zipfile
from pathlib import Path


def tiny_wheel(folder: Path) -> Path:
    """A real (tiny) wheel, so pip installs it with no network."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "tinydep-1.0-py3-none-any.whl"
    files = {
        "tinydep/__init__.py": "VALUE = 42\n",
        "tinydep-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n",
        "tinydep-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: archway-tests\n"
                                       "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    return _write(wheel, files)


def platform_wheel(folder: Path, tag: str, value: str) -> Path:
    """A wheel of ``tinydep`` tagged for one platform (``cp312-cp312-manylinux2014_aarch64``):
    pip picks it only when asked for that platform and Python."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"tinydep-1.0-{tag}.whl"
    files = {
        "tinydep/__init__.py": f"VALUE = {value!r}\n",
        "tinydep-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n",
        "tinydep-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: archway-tests\n"
                                       f"Root-Is-Purelib: false\nTag: {tag}\n",
        "tinydep-1.0.data/scripts/tinydep-cli": "#!python\nprint('hi')\n",
    }
    return _write(wheel, files)


def _write(wheel: Path, files: dict[str, str]) -> Path:
    """``files`` zipped as a wheel of ``tinydep``, with its RECORD (no hashes)."""
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        record = "".join(f"{name},,\n" for name in files) + "tinydep-1.0.dist-info/RECORD,,\n"
        archive.writestr("tinydep-1.0.dist-info/RECORD", record)
    return wheel
