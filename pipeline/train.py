"""Stage `train`: fit the conv-LSTM on the train split, track the run in MLflow, save the model."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from imdb_sentiment.config import load_pipeline_params
from imdb_sentiment.data.prepared import read_meta
from imdb_sentiment.data.source import read_source_record
from imdb_sentiment.entrypoint import run_stage
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.files import read_json, staged_outputs
from imdb_sentiment.memory import check_training_memory
from imdb_sentiment.modeling.runtime import choose_backend
from imdb_sentiment.tracking.preflight import check_store
from imdb_sentiment.tracking.store import connect, tracking_uri

log = logging.getLogger("pipeline.train")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--validation", type=Path, required=True, help="validate's JSON report")
    parser.add_argument("--model", type=Path, required=True, help=".keras file to write")
    parser.add_argument("--run", type=Path, required=True, help="JSON with the MLflow run id")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--history", type=Path, required=True, help="per-epoch plot data")
    parser.add_argument(
        "--source", type=Path, help="download's record of the archive it read (source.json)"
    )
    parser.add_argument(
        "--data-report",
        type=Path,
        action="append",
        default=[],
        help="file or directory of validate's reports to log with the run (repeatable)",
    )
    args = parser.parse_args(argv)

    def body() -> None:
        params = load_pipeline_params(args.params)
        cfg = params.train
        uri = tracking_uri()
        # Before any data or model: MLflow's client would retry a dead server for minutes,
        # and only at the first log call, after the training it was meant to record.
        check_store(uri)
        if not read_json(args.validation).get("success"):
            raise PipelineError(
                f"{args.validation} records failed expectations; fix the data first"
            )
        check_training_memory(cfg, read_meta(args.prepared))
        # Keras (and its backend) load only once the inputs are known to be good.
        # params.yaml decides, before Keras is imported; auto becomes jax or tensorflow.
        backend = choose_backend(cfg.runtime)
        from imdb_sentiment.stages.train import run_record, set_up_training, train_and_log

        setup = set_up_training(params, args.prepared)
        # Connected once the model is built: one that cannot be built leaves no run or store.
        store = connect(uri)
        reports = [args.validation, *args.data_report]
        # All four outputs move in together once the run is logged: a failure or a kill
        # before that leaves the last good ones (dvc.yaml keeps them: persist).
        with staged_outputs() as out:
            source = read_source_record(args.source) if args.source else None
            outcome = train_and_log(setup, store, out.path(args.model), reports, source)
            # evaluate scores with the backend that trained
            run = run_record(outcome, backend, default_uri=tracking_uri({}))
            out.write_json(args.run, run)
            out.write_json(args.metrics, outcome.summary)
            out.write_json(args.history, outcome.history)
        log.info("model in %s, MLflow run %s, trained on %s", args.model, outcome.run_id, backend)

    outputs = [args.model, args.run, args.metrics, args.history]
    return run_stage("train", body, outputs)


if __name__ == "__main__":
    sys.exit(main())
