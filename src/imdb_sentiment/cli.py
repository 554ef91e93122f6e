"""The `imdb-sentiment` command: use the registered model from a shell."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from imdb_sentiment.checkout import find_checkout
from imdb_sentiment.errors import PipelineError, first_line
from imdb_sentiment.retrain import command as retrain
from imdb_sentiment.tracking.names import CHAMPION_URI
from imdb_sentiment.tracking.store import tracking_uri


class PredictError(PipelineError):
    """The reviews or the model cannot be used as given."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imdb-sentiment", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict",
        help="label reviews as positive or negative",
        description="Print the sentiment label and positive-class probability of each review, "
        "one line per review, in input order.",
    )
    predict.add_argument("reviews", nargs="*", help="review texts (quote each one)")
    predict.add_argument(
        "--file", type=Path, help="a file with one review per line; '-' reads standard input"
    )
    predict.add_argument(
        "--model-uri", default=CHAMPION_URI, help=f"an MLflow model URI (default {CHAMPION_URI})"
    )
    predict.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    retrain.add_arguments(
        commands.add_parser(
            "retrain",
            help="pull, reproduce the pipeline through the champion gate, push, report",
            description=retrain.__doc__,
        )
    )
    add_experiments_arguments(
        commands.add_parser(
            "experiments",
            help="rank tracked runs by validation accuracy into a Markdown report",
            description="Rank the finished runs that share this checkout's validation split by "
            "validation accuracy, show test accuracy for the selected runs only, write the "
            "report and log it to the selected runs.",
        )
    )
    args = parser.parse_args(argv)
    if args.command == "retrain":
        return retrain.main(args)
    if args.command == "experiments":
        return rank_experiments(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's start-up chatter on stderr
    try:
        reviews = gather_reviews(args.reviews, args.file, sys.stdin)
        results = predict_reviews(args.model_uri, reviews)
    except PipelineError as exc:
        print(f"imdb-sentiment: error: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    for line in format_results(results, as_json=args.json):
        print(line)  # noqa: T201
    return 0


def add_experiments_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report",
        type=Path,
        help="where to write the report (default: reports/experiments.md in the checkout)",
    )
    parser.add_argument(
        "--params",
        type=Path,
        help="the params file whose validation split runs must share, and that the report's "
        "`dvc exp run -S` lines start from (default: the checkout's params.yaml)",
    )
    parser.add_argument(
        "--select", type=int, default=1, help="how many top runs to select (default 1)"
    )
    parser.add_argument("--top", type=int, default=20, help="rows in the table (default 20)")


def rank_experiments(args: argparse.Namespace) -> int:
    """The `experiments` command: the report, and one summary line per selected run."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    checkout = _checkout()
    report = args.report or checkout / "reports" / "experiments.md"
    try:
        from imdb_sentiment.config import load_params
        from imdb_sentiment.tracking.experiments import write_report

        if args.top < 1:
            raise PipelineError("--top must be at least 1")
        params = load_params(args.params or checkout / "params.yaml")
        comparison = write_report(tracking_uri(cwd=checkout), params, report, args.select, args.top)
    except PipelineError as exc:
        print(f"imdb-sentiment: error: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    print(f"{len(comparison.ranked)} runs ranked by validation accuracy; report in {report}")  # noqa: T201
    for c in comparison.selected:
        test = comparison.test_accuracy.get(c.run_id)
        shown = "not evaluated" if test is None else f"{test:.4f}"
        print(f"selected {c.name}: val accuracy {c.val_accuracy:.4f}, test accuracy {shown}")  # noqa: T201
    return 0


def gather_reviews(texts: list[str], path: Path | None, stdin: TextIO) -> list[str]:
    """Reviews from the arguments and/or a file (one per line); blank ones are an error."""
    reviews = list(texts)
    if path is not None:
        source = str(path)
        try:
            content = stdin.read() if source == "-" else path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PredictError(f"cannot read {source}: {exc}") from exc
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                raise PredictError(f"{source}:{number}: empty line; put one review per line")
            reviews.append(line)
    if not reviews:
        raise PredictError("no reviews given; pass review texts or --file FILE ('-' for stdin)")
    for i, review in enumerate(reviews):
        if not review.strip():
            raise PredictError(f"review {i + 1} is empty; pass the review's text")
    return reviews


def predict_reviews(model_uri: str, reviews: list[str]) -> list[tuple[str, float]]:
    """(label, probability) per review, from the raw-text model at `model_uri`."""
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(tracking_uri(cwd=_checkout()))
    try:
        model = mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, OSError) as exc:
        hint = (
            "run `dvc repro` in the project to train and promote one, or pass --model-uri"
            if model_uri == CHAMPION_URI
            else "check the URI and MLFLOW_TRACKING_URI"
        )
        raise PredictError(f"cannot load {model_uri} ({first_line(exc)}); {hint}") from exc
    return [(answer.label, answer.probability) for answer in model.predict(reviews)]


def format_results(results: Iterable[tuple[str, float]], as_json: bool) -> list[str]:
    if as_json:
        return [json.dumps({"label": label, "probability": p}) for label, p in results]
    return [f"{label}\t{p:.4f}" for label, p in results]


def _checkout() -> Path:
    """The project checkout holding cwd (its mlflow.db is the default store), else cwd."""
    return find_checkout() or Path.cwd().resolve()


if __name__ == "__main__":
    sys.exit(main())
