"""Stage `validate`: GX suites over the raw reviews and the prepared sequences, and drift."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd

from imdb_sentiment.checks.expectations import (
    collect_failures,
    drift_metrics,
    load_encoded_splits,
    raw_review_expectations,
    raw_review_frame,
    run_suites,
    sequence_expectations,
    sequence_frame,
    validation_report,
)
from imdb_sentiment.checks.train_test_drift import measure_drift
from imdb_sentiment.config import ValidateParams, load_params, load_section
from imdb_sentiment.entrypoint import run_stage
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.files import atomic_dir, read_json, write_json

log = logging.getLogger("pipeline.validate")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--reviews", type=Path, required=True)
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True, help="JSON results to write")
    parser.add_argument("--docs", type=Path, required=True, help="Data Docs HTML directory")
    parser.add_argument("--drift", type=Path, required=True, help="drift metrics JSON")
    parser.add_argument("--drift-tokens", type=Path, required=True, help="moved tokens JSON")
    args = parser.parse_args(argv)

    def body() -> None:
        cfg = load_section(load_params(args.params), "validate", ValidateParams)
        meta = read_json(args.prepared / "meta.json")
        splits = load_encoded_splits(args.prepared, meta["counts"])
        reviews = pd.read_parquet(args.reviews)
        raw, sequences = raw_review_frame(reviews), sequence_frame(splits)
        drift = measure_drift(reviews, splits, read_json(args.prepared / "vocab.json"), cfg)
        suites = {
            "raw_reviews": (raw, raw_review_expectations(cfg)),
            "sequences": (sequences, sequence_expectations(meta, cfg)),
        }
        with atomic_dir(args.docs) as docs:
            results = run_suites(suites, docs)
        failures = collect_failures(results, drift, cfg)
        # Written whether or not anything failed: the reports are what explains a failure.
        write_json(args.report, validation_report(results, failures))
        write_json(args.drift, drift_metrics(drift, raw, sequences))
        write_json(args.drift_tokens, drift.top_tokens)
        log.info("js tokens %.4f, js lengths %.4f", drift.js_tokens, drift.js_lengths)
        if failures:
            for line in failures:
                log.error("%s", line)
            raise PipelineError(
                f"{len(failures)} check(s) failed ({'; '.join(failures)[:300]}...); see "
                f"{args.report}, {args.drift} and {args.docs}/index.html, fix the data and rerun"
            )
        log.info("all checks passed; reports in %s, %s", args.report, args.drift)

    return run_stage("validate", body)


if __name__ == "__main__":
    sys.exit(main())
