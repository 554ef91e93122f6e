"""Screen configurations over several seeds at once: validation only, parallel processes.

Each (configuration, seed) is one fit as the train stage runs it (`build_model`,
`compile_model`, `fit_model`: the same callbacks, early stopping and weight averaging), on
prepare's rows of download's reviews table; the test split is never read. Workers are
separate processes, so on a GPU several small fits share the card (each alone leaves it
mostly idle between the LSTM's steps). One JSON line per fit goes to `--out` as it ends, so
a run cut short keeps what it finished; the summary gives mean ± sd per configuration.

    python scripts/screen_seeds.py --arms arms.yaml --seeds 42 1 2 --workers 4 --out runs.jsonl

`arms.yaml` maps a name to its overrides of params.yaml (`train.fit.ema_momentum: 0.99`);
`-S key=value` applies to every arm (`dvc exp run -S`'s syntax). Arms run seed by seed, so a
cut-short screen has the same seeds for every arm.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import queue
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from imdb_sentiment.config import (
    PrepareParams,
    TrainParams,
    load_params,
    load_section,
    override_params,
)
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.modeling.runtime import apply_runtime, choose_backend

Job = tuple[str, int, dict[str, Any]]  # arm, seed, params
Split = tuple[np.ndarray, np.ndarray]


def cached_splits(params: dict[str, Any], reviews: Path, cache: Path) -> Path:
    """prepare's train and val rows for these params, tokenized once per distinct setting."""
    from imdb_sentiment.data.reviews_table import load_reviews
    from imdb_sentiment.data.sequences import PREPARE_COLUMNS, prepare_sequences

    prep = load_section(params, "prepare", PrepareParams)
    key = (prep.max_features, prep.maxlen, prep.val_fraction, params["base"]["seed"])
    path = cache / ("splits-" + "-".join(map(str, key)) + ".npz")
    if not path.exists():
        data = prepare_sequences(load_reviews(reviews, PREPARE_COLUMNS), *key)
        arrays = {f"{a}_{s}": getattr(data.splits[s], a) for s in ("train", "val") for a in "xy"}
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path.with_suffix(".tmp.npz"), **arrays)
        os.replace(path.with_suffix(".tmp.npz"), path)
    return path


def fit_one(job: Job, splits: Path) -> dict[str, Any]:
    """One fit as the train stage's (each member's for an ensemble); kept val figures."""
    arm, seed, params = job
    prep = load_section(params, "prepare", PrepareParams)
    cfg = load_section(params, "train", TrainParams)
    # As the train stage does, before Keras is imported; an arm asking for another backend
    # than the one this process loaded fails (one error row) instead of training on it.
    choose_backend(cfg.runtime)
    from imdb_sentiment.modeling.ensemble import average_members, ensemble_result, score

    apply_runtime(cfg.runtime)
    with np.load(splits) as data:
        train, val = (data["x_train"], data["y_train"]), (data["x_val"], data["y_val"])
    start = time.perf_counter()
    seeds = dataclasses.replace(cfg, seed=seed).member_seeds(seed)
    fits = [fit_member(cfg, prep, s, train, val) for s in seeds]
    result = fits[0][0]
    if len(fits) > 1:  # the train stage's ensemble: its members' mean probability
        loss, accuracy = score(average_members([m for _, m in fits]), *val)
        result = ensemble_result([r for r, _ in fits], loss, accuracy)
    row = result.model_row
    return {
        "arm": arm,
        "seed": seed,
        "epoch": result.model_epoch,
        "val_accuracy": float(row["val_accuracy"]),
        "val_loss": float(row["val_loss"]),
        "train_loss": float(row["loss"]),
        "seconds": round(time.perf_counter() - start, 1),
    }


