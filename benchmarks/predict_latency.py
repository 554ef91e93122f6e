"""Latency of the raw-text model: `imdb-sentiment predict` from a shell, and in-process.

Run from the repository root after `dvc repro` (a champion must exist):

    python benchmarks/predict_latency.py [--model-uri URI] [--repeat 3]

Reviews are real test reviews from data/raw/reviews.parquet. Prints, for 1 and for 1,000
reviews: the whole CLI command (process start, imports, model load, predict), and inside one
process the model load and a warm predict call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

BIN = Path(sys.executable).parent


def reviews(n: int) -> list[str]:
    table = pd.read_parquet("data/raw/reviews.parquet", columns=["split", "text"])
    texts = table.loc[table["split"] == "test", "text"].head(n).tolist()
    return [" ".join(text.split()) for text in texts]  # one line each, for --file


def cli_seconds(model_uri: str, texts: list[str]) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(texts) + "\n")
    try:
        start = time.perf_counter()
        subprocess.run(
            [str(BIN / "imdb-sentiment"), "predict", "--file", fh.name, "--model-uri", model_uri],
            check=True,
            capture_output=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        return time.perf_counter() - start
    finally:
        os.unlink(fh.name)


def in_process(model_uri: str, batches: dict[int, list[str]], repeat: int) -> None:
    import mlflow

    from imdb_sentiment.tracking.store import tracking_uri

    mlflow.set_tracking_uri(tracking_uri())
    start = time.perf_counter()
    model = mlflow.pyfunc.load_model(model_uri)
    print(f"in-process: load {time.perf_counter() - start:.2f} s (imports already done)")
    model.predict(batches[1])  # first call builds the predict function
    for n, texts in batches.items():
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            model.predict(texts)
            times.append(time.perf_counter() - start)
        best, median = min(times), statistics.median(times)
        rate = n / median
        print(
            f"in-process: predict {n:>5} reviews: median {median * 1000:.1f} ms "
            f"(best {best * 1000:.1f} ms), {rate:,.0f} reviews/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-uri", default="models:/imdb-sentiment@champion")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    batches = {1: reviews(1), 1000: reviews(1000)}
    print(f"machine: {os.cpu_count()} CPUs; model {args.model_uri}")
    for n, texts in batches.items():
        times = [cli_seconds(args.model_uri, texts) for _ in range(args.repeat)]
        print(
            f"CLI: imdb-sentiment predict, {n:>5} reviews: median {statistics.median(times):.2f} s"
            f" (best {min(times):.2f} s)"
        )
    in_process(args.model_uri, batches, args.repeat)


if __name__ == "__main__":
    main()
