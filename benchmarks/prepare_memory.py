"""Wall time and peak RSS of the `prepare` stage, run as its own process on given inputs.

Run by hand from the repository root:

    python benchmarks/prepare_memory.py --reviews data/raw/reviews.parquet --repeat 2 \
        --expect data/prepared

Each run writes to a fresh temporary directory, never to data/prepared; with --expect DIR the
outputs are also checked byte for byte (md5) against the files in DIR. No DVC involved, so
the figures are the stage's own, without `dvc repro`'s overhead. They go in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ["train.npz", "val.npz", "test.npz", "vocab.json", "meta.json"]


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of the command's process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{shlex.join(command)} failed")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def md5sums(directory: Path) -> dict[str, str]:
    return {name: hashlib.md5((directory / name).read_bytes()).hexdigest() for name in OUTPUTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reviews", type=Path, default=Path("data/raw/reviews.parquet"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--expect", type=Path, help="directory of outputs to compare by md5")
    args = parser.parse_args()
    expected = md5sums(args.expect.resolve()) if args.expect else None
    rows = []
    for run in range(1, args.repeat + 1):
        with tempfile.TemporaryDirectory(prefix="prepare-memory-") as out:
            command = [sys.executable, "-m", "pipeline.prepare", "--out", out]
            command += ["--params", str(args.params.resolve())]
            command += ["--reviews", str(args.reviews.resolve())]
            seconds, rss = measure(command)
            same = "-" if expected is None else str(md5sums(Path(out)) == expected).lower()
        rows.append((run, seconds, rss, same))
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    print("| run | wall time (s) | peak RSS (MiB) | outputs as expected |\n|---|---:|---:|---|")
    for run, seconds, rss, same in rows:
        print(f"| {run} | {seconds:.1f} | {rss:,.0f} | {same} |")


if __name__ == "__main__":
    main()
