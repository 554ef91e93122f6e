"""Stage `evaluate`: test metrics and plots for DVC, logged with the raw-text model to MLflow."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from imdb_sentiment.config import EvaluateParams, ServeParams, load_params, load_section
from imdb_sentiment.entrypoint import run_stage
from imdb_sentiment.files import read_json, staged_outputs, write_json
from imdb_sentiment.modeling.runtime import select_backend
from imdb_sentiment.tracking.preflight import check_store
from imdb_sentiment.tracking.store import tracking_uri

log = logging.getLogger("pipeline.evaluate")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--test", type=Path, required=True, help="prepared test .npz")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--run", type=Path, required=True, help="train's run JSON")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--plots", type=Path, required=True, help="directory for curves")
    parser.add_argument("--vocab", type=Path, required=True, help="prepare's vocab.json")
    parser.add_argument("--reviews", type=Path, required=True, help="download's reviews table")
    parser.add_argument("--slices", type=Path, required=True, help="accuracy per slice JSON")
    parser.add_argument("--behaviour", type=Path, required=True, help="behaviour checks JSON")
    parser.add_argument(
        "--text-model", type=Path, required=True, help="JSON naming the logged raw-text model"
    )
    parser.add_argument(
        "--lineage",
        type=Path,
        action="append",
        default=[],
        help="an upstream output whose md5 to tag the run with (repeatable)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def body() -> None:
        params = load_params(args.params)
        cfg = load_section(params, "evaluate", EvaluateParams)
        serve = load_section(params, "serve", ServeParams)  # baked into the raw-text model
        run = read_json(args.run)
        uri = tracking_uri()
        check_store(uri)  # not minutes of MLflow retries after scoring
        # The backend that trained the model also scores it (a .keras file loads in any).
        select_backend(run["backend"])
        from imdb_sentiment.stages.evaluate import evaluate_and_log

        # Every output moves in once the run holds the results: a failure or a kill before
        # that leaves the last good ones (dvc.yaml keeps them: persist).
        with staged_outputs() as out:
            plots = out.directory(args.plots)
            scored = evaluate_and_log(
                uri,
                args.model,
                args.test,
                run["run_id"],
                cfg,
                serve,
                plots,
                args.vocab,
                args.lineage,
                args.reviews,
            )
            evaluation = scored.evaluation
            out.write_json(args.metrics, {"test": {**evaluation.metrics, **evaluation.confusion}})
            write_json(plots / "roc.json", evaluation.roc)
            out.write_json(args.slices, scored.checks.slices)
            out.write_json(args.behaviour, scored.checks.behaviour)
            write_json(plots / "pr.json", evaluation.pr)
            out.write_json(
                args.text_model,
                {
                    "run_id": run["run_id"],
                    "model_uri": scored.text_model_uri,
                    "test_accuracy": evaluation.metrics["accuracy"],
                },
            )
        log.info("test accuracy %.4f; metrics in %s", evaluation.metrics["accuracy"], args.metrics)

    outputs = [args.metrics, args.slices, args.behaviour, args.text_model, args.plots]
    return run_stage("evaluate", body, outputs)


if __name__ == "__main__":
    sys.exit(main())
