"""Stage `validate`: GX suites over the raw reviews and the prepared sequences, and drift."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from imdb_sentiment.config import ValidateParams, load_params, load_section
from imdb_sentiment.entrypoint import run_stage
from imdb_sentiment.stages.validate import ValidationReports, validate_data

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
        reports = ValidationReports(args.report, args.docs, args.drift, args.drift_tokens)
        validate_data(args.reviews, args.prepared, cfg, reports)
        log.info("all checks passed; reports in %s, %s", args.report, args.drift)

    outputs = [args.report, args.docs, args.drift, args.drift_tokens]
    return run_stage("validate", body, outputs)


if __name__ == "__main__":
    sys.exit(main())
