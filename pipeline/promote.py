"""Stage `promote`: register the run's raw-text model and let it challenge the champion."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from imdb_sentiment.config import EvaluateParams, PromoteParams, load_params, load_section
from imdb_sentiment.entrypoint import run_stage
from imdb_sentiment.files import read_json, write_json
from imdb_sentiment.stages.promote import promote_or_skip
from imdb_sentiment.tracking.store import tracking_uri

log = logging.getLogger("pipeline.promote")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--reviews", type=Path, required=True, help="download's reviews table")
    parser.add_argument("--test", type=Path, required=True, help="prepared test .npz")
    parser.add_argument("--text-model", type=Path, required=True, help="evaluate's model JSON")
    parser.add_argument("--report", type=Path, required=True, help="promotion JSON to write")
    args = parser.parse_args(argv)

    def body() -> None:
        params = load_params(args.params)
        cfg = load_section(params, "promote", PromoteParams)
        behaviour = load_section(params, "evaluate", EvaluateParams).behaviour
        text_model = read_json(args.text_model)
        report = promote_or_skip(
            tracking_uri(), text_model, args.reviews, args.test, cfg, behaviour
        )
        write_json(args.report, report)
        log.info("%s; report in %s", report["decision"], args.report)

    return run_stage("promote", body, [args.report])


if __name__ == "__main__":
    sys.exit(main())
