"""Screen a configuration cheaply: validation figures every fraction of an epoch, no test.

A search trial through `dvc exp run` prepares, validates, trains, evaluates (test included)
and logs to MLflow; to sort out which levers are worth those runs, this trains the same
model (`build_model`, `compile_model`, the same prepared rows) on download's reviews table
and prints validation loss and accuracy `--evaluations` times per epoch. The test split is
never read, so screening cannot leak into selection. Nothing is written but the printout.

    python scripts/screen_config.py -S prepare.maxlen=800 -S train.model.bigram_buckets=131072

`-S key=value` overrides params.yaml as `dvc exp run -S` does (values read as YAML).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from imdb_sentiment.config import (
    PrepareParams,
    TrainParams,
    load_params,
    load_section,
    override_params,
)
from imdb_sentiment.data.reviews_table import load_reviews
from imdb_sentiment.data.sequences import PREPARE_COLUMNS, prepare_sequences
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.modeling.runtime import choose_backend


def screen(params: dict[str, Any], reviews: Path, evaluations: int) -> list[dict[str, float]]:
    """Train as `train` would and return one row of validation figures per evaluation."""
    prep = load_section(params, "prepare", PrepareParams)
    cfg = load_section(params, "train", TrainParams)
    choose_backend(cfg.runtime)  # as the train stage does: before Keras is imported
    import keras

    from imdb_sentiment.modeling.model import build_model, compile_model

    base_seed, seed = params["base"]["seed"], cfg.effective_seed(params["base"]["seed"])
    table = load_reviews(reviews, PREPARE_COLUMNS)  # prepare's split follows base.seed
    data = prepare_sequences(table, prep.max_features, prep.maxlen, prep.val_fraction, base_seed)
    (xt, yt), (xv, yv) = ((data.splits[s].x, data.splits[s].y) for s in ("train", "val"))
    keras.utils.set_random_seed(seed)
    model = build_model(cfg.model, prep.max_features, prep.maxlen)
    compile_model(model, cfg.fit, cfg.runtime, len(xt))
    rng, rows, start = np.random.default_rng(seed), [], time.perf_counter()
    # Whole batches per part, so the steps (and a linear schedule) match one fit call.
    steps = math.ceil(len(xt) / cfg.fit.batch_size)
    bounds = [round(steps * i / evaluations) * cfg.fit.batch_size for i in range(1, evaluations)]
    for epoch in range(cfg.fit.epochs):
        parts = np.split(rng.permutation(len(xt)), bounds)
        for i, part in enumerate(parts, start=1):
            model.fit(xt[part], yt[part], batch_size=cfg.fit.batch_size, epochs=1, verbose=0)
            loss, accuracy = model.evaluate(xv, yv, batch_size=1000, verbose=0)
            seconds = time.perf_counter() - start
            row = {"epoch": epoch + i / evaluations, "val_loss": loss, "val_accuracy": accuracy}
            rows.append({**row, "seconds": seconds})
            print("  ".join(f"{k} {v:.4f}" for k, v in rows[-1].items()), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--reviews", type=Path, default=Path("data/raw/reviews.parquet"))
    parser.add_argument("--evaluations", type=int, default=2, help="per epoch")
    args = parser.parse_args(argv)
    if not args.reviews.is_file():
        raise SystemExit(f"{args.reviews}: no reviews table; run `dvc repro download` first")
    try:
        params = override_params(load_params(args.params), args.overrides)
        screen(params, args.reviews, args.evaluations)
    except PipelineError as exc:  # bad params or -S: one line, as the stages give it
        raise SystemExit(str(exc)) from None


if __name__ == "__main__":
    main()
