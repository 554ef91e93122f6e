"""Memory of `mlflow models serve` under repeated load: does the worker's RSS plateau?

Run from the repository root:

    python benchmarks/serving_memory.py --model MODEL_URI [--rounds 10]
    python benchmarks/serving_memory.py --keras models/model.keras --vocab data/prepared/vocab.json

`--model` serves a logged raw-text model as it is (its bundled code included); `--keras` and
`--vocab` first log one with this checkout's code into a temporary store, as `evaluate` would
(`--maxlen`, `--threshold` as in params.yaml). Each round sends the same requests (real
reviews from data/raw/reviews.parquet, request sizes drawn once from 1 to `--max-reviews`, a
fixed seed), `--concurrency` at a time; after each round it prints the RSS of the serving
process (the largest in the server's process group) and, at the end, the last round's RSS
over the second's: the first round pays for warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from devtools.servers import LOOPBACK, Server, free_port, stop_group

BIN = Path(sys.executable).parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def reviews(path: Path) -> list[str]:
    table = pd.read_parquet(path, columns=["split", "text"])
    return table.loc[table["split"] == "test", "text"].tolist()


def log_model(args: argparse.Namespace, directory: Path) -> tuple[str, str]:
    """(store URI, model URI) of a raw-text model logged with this checkout's code."""
    from imdb_sentiment.config import ServeParams, load_params, load_section
    from imdb_sentiment.registry.text_model import TextModelFiles, log_text_model
    from imdb_sentiment.tracking.store import connect, tracked_run

    uri = f"sqlite:///{directory / 'mlflow.db'}"
    store = connect(uri, cwd=directory)
    with tracked_run(store, {}) as run_id:
        pass
    serve = load_section(load_params("params.yaml"), "serve", ServeParams)
    files = TextModelFiles(args.keras, args.vocab, args.maxlen, args.threshold, serve)
    return uri, log_text_model(store, run_id, files, directory)


def group_rss_mib(pgid: int) -> float:
    """The largest resident set among the processes of group `pgid` (the model's worker)."""
    largest = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # field 5 of /proc/PID/stat: the process group
                statm = (stat.parent / "statm").read_text().split()
                largest = max(largest, int(statm[1]) * PAGE)
        except (OSError, IndexError, ValueError):
            continue
    return largest / 2**20


def post(url: str, texts: list[str]) -> None:
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps({"inputs": texts}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        assert response.status == 200


def serve(model_uri: str, store_uri: str, log: Path) -> tuple[Server, subprocess.Popen[bytes]]:
    port = free_port()
    command = [str(BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager"]
    command += ["local", "--host", LOOPBACK, "--port", str(port)]
    # Queued requests wait for a worker thread: no 504 after MLflow's default 60 s.
    env = {"MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT": "600", **os.environ}
    if store_uri:  # a model in a store; a directory needs none
        env["MLFLOW_TRACKING_URI"] = store_uri
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(f"http://{LOOPBACK}:{port}", process, log), process


def run_rounds(url: str, pgid: int, load: list[list[str]], args: argparse.Namespace) -> None:
    total = sum(len(texts) for texts in load)
    print(f"each round: {len(load)} requests, {total:,} reviews, {args.concurrency} at a time")
    print(f"after start-up: {group_rss_mib(pgid):.0f} MiB")
    rss = []
    with ThreadPoolExecutor(args.concurrency) as pool:
        for number in range(1, args.rounds + 1):
            start = time.perf_counter()
            list(pool.map(lambda texts: post(url, texts), load))
            rss.append(group_rss_mib(pgid))
            took = time.perf_counter() - start
            print(f"round {number:>2}: {took:6.1f} s, worker RSS {rss[-1]:.0f} MiB", flush=True)
    last, peak = rss[-1] / rss[1], max(rss) / rss[1]
    print(f"RSS last round / round 2: {last:.3f}; largest / round 2: {peak:.3f}")
    half = len(rss) // 2
    print(f"growth over the last {len(rss) - half} rounds: {rss[-1] - rss[half - 1]:+.0f} MiB")


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # for --keras: TensorFlow's start-up notes
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="a raw-text model URI or directory to serve as it is")
    parser.add_argument("--keras", type=Path, help="a .keras model to log with this code")
    parser.add_argument("--vocab", type=Path, help="its vocab.json")
    parser.add_argument("--maxlen", type=int, default=100)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--reviews", type=Path, default=Path("data/raw/reviews.parquet"))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=32, help="requests per round")
    parser.add_argument("--max-reviews", type=int, default=1000, help="largest request")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    if (args.model is None) == (args.keras is None or args.vocab is None):
        parser.error("pass --model, or --keras and --vocab")
    texts, draw = reviews(args.reviews), random.Random(0)
    load = [draw.sample(texts, draw.randint(1, args.max_reviews)) for _ in range(args.requests)]
    print(f"machine: {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        if args.model is not None:
            store_uri, model_uri = os.environ.get("MLFLOW_TRACKING_URI", ""), args.model
        else:
            store_uri, model_uri = log_model(args, directory)
        print(f"model: {model_uri}")
        server, process = serve(model_uri, store_uri, directory / "serve.log")
        try:
            run_rounds(server.wait_until_up(timeout_s=300), process.pid, load, args)
        finally:
            stop_group(process)


if __name__ == "__main__":
    main()
