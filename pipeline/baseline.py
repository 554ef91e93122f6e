"""Stage `baseline`: NBSVM on the prepared splits' texts, a reference run in MLflow."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from imdb_sentiment.config import BaselineParams, BaseParams, load_params, load_section
from imdb_sentiment.entrypoint import run_stage
from imdb_sentiment.files import staged_outputs
from imdb_sentiment.tracking.preflight import check_store
from imdb_sentiment.tracking.store import tracking_uri

log = logging.getLogger("pipeline.baseline")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--reviews", type=Path, required=True, help="the reviews table")
    parser.add_argument("--prepared", type=Path, required=True, help="prepare's folder")
    parser.add_argument("--report", type=Path, required=True, help="the metrics JSON")
    args = parser.parse_args(argv)

    def body() -> None:
        params = load_params(args.params)
        base = load_section(params, "base", BaseParams)
        cfg = load_section(params, "baseline", BaselineParams)
        uri = tracking_uri()
        check_store(uri)  # not minutes of fitting before a store that cannot take the run
        from imdb_sentiment.stages.baseline import run_baseline

        # The report moves in once the run holds the results (dvc.yaml keeps the last: persist).
        with staged_outputs() as out:
            outcome = run_baseline(uri, args.reviews, args.prepared, cfg, base.seed)
            out.write_json(args.report, outcome.report())
        log.info("test accuracy %.4f; metrics in %s", outcome.test.metrics["accuracy"], args.report)

    return run_stage("baseline", body, [args.report])


if __name__ == "__main__":
    sys.exit(main())
