"""What one request of N reviews costs the raw-text model: the figures behind `serve.*` caps.

Run from the repository root after `dvc repro` (a champion must exist):

    python benchmarks/request_cost.py [--model-uri URI] [--sizes 1000 10000]

In one process, with the model loaded: for each size N, N real test reviews and then N reviews
stretched to the character cap (each review repeated up to `serve.max_chars_per_review`
characters), the JSON body a client would send, the time of `model.predict` and the process's
resident set after it and at its peak. The caps themselves are lifted for the run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import pandas as pd

from imdb_sentiment.config import ServeParams, load_params, load_section


def mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    import mlflow

    from imdb_sentiment.tracking.store import tracking_uri

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-uri", default="models:/imdb-sentiment@champion")
    parser.add_argument("--reviews", default="data/raw/reviews.parquet")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
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
            body = len(json.dumps({"inputs": batch}).encode())
            start = time.perf_counter()
            model.predict(batch)
            took = time.perf_counter() - start
            print(
                f"{n:>6,} {kind} reviews: body {mib(body)}, predict {took:.2f} s, "
                f"RSS {mib(rss_bytes())}, peak {mib(peak_bytes())}",
                flush=True,
            )


if __name__ == "__main__":
    main()
