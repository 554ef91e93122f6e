"""Latency of `imdb-sentiment predict` from a shell, against importing TensorFlow, in one run.

Run from the repository root after `dvc repro` (a champion must exist):

    python benchmarks/predict_latency.py [--model-uri URI] [--repeat 7]

The goal (issue 15): one review costs no more than `python -c "import tensorflow"` on the same
machine. Each repeat times, back to back so that a busy machine slows all alike: the bare
import, the command with 1 review, and the pyfunc in a fresh process (MLflow's loader and
Keras: what the command did before it scored through numpy). Then the command with 1,000
reviews, and inside one process the pyfunc's load and a warm predict call (a server's costs).
Reviews are real test reviews from data/raw/reviews.parquet. Prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

BIN = Path(sys.executable).parent
QUIET = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
PYFUNC_ONCE = """
import sys, mlflow
from imdb_sentiment.tracking.store import tracking_uri
mlflow.set_tracking_uri(tracking_uri())
mlflow.pyfunc.load_model(sys.argv[1]).predict(sys.argv[2:])
"""


def reviews(path: Path, n: int) -> list[str]:
    table = pd.read_parquet(path, columns=["split", "text"])
    texts = table.loc[table["split"] == "test", "text"].head(n).tolist()
    return [" ".join(text.split()) for text in texts]  # one line each, for --file


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=QUIET)
    return time.perf_counter() - start


def cli(model_uri: str, texts: list[str]) -> Callable[[], float]:
    def run() -> float:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
            fh.write("\n".join(texts) + "\n")
        try:
            command = [str(BIN / "imdb-sentiment"), "predict", "--file", fh.name]
            return seconds([*command, "--model-uri", model_uri])
        finally:
            os.unlink(fh.name)

    return run


def report(name: str, times: list[float]) -> float:
    median = statistics.median(times)
    print(f"{name}: median {median:.2f} s (best {min(times):.2f} s, n={len(times)})")
    return median


def in_process(model_uri: str, batches: dict[int, list[str]], repeat: int) -> None:
    import mlflow

    from imdb_sentiment.tracking.store import tracking_uri

    mlflow.set_tracking_uri(tracking_uri())
    start = time.perf_counter()
    model = mlflow.pyfunc.load_model(model_uri)
    print(f"in-process: pyfunc load {time.perf_counter() - start:.2f} s (imports already done)")
    model.predict(batches[1])  # first call builds the predict function
    for n, texts in batches.items():
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            model.predict(texts)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(
            f"in-process: pyfunc predict {n:>5} reviews: median {median * 1000:.1f} ms "
            f"(best {min(times) * 1000:.1f} ms), {n / median:,.0f} reviews/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-uri", default="models:/imdb-sentiment@champion")
    parser.add_argument("--reviews", type=Path, default=Path("data/raw/reviews.parquet"))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    batches = {n: reviews(args.reviews, n) for n in (1, 1000)}
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f}; model {args.model_uri}")
    timed: dict[str, Callable[[], float]] = {
        'python -c "import tensorflow"': lambda: seconds(
            [sys.executable, "-c", "import tensorflow"]
        ),
        "imdb-sentiment predict, 1 review": cli(args.model_uri, batches[1]),
        "pyfunc in a fresh process, 1 review": lambda: seconds(
            [sys.executable, "-c", PYFUNC_ONCE, args.model_uri, *batches[1]]
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(args.repeat):
        for name, run in timed.items():
            times[name].append(run())
    medians = {name: report(name, values) for name, values in times.items()}
    names = list(medians)
    print(f"ratio predict / import tensorflow: {medians[names[1]] / medians[names[0]]:.2f}")
    many = cli(args.model_uri, batches[1000])
    report("imdb-sentiment predict, 1,000 reviews", [many() for _ in range(3)])
    in_process(args.model_uri, batches, 3)


if __name__ == "__main__":
    main()