def fit_member(
    cfg: TrainParams, prep: PrepareParams, seed: int, train: Split, val: Split
) -> tuple[Any, Any]:
    """The model drawn from `seed`, fitted as the train stage fits it; its result and itself."""
    import keras

    from imdb_sentiment.modeling.fit import fit_model
    from imdb_sentiment.modeling.model import build_model, compile_model

    keras.utils.set_random_seed(seed)
    name = f"conv_lstm_{seed}"  # unique within an ensemble
    model = build_model(cfg.model, prep.max_features, prep.maxlen, name)
    compile_model(model, cfg.fit, cfg.runtime, len(train[0]))
    return fit_model(model, train, val, cfg.fit), model


def worker(jobs: Any, results: Any, splits: dict[str, Path]) -> None:
    while (job := jobs.get()) is not None:
        try:
            results.put(fit_one(job, splits[job[0]]))
        except Exception as exc:  # one bad arm must not stop the others
            results.put({"arm": job[0], "seed": job[1], "error": f"{type(exc).__name__}: {exc}"})


def summarize(rows: list[dict[str, Any]], arms: list[str]) -> list[str]:
    """One line an arm, in the arms file's order (workers finish in any order)."""
    lines = []
    for arm in arms:
        done = [r for r in rows if r["arm"] == arm and "error" not in r]
        if not done:
            continue
        figures = []
        for key in ("val_accuracy", "val_loss"):
            values = [r[key] for r in done]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            figures.append(f"{key} {statistics.mean(values):.4f} ± {sd:.4f}")
        seeds = " ".join(str(r["seed"]) for r in done)
        lines.append(f"{arm:24s} n={len(done)}  {'  '.join(figures)}  seeds {seeds}")
    return lines


def arm_params(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Each arm's whole params: params.yaml, then -S, then the arm's own changes; checked."""
    base = override_params(load_params(args.params), args.overrides)
    arms = yaml.safe_load(args.arms.read_text()) or {}
    params = {
        name: override_params(base, [f"{k}={json.dumps(v)}" for k, v in (changes or {}).items()])
        for name, changes in arms.items()
    }
    for arm in params.values():
        load_section(arm, "prepare", PrepareParams)
        load_section(arm, "train", TrainParams)
    return params


def run_jobs(
    params: dict[str, dict[str, Any]],
    seeds: list[int],
    splits: dict[str, Path],
    workers: int,
    out_path: Path,
) -> list[dict[str, Any]]:
    """Every arm at every seed, seed by seed, in `workers` processes; rows as they end."""
    context = mp.get_context("spawn")  # a fresh interpreter: the backend is chosen per worker
    jobs, results = context.Queue(), context.Queue()
    order = [(arm, seed, params[arm]) for seed in seeds for arm in params]
    for job in order:
        jobs.put(job)
    for _ in range(workers):
        jobs.put(None)
    procs = [
        context.Process(target=worker, args=(jobs, results, splits), daemon=True)
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    rows: list[dict[str, Any]] = []
    with out_path.open("a", encoding="utf-8") as out:
        while len(rows) < len(order):
            try:
                rows.append(results.get(timeout=10))
            except queue.Empty:
                if any(proc.is_alive() for proc in procs):
                    continue
                print(f"workers gone with {len(order) - len(rows)} fits left", flush=True)
                break
            out.write(json.dumps(rows[-1]) + "\n")
            out.flush()
            print(json.dumps(rows[-1]), flush=True)
    for proc in procs:
        proc.join()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--reviews", type=Path, default=Path("data/raw/reviews.parquet"))
    parser.add_argument("--cache", type=Path, default=Path(".dvc/tmp/screen-seeds"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:  # bad params, -S, arm or reviews table: one line, before any fit
        params = arm_params(args)
        splits = {name: cached_splits(p, args.reviews, args.cache) for name, p in params.items()}
    except PipelineError as exc:
        raise SystemExit(str(exc)) from None
    rows = run_jobs(params, args.seeds, splits, args.workers, args.out)
    print("\n".join(summarize(rows, list(params))), flush=True)


if __name__ == "__main__":
    main()
