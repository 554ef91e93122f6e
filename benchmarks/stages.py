"""Time every DVC stage on the real data: wall time and peak RSS, one `dvc repro` per stage.

Run by hand from the repository root (it re-runs each stage, updating dvc.lock):

    IMDB_URL=... IMDB_SHA256=... python benchmarks/stages.py

then a no-op `dvc repro` is timed too. Figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import time

STAGES = ["download", "prepare", "validate", "train", "evaluate", "baseline", "promote"]


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of the command and every process under it."""
    start = time.perf_counter()
    proc = subprocess.Popen(command)
    # wait4's rusage covers the child and its reaped descendants: the stage's python process.
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{shlex.join(command)} failed")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stages", nargs="*", default=STAGES)
    args = parser.parse_args()
    rows = []
    for stage in args.stages:
        rows.append((stage, *measure(["dvc", "repro", "--force", "--single-item", stage])))
    rows.append(("no-op `dvc repro`", *measure(["dvc", "repro"])))
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, KERAS_BACKEND={backend}"
    )
    print("| stage | wall time (s) | peak RSS (MiB) |\n|---|---:|---:|")
    for name, seconds, rss in rows:
        print(f"| {name} | {seconds:.1f} | {rss:,.0f} |")


if __name__ == "__main__":
    main()
