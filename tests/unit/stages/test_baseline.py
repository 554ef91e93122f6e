"""The baseline stage on a tiny table: a reference run on prepare's splits, never a candidate."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

from imdb_sentiment.config import BaselineParams, PrepareParams
from imdb_sentiment.data.reviews_table import REVIEWS_SCHEMA, write_reviews
from imdb_sentiment.stages.baseline import run_baseline
from imdb_sentiment.stages.prepare import prepare_data
from imdb_sentiment.tracking.names import MODEL_FAMILY_TAG, REFERENCE_TAG
from imdb_sentiment.tracking.store import TrackingStore
from tests.factory import review_text

CFG = BaselineParams(
    ngram_min=1,
    ngram_max=2,
    alpha=1.0,
    classifier="logistic",
    c=1.0,
    interpolation=1.0,
    max_iter=1000,
)
PREPARE = PrepareParams(max_features=30, maxlen=10, val_fraction=0.2, max_reviews_per_split=None)


def learnable_table(per_label: int = 30) -> pa.Table:
    rng = random.Random(0)
    rows = [
        (split, label, 9 if label else 2, i, review_text(label, rng))
        for split in ("train", "test")
        for label in (0, 1)
        for i in range(per_label)
    ]
    return pa.table([list(column) for column in zip(*rows, strict=True)], schema=REVIEWS_SCHEMA)


def test_the_run_is_a_reference_on_the_conv_lstms_validation_set(
    tmp_path: Path, store: TrackingStore
) -> None:
    reviews, prepared = tmp_path / "reviews.parquet", tmp_path / "prepared"
    write_reviews(learnable_table(), reviews)
    prepare_data(reviews, prepared, PREPARE, seed=3)

    outcome = run_baseline(store.uri, reviews, prepared, CFG, seed=3)

    run = store.client.get_run(outcome.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.experiment_id == store.experiment_id
    assert run.data.tags[REFERENCE_TAG] == "true"
    assert run.data.tags[MODEL_FAMILY_TAG] == "nbsvm"
    assert run.info.run_name.startswith("nbsvm-")
    # The params that decide the validation reviews, as the conv-LSTM's runs log them.
    params = run.data.params
    assert (params["base.seed"], params["prepare.val_fraction"]) == ("3", "0.2")
    assert params["prepare.max_reviews_per_split"] == "None"
    assert params["baseline.ngram_max"] == "2" and params["data.n_val"] == "12"
    metrics = run.data.metrics
    assert metrics["val_accuracy"] == outcome.val.metrics["accuracy"] >= 0.9
    assert metrics["test_accuracy"] == outcome.test.metrics["accuracy"] >= 0.9
    assert metrics["test_tp"] + metrics["test_fn"] == 30
    assert metrics["val_loss"] > 0 and metrics["peak_memory_mb"] > 0
    report = outcome.report()
    assert report["test"]["accuracy"] == metrics["test_accuracy"]
    assert report["n_features"] == metrics["n_features"] > 0
    # Nothing registered: a reference is never a model version.
    assert store.client.search_model_versions(f"run_id = '{outcome.run_id}'") == []


def test_a_missing_prepared_folder_leaves_no_run(tmp_path: Path, store: TrackingStore) -> None:
    write_reviews(learnable_table(4), tmp_path / "reviews.parquet")
    before = len(store.client.search_runs([store.experiment_id]))
    with pytest.raises(FileNotFoundError):
        run_baseline(store.uri, tmp_path / "reviews.parquet", tmp_path / "none", CFG, seed=1)
    assert len(store.client.search_runs([store.experiment_id])) == before
