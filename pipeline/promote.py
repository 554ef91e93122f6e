"""Stage `promote`: register the run's raw-text model and let it challenge the champion."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from imdb_sentiment.checkout import project_root
from imdb_sentiment.config import PromoteParams, load_params, load_section
from imdb_sentiment.entrypoint import run_stage
from imdb_sentiment.files import read_json, write_json
from imdb_sentiment.tracking.preflight import check_tracking_server
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
        cfg = load_section(load_params(args.params), "promote", PromoteParams)
        model = read_json(args.text_model)
        if project_root() != Path.cwd().resolve():
            # A queued or temp experiment: a sweep must not move the champion back and forth.
            write_json(args.report, skipped(model["run_id"]))
            log.info("experiment run in a temporary copy: not promoting")
            return
        check_tracking_server(tracking_uri())  # a dead server fails now, not after retries
        # Keras and MLflow load only once the inputs are known to be good.
        from imdb_sentiment.registry.gate import Candidate, load_test_reviews, run_gate
        from imdb_sentiment.tracking.store import setup_experiment

        texts, labels = load_test_reviews(args.reviews, args.test)
        setup_experiment(tracking_uri())
        candidate = Candidate(model["run_id"], model["model_uri"], model["test_accuracy"])
        write_json(args.report, run_gate(candidate, texts, labels, cfg))

    return run_stage("promote", body)


def skipped(run_id: str) -> dict[str, str]:
    return {
        "decision": "skipped",
        "reason": (
            "queued/temp experiments do not promote; to promote this one: "
            "dvc exp apply <name> && dvc repro --force --single-item promote"
        ),
        "run_id": run_id,
    }


if __name__ == "__main__":
    sys.exit(main())
