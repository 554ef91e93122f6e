"""Thin DVC stage entry points, run as `python -m pipeline.<stage>`.

Stages import the library from this checkout's src/, ahead of any installed copy:
`dvc exp run --temp/--queue` runs stages in a temporary copy of the repository, and the
code that runs must be the code DVC hashed as the stage's dependency.
"""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parents[1] / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)
