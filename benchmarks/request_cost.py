"""What one request of N reviews costs the raw-text model: the figures behind `serve.*` caps.

Run from the repository root after `dvc repro` (a champion must exist):

    python benchmarks/request_cost.py [--model-uri URI] [--sizes 1000 10000]

In one process, with the model loaded: for each size N, N real test reviews and then N reviews
stretched to the character cap (each review repeated up to `serve.max_chars_per_review`
characters), the JSON body a client would send, the time of `model.predict` and the process's
resident set after it and at its peak. The caps themselves are lifted for the run. Then,
on the encoded real reviews, Keras' `model.predict` against the model's `predict_rows`
(`predict_on_batch` in slices), alternated, medians of `--repeat`.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import time
from collections.abc import Callable

import pandas as pd

from imdb_sentiment.config import ServeParams, load_params, load_section


def mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def seconds(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def compare_predict(python_model: object, texts: list[str], sizes: list[int], repeat: int) -> None:
    from imdb_sentiment.registry.text_model import predict_rows

    keras_model, encoder = python_model._model, python_model._encoder  # type: ignore[attr-defined]
    for n in sizes:
        x = encoder.encode(texts[:n])
        calls = {
            "model.predict": functools.partial(keras_model.predict, x, batch_size=1000, verbose=0),
            "predict_rows": functools.partial(predict_rows, keras_model, x),
        }
        times: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(repeat):  # alternated, so a busy moment hits both
            for name, call in calls.items():
                times[name].append(seconds(call))
        keras_s, rows_s = (statistics.median(times[name]) for name in calls)
        print(
            f"{n:>6,} real reviews, encoded: model.predict {keras_s * 1000:.0f} ms, "
            f"predict_rows {rows_s * 1000:.0f} ms ({keras_s / rows_s:.2f}x)"
        )


def main() -> None:
    import mlflow

    from imdb_sentiment.tracking.store import tracking_uri

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-uri", default="models:/imdb-sentiment@champion")
    parser.add_argument("--reviews", default="data/raw/reviews.parquet")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    serve = load_section(load_params("params.yaml"), "serve", ServeParams)
    table = pd.read_parquet(args.reviews, columns=["split", "text"])
    texts = table.loc[table["split"] == "test", "text"].tolist()
    cap = serve.max_chars_per_review
    stretched = [(text * (cap // len(text) + 1))[:cap] for text in texts[: max(args.sizes)]]
    mlflow.set_tracking_uri(tracking_uri())
    model = mlflow.pyfunc.load_model(args.model_uri)
    python_model = model.unwrap_python_model()
    unbounded = ServeParams(max_reviews_per_request=10**9, max_chars_per_review=10**9)
    python_model._caps = unbounded  # measure past the caps too
    model.predict(texts[:10])
    print(f"machine: {os.cpu_count()} CPUs; model {args.model_uri}")
    print(f"model loaded: RSS {mib(rss_bytes())}")
    for kind, pool in (("real", texts), (f"{cap:,}-character", stretched)):
        for n in args.sizes:
            batch = pool[:n]
            body = len(json.dumps({"inputs": batch}).encode())  # what a client sends
            start = time.perf_counter()
            model.predict(batch)
            took = time.perf_counter() - start
            print(
                f"{n:>6,} {kind} reviews: body {body / 2**20:.1f} MiB, predict {took:.2f} s, "
                f"RSS {mib(rss_bytes())}, peak {mib(peak_bytes())}",
                flush=True,
            )
    compare_predict(python_model, texts, [10, 100, 1000], args.repeat)


if __name__ == "__main__":
    main()
