"""validate_data on a tiny table and the folder prepare_data makes of it; its report pieces."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from imdb_sentiment.checks.expectations import SuiteResult
from imdb_sentiment.checks.train_test_drift import Drift
from imdb_sentiment.config import PrepareParams
from imdb_sentiment.data.reviews_table import REVIEWS_SCHEMA, write_reviews
from imdb_sentiment.stages.prepare import prepare_data
from imdb_sentiment.stages.validate import (
    DataValidationError,
    ValidationReports,
    collect_failures,
    drift_metrics,
    validate_data,
    validation_report,
)
from tests.unit.checks.validate_params import CFG, N

# Every test review holds the word "test", unseen in train: a quarter of its words are OOV.
LENIENT = dataclasses.replace(CFG, max_oov_rate=0.3)


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    """A reviews table of N reviews per split and label, and its prepared folder."""
    rows = [
        (split, label, 9 if label else 2, i, f"review {split} {label} {i}")
        for split in ("train", "test")
        for label in (0, 1)
        for i in range(N)
    ]
    reviews, prepared = tmp_path / "reviews.parquet", tmp_path / "prepared"
    columns = [list(column) for column in zip(*rows, strict=True)]
    write_reviews(pa.table(columns, schema=REVIEWS_SCHEMA), reviews)
    cfg = PrepareParams(max_features=50, maxlen=5, val_fraction=0.25, max_reviews_per_split=None)
    prepare_data(reviews, prepared, cfg, seed=0)
    return reviews, prepared


def reports_in(folder: Path) -> ValidationReports:
    return ValidationReports(
        folder / "validation.json", folder / "docs", folder / "drift.json", folder / "tokens.json"
    )


def test_good_data_passes_and_every_report_is_written(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    reports = reports_in(tmp_path / "reports")
    drift = validate_data(*inputs, LENIENT, reports)
    report = json.loads(reports.report.read_text())
    assert report["success"] is True and report["failures"] == []
    assert json.loads(reports.drift.read_text())["js_tokens"] == drift.js_tokens
    assert json.loads(reports.drift_tokens.read_text()) == drift.top_tokens
    assert (reports.docs / "index.html").is_file()


def test_a_failed_check_raises_after_writing_the_reports(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    reports = reports_in(tmp_path / "reports")
    with pytest.raises(DataValidationError, match=r"1 check\(s\) failed \(sequences: .*oov"):
        validate_data(*inputs, CFG, reports)
    assert json.loads(reports.report.read_text())["success"] is False
    assert reports.drift.is_file() and (reports.docs / "index.html").is_file()


def result(suite: str, failures: list[str]) -> SuiteResult:
    return SuiteResult(suite, not failures, failures, {"suite": suite})


def test_failures_name_their_suite_and_drift_comes_last() -> None:
    results = [result("raw_reviews", ["a failed"]), result("sequences", [])]
    drift = Drift(js_tokens=0.9, js_lengths=0.1, mean_review_tokens={}, top_tokens=[])
    failures = collect_failures(results, drift, CFG)
    assert failures[0] == "raw_reviews: a failed"
    assert failures[1].startswith("drift: js_tokens 0.9000 > validate.max_js_tokens")
    assert len(failures) == 2


def test_the_report_succeeds_only_without_failures() -> None:
    results = [result("raw_reviews", []), result("sequences", ["b failed"])]
    report = validation_report(results, ["sequences: b failed"])
    assert report["success"] is False
    assert report["suites"]["sequences"] == {"success": False, "failures": ["b failed"]}
    assert report["results"]["raw_reviews"] == {"suite": "raw_reviews"}
    assert validation_report(results[:1], [])["success"] is True


def test_drift_metrics_are_plain_numbers_per_split() -> None:
    drift = Drift(0.25, 0.5, {"train": 3.0, "test": 4.0}, [])
    raw = pd.DataFrame({"cross_split_duplicate": np.array([1, 0, 1])})
    sequences = pd.DataFrame(
        {"split": ["train", "test"], "oov": [1, 0], "words": [4, 2], "pad_fraction": [0.5, 0.0]}
    ).assign(label=[1, 0])
    metrics = drift_metrics(drift, raw, sequences)
    assert metrics["cross_split_duplicates"] == 2
    assert (metrics["js_tokens"], metrics["js_lengths"]) == (0.25, 0.5)
    assert metrics["oov_rate"] == {"train": 0.25, "test": 0.0}
    assert metrics["positive_share"] == {"train": 1.0, "test": 0.0}
    json.dumps(metrics)  # a DVC metrics file: nothing numpy left
