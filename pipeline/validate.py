"""Stage `validate`: Great Expectations suites over the raw reviews and the prepared sequences."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from imdb_sentiment.cli import run_stage
from imdb_sentiment.config import ValidateParams, load_params, load_section
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.io import atomic_dir, read_json, write_json
from imdb_sentiment.validation import (
    raw_review_expectations,
    raw_review_frame,
    run_suites,
    sequence_expectations,
    sequence_frame,
)

log = logging.getLogger("pipeline.validate")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--reviews", type=Path, required=True)
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True, help="JSON results to write")
    parser.add_argument("--docs", type=Path, required=True, help="Data Docs HTML directory")
    args = parser.parse_args(argv)

    def body() -> None:
        cfg = load_section(load_params(args.params), "validate", ValidateParams)
        meta = read_json(args.prepared / "meta.json")
        arrays = {}
        for name in meta["counts"]:
            with np.load(args.prepared / f"{name}.npz") as npz:
                arrays[name] = (npz["x"], npz["y"])
        suites = {
            "raw_reviews": (
                raw_review_frame(pd.read_parquet(args.reviews)),
                raw_review_expectations(cfg.reviews_per_split_label),
            ),
            "sequences": (sequence_frame(arrays), sequence_expectations(meta)),
        }
        with atomic_dir(args.docs) as docs:
            results = run_suites(suites, docs)
        write_json(
            args.report,
            {
                "success": all(r.success for r in results),
                "suites": {
                    r.suite: {"success": r.success, "failures": r.failures} for r in results
                },
                "results": {r.suite: r.details for r in results},
            },
        )
        failures = [f"{r.suite}: {line}" for r in results for line in r.failures]
        if failures:
            for line in failures:
                log.error("%s", line)
            raise PipelineError(
                f"{len(failures)} expectation(s) failed ({'; '.join(failures)[:300]}...); "
                f"see {args.report} and {args.docs}/index.html, fix the data and rerun"
            )
        log.info("all expectations passed; report in %s", args.report)

    return run_stage("validate", body)


if __name__ == "__main__":
    sys.exit(main())
