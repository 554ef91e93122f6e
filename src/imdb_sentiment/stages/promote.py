"""The promote stage: let the run's raw-text model challenge the champion on the test reviews."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imdb_sentiment.checkout import project_root
from imdb_sentiment.config import PromoteParams
from imdb_sentiment.data.prepared import load_encoded_splits
from imdb_sentiment.data.reviews_table import load_reviews
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.tracking.preflight import check_store

log = logging.getLogger(__name__)


class MissingTestReviewsError(PipelineError):
    """The test split names reviews that the reviews table lacks."""


def promote_or_skip(
    uri: str, text_model: Mapping[str, Any], reviews: Path, test_split: Path, cfg: PromoteParams
) -> dict[str, Any]:
    """The promotion report for evaluate's `text_model` record, on the store at `uri`.

    A queued or temporary experiment is skipped: a sweep must not move the champion back and
    forth. Otherwise the gate decides (see `registry.gate`).
    """
    if in_temporary_copy():
        log.info("experiment run in a temporary copy: not promoting")
        return skipped_report(text_model["run_id"])
    check_store(uri)  # a dead server fails now, not after retries
    # MLflow and Keras load only once the inputs are known to be good.
    from imdb_sentiment.registry.gate import Challenger, run_gate
    from imdb_sentiment.tracking.store import connect

    texts, labels = load_test_reviews(reviews, test_split)
    challenger = Challenger(
        text_model["run_id"], text_model["model_uri"], text_model["test_accuracy"]
    )
    return run_gate(connect(uri), challenger, texts, labels, cfg)


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
    """The raw text and labels of exactly the reviews in prepare's test split, in its order.

    Review ids repeat across label folders, so a review is known by (label, review_id).
    """
    split = load_encoded_splits(test_split.parent, [test_split.stem])[test_split.stem]
    wanted = pd.DataFrame({"label": split.y, "review_id": split.review_id})
    table = load_reviews(reviews, ["split", "label", "review_id", "text"])
    table = table[table["split"] == "test"].drop(columns="split")
    table["label"] = table["label"].astype(wanted["label"].dtype)
    table["review_id"] = table["review_id"].astype(wanted["review_id"].dtype)
    rows = wanted.merge(table, on=["label", "review_id"], how="left", validate="one_to_one")
    if rows["text"].isna().any() or len(rows) != len(wanted):
        raise MissingTestReviewsError(
            f"{test_split} names reviews that {reviews} lacks; rerun the pipeline (dvc repro)"
        )
    return rows["text"].tolist(), rows["label"].to_numpy(dtype=np.int64)
