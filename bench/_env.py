"""The environment the benchmarks' processes run in: a user's, not a test harness's.

Python caches each module's bytecode in ``__pycache__`` unless PYTHONDONTWRITEBYTECODE is
set (https://docs.python.org/3/using/cmdline.html#envvar-PYTHONDONTWRITEBYTECODE). Some
harnesses and containers set it; then every archway process compiles archway's own
modules again (about 0.25 s of a 0.55 s `archway synth` on the reference machine), which
is not what a user's shell pays. Importing this module drops the variable for this process
and every process it starts, and says so.
"""

from __future__ import annotations

import os
import sys

if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
    sys.dont_write_bytecode = False
    print("bench: PYTHONDONTWRITEBYTECODE unset for the measured processes (bytecode cached "
          "as Python does by default)", file=sys.stderr)
