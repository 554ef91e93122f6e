"""Stage `prepare`: tokenize, build the vocabulary, pad, and carve the validation split."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from imdb_sentiment.config import BaseParams, PrepareParams, load_params, load_section
from imdb_sentiment.data.sequences import (
    PreparedData,
    cap_per_split,
    load_reviews,
    prepare_sequences,
)
from imdb_sentiment.data.tokenizer import SPECIAL_TOKENS
from imdb_sentiment.entrypoint import run_stage
from imdb_sentiment.files import staged_files, write_json

log = logging.getLogger("pipeline.prepare")


def build_meta(cfg: PrepareParams, data: PreparedData) -> dict[str, Any]:
    """Facts later stages read instead of re-reading prepare's params."""
    return {
        "max_features": cfg.max_features,
        "maxlen": cfg.maxlen,
        "vocab_size": len(SPECIAL_TOKENS) + len(data.vocabulary),
        "distinct_train_words": data.distinct_train_words,
        "counts": {name: len(s.y) for name, s in data.splits.items()},
        "positives": {name: int(s.y.sum()) for name, s in data.splits.items()},
        "oov_rate": data.oov_rate,
        "max_reviews_per_split": cfg.max_reviews_per_split,
        "val_fraction": cfg.val_fraction,
        "padding": "pre",
        "truncating": "pre",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--reviews", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory for arrays and json")
    args = parser.parse_args(argv)

    def body() -> None:
        params = load_params(args.params)
        base = load_section(params, "base", BaseParams)
        cfg = load_section(params, "prepare", PrepareParams)
        reviews = cap_per_split(load_reviews(args.reviews), cfg.max_reviews_per_split, base.seed)
        data = prepare_sequences(reviews, cfg.max_features, cfg.maxlen, cfg.val_fraction, base.seed)
        with staged_files(args.out) as staging:
            for name, split in data.splits.items():
                np.savez(staging / f"{name}.npz", x=split.x, y=split.y, review_id=split.review_id)
            write_json(staging / "vocab.json", {**SPECIAL_TOKENS, **data.vocabulary})
            write_json(staging / "meta.json", build_meta(cfg, data))
        log.info("wrote %s", ", ".join(f"{k}={len(s.y)}" for k, s in data.splits.items()))

    return run_stage("prepare", body)


if __name__ == "__main__":
    sys.exit(main())
