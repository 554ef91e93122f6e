"""Rewrite each stage's `src/imdb_sentiment/...` deps in dvc.yaml from what it imports.

Run from the repository root after moving or adding library modules:
`python scripts/sync_dvc_deps.py`. tests/unit/test_dvc_yaml.py checks the same lists with
the same import walk, so a stage never misses a change to code it runs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "src")]

from tests.unit.test_dvc_yaml import library_modules  # noqa: E402  (the test's import walk)

STAGE = re.compile(r"^  ([a-z_]+):\s*$")
LIBRARY_DEP = re.compile(r"^      - src/imdb_sentiment/")


def synced(text: str) -> str:
    """dvc.yaml's text with every stage's block of library deps replaced by the walk's."""
    out: list[str] = []
    lines = text.splitlines(keepends=True)
    stage, i = None, 0
    while i < len(lines):
        if match := STAGE.match(lines[i]):
            stage = match.group(1)
        if LIBRARY_DEP.match(lines[i]):
            while i < len(lines) and LIBRARY_DEP.match(lines[i]):
                i += 1
            used = sorted(library_modules(REPO / "pipeline" / f"{stage}.py"))
            out += [f"      - {module}\n" for module in used]
            continue
        out.append(lines[i])
        i += 1
    return "".join(out)


if __name__ == "__main__":
    path = REPO / "dvc.yaml"
    before = path.read_text()
    after = synced(before)
    path.write_text(after)
    print("dvc.yaml: deps updated" if after != before else "dvc.yaml: deps already in sync")
