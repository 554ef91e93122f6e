"""The promote stage: let the run's raw-text model challenge the champion on the test reviews."""

from __future__ import annotations

import logging
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imdb_sentiment.checkout import project_root
from imdb_sentiment.config import BehaviourParams, PromoteParams
from imdb_sentiment.data.prepared import load_split
from imdb_sentiment.data.split_reviews import (
    MissingTestReviewsError,
    load_split_reviews,
)
from imdb_sentiment.stages.review_slices import slices_of_test_reviews
from imdb_sentiment.tracking.preflight import check_store

if typing.TYPE_CHECKING:
    from imdb_sentiment.registry.gate_slices import GuardInputs

log = logging.getLogger(__name__)
__all__ = ["MissingTestReviewsError", "load_test_reviews", "promote_or_skip"]


def promote_or_skip(
    uri: str,
    text_model: Mapping[str, Any],
    reviews: Path,
    test_split: Path,
    cfg: PromoteParams,
    behaviour: BehaviourParams,
) -> dict[str, Any]:
    """The promotion report for evaluate's `text_model` record, on the store at `uri`.

    A queued or temporary experiment is skipped: a sweep must not move the champion back and
    forth. Otherwise the gate decides (see `registry.gate`), its guards with `behaviour`'s
    settings (`registry.gate_slices`).
    """
    if in_temporary_copy():
        log.info("experiment run in a temporary copy: not promoting")
        return skipped_report(text_model["run_id"])
    check_store(uri)  # a dead server fails now, not after retries
    # MLflow and Keras load only once the inputs are known to be good.
    from imdb_sentiment.registry.gate import Challenger, run_gate
    from imdb_sentiment.tracking.store import connect

    rows = load_split_reviews(reviews, test_split)
    texts, labels = rows["text"].tolist(), rows["label"].to_numpy(dtype=np.int64)
    challenger = Challenger(
        text_model["run_id"], text_model["model_uri"], text_model["test_accuracy"]
    )
    guards = guard_inputs(rows, reviews, test_split, behaviour)
    return run_gate(connect(uri), challenger, texts, labels, cfg, guards)


def guard_inputs(
    rows: pd.DataFrame, reviews: Path, test_split: Path, behaviour: BehaviourParams
) -> GuardInputs:
    """The slices of the test `rows` and the behaviour settings the gate's guards judge by."""
    from imdb_sentiment.registry.gate_slices import GuardInputs

    x, _ = load_split(test_split)
    maxlen = int(x.shape[1])  # the challenger's: prepare wrote this split for it
    slices = slices_of_test_reviews(rows, reviews, maxlen)
    return GuardInputs(slices, maxlen, behaviour)


def in_temporary_copy(cwd: Path | None = None) -> bool:
    """Whether the stage runs in a copy of the checkout (`dvc exp run --queue`, `--temp`)."""
    return project_root(cwd) != (cwd or Path.cwd()).resolve()


def skipped_report(run_id: str) -> dict[str, str]:
    return {
        "decision": "skipped",
        "reason": (
            "queued/temp experiments do not promote; to promote this one: "
            "dvc exp apply <name> && dvc repro --force --single-item promote"
        ),
        "run_id": run_id,
    }


def load_test_reviews(reviews: Path, test_split: Path) -> tuple[list[str], np.ndarray]:
    """The raw text and labels of exactly the reviews in prepare's test split, in its order."""
    rows = load_split_reviews(reviews, test_split)
    return rows["text"].tolist(), rows["label"].to_numpy(dtype=np.int64)
