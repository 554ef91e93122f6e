"""Check the reviews table and the prepared folder: two GX suites and train-vs-test drift."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from imdb_sentiment.checks.expectations import SuiteResult, run_suites
from imdb_sentiment.checks.raw_review_suite import raw_review_expectations, raw_review_frame
from imdb_sentiment.checks.sequence_suite import (
    sequence_expectations,
    sequence_frame,
    summarize_sequences,
)
from imdb_sentiment.checks.train_test_drift import Drift, drift_failures, measure_drift
from imdb_sentiment.config import ValidateParams
from imdb_sentiment.data.prepared import load_encoded_splits, read_meta, read_vocabulary
from imdb_sentiment.data.reviews_table import load_reviews
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.files import atomic_dir, write_json

log = logging.getLogger(__name__)


class DataValidationError(PipelineError):
    """A suite or a drift check failed: the data must not reach `train`."""


@dataclass(frozen=True)
class ValidationReports:
    """Where `validate` writes; all are written whether or not a check fails."""

    report: Path  # JSON results, whose "success" train checks before it starts
    docs: Path  # GX Data Docs, an HTML folder
    drift: Path  # drift and per-split figures, a DVC metrics file
    drift_tokens: Path  # the tokens whose share moved most, train vs test


def validate_data(
    reviews_path: Path, prepared: Path, cfg: ValidateParams, reports: ValidationReports
) -> Drift:
    """Run every check, write `reports`, and raise `DataValidationError` if any check failed."""
    meta = read_meta(prepared)
    splits = load_encoded_splits(prepared, meta["counts"])
    reviews = load_reviews(reviews_path)
    raw, sequences = raw_review_frame(reviews), sequence_frame(splits)
    drift = measure_drift(reviews, splits, read_vocabulary(prepared), cfg)
    suites = {
        "raw_reviews": (raw, raw_review_expectations(cfg)),
        "sequences": (sequences, sequence_expectations(meta, cfg)),
    }
    with atomic_dir(reports.docs) as docs:
        results = run_suites(suites, docs)
    failures = collect_failures(results, drift, cfg)
    # Written whether or not anything failed: the reports are what explains a failure.
    write_json(reports.report, validation_report(results, failures))
    write_json(reports.drift, drift_metrics(drift, raw, sequences))
    write_json(reports.drift_tokens, drift.top_tokens)
    log.info("js tokens %.4f, js lengths %.4f", drift.js_tokens, drift.js_lengths)
    if failures:
        for line in failures:
            log.error("%s", line)
        raise DataValidationError(
            f"{len(failures)} check(s) failed ({'; '.join(failures)[:300]}...); see "
            f"{reports.report}, {reports.drift} and {reports.docs}/index.html, fix the data "
            "and rerun"
        )
    return drift


def collect_failures(results: list[SuiteResult], drift: Drift, cfg: ValidateParams) -> list[str]:
    """Every failed expectation and every divergence over its limit, one line each."""
    failures = [f"{r.suite}: {line}" for r in results for line in r.failures]
    return failures + [f"drift: {line}" for line in drift_failures(drift, cfg)]


def validation_report(results: list[SuiteResult], failures: list[str]) -> dict[str, Any]:
    """What train checks before it starts ("success"), with the full GX results."""
    return {
        "success": not failures,
        "failures": failures,
        "suites": {r.suite: {"success": r.success, "failures": r.failures} for r in results},
        "results": {r.suite: r.details for r in results},
    }


def drift_metrics(drift: Drift, raw: pd.DataFrame, sequences: pd.DataFrame) -> dict[str, Any]:
    """Plain numbers for a DVC metrics file: drift and the per-split figures the suites check."""
    return {
        "js_tokens": drift.js_tokens,
        "js_lengths": drift.js_lengths,
        "cross_split_duplicates": int(raw["cross_split_duplicate"].sum()),
        "mean_review_tokens": drift.mean_review_tokens,
        **summarize_sequences(sequences),
    }
