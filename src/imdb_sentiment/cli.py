"""The `imdb-sentiment` command: use the registered model from a shell."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from imdb_sentiment.checkout import find_checkout
from imdb_sentiment.entrypoint import run_entrypoint
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.registry.predict import PredictError, predict_reviews
from imdb_sentiment.reproduce import command as reproduce
from imdb_sentiment.retrain import command as retrain
from imdb_sentiment.tracking.names import CHAMPION_URI
from imdb_sentiment.tracking.preflight import check_store
from imdb_sentiment.tracking.store import tracking_uri

PROG = "imdb-sentiment"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "retrain":
        return retrain.main(args)
    if args.command == "reproduce":
        return reproduce.main(args)
    command = rank_experiments if args.command == "experiments" else predict
    # Our loggers say only what goes wrong: the commands print their results themselves.
    return run_entrypoint(PROG, lambda: command(args), level=logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add_predict_arguments(
        commands.add_parser(
            "predict",
            help="label reviews as positive or negative",
            description="Print the sentiment label and positive-class probability of each "
            "review, one line per review, in input order.",
        )
    )
    retrain.add_arguments(
        commands.add_parser(
            "retrain",
            help="pull, reproduce the pipeline through the champion gate, push, report",
            description=retrain.__doc__,
        )
    )
    reproduce.add_arguments(
        commands.add_parser(
            "reproduce",
            help="rebuild a registered version from its lineage, compare, attest the result",
            description=reproduce.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    add_experiments_arguments(
        commands.add_parser(
            "experiments",
            help="rank tracked runs by validation accuracy into a Markdown report",
            description="Rank the finished runs that share this checkout's validation split by "
            "validation accuracy (runs that differ only in train.seed as one configuration, by "
            "their mean), show test accuracy only for the selected configurations and the one "
            "params.yaml sets up, list reference runs (NBSVM) apart, write the report and log "
            "it to the selected runs.",
        )
    )
    return parser


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reviews", nargs="*", help="review texts (quote each one)")
    parser.add_argument(
        "--file", type=Path, help="a file with one review per line; '-' reads standard input"
    )
    parser.add_argument(
        "--model-uri", default=CHAMPION_URI, help=f"an MLflow model URI (default {CHAMPION_URI})"
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of text")


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
        "--select",
        type=int,
        default=1,
        help="how many top configurations (runs differing only in train.seed) to select "
        "(default 1)",
    )
    parser.add_argument("--top", type=int, default=20, help="rows in the table (default 20)")


def predict(args: argparse.Namespace) -> None:
    """The `predict` command: one line per review, in input order."""
    reviews = gather_reviews(args.reviews, args.file, sys.stdin.buffer)
    # MLflow draws a progress bar while it copies the model's files: only the answers print.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # Set before numpy loads. The numpy forward pass multiplies small matrices, where BLAS
    # threads cost more than they save (1,000 reviews: 1.1 s on one thread, 3.3-4.9 s on two
    # busy cores).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    uri = tracking_uri(cwd=_checkout())
    # A registered or logged model is in the store: reading it must not create one.
    check_store(uri, must_exist=args.model_uri.startswith(("models:/", "runs:/")))
    results = predict_reviews(uri, args.model_uri, reviews)
    for line in format_results(results, as_json=args.json):
        print(line)  # noqa: T201


def rank_experiments(args: argparse.Namespace) -> None:
    """The `experiments` command: the report, and one summary line per selected run."""
    from imdb_sentiment.config import load_params
    from imdb_sentiment.tracking.experiments import write_ranking_report

    checkout = _checkout()
    report = args.report or checkout / "reports" / "experiments.md"
    if args.top < 1:
        raise PipelineError("--top must be at least 1")
    params = load_params(args.params or checkout / "params.yaml")
    uri = tracking_uri(cwd=checkout)
    check_store(uri, must_exist=True)  # ranking reads runs: it must not create a store
    ranking = write_ranking_report(uri, params, report, args.select, args.top)
    print(f"{len(ranking.ranked)} runs ranked by validation accuracy; report in {report}")  # noqa: T201
    for config in ranking.selected:
        test = config.test_accuracy(ranking.test_accuracy)
        shown = "not evaluated" if test is None else test.format()
        seeds = f" ({len(config.runs)} seeds)" if len(config.runs) > 1 else ""
        print(  # noqa: T201
            f"selected {config.best.name}{seeds}: val accuracy {config.val_accuracy.format()}, "
            f"test accuracy {shown}"
        )


def gather_reviews(texts: list[str], path: Path | None, stdin: BinaryIO) -> list[str]:
    """Reviews from the arguments and/or a file (one per line); blank ones are an error.

    A file and standard input ('-') are read as bytes and decoded by one rule (`read_text`).
    """
    reviews = list(texts)
    if path is not None:
        source = str(path)
        try:
            data = stdin.read() if source == "-" else path.read_bytes()
        except OSError as exc:
            raise PredictError(f"cannot read {source}: {exc}") from exc
        for number, line in enumerate(read_text(data, source).splitlines(), start=1):
            if not line.strip():
                raise PredictError(f"{source}:{number}: empty line; put one review per line")
            reviews.append(line)
    if not reviews:
        raise PredictError("no reviews given; pass review texts or --file FILE ('-' for stdin)")
    for number, review in enumerate(reviews, start=1):  # numbered as the served model does
        if not review.strip():
            raise PredictError(f"review {number} is empty; pass the review's text")
    return reviews


def read_text(data: bytes, source: str) -> str:
    """UTF-8 text (a leading byte-order mark dropped); binary data is refused in one line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PredictError(
            f"cannot read {source}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start:,}); pass a UTF-8 text file with one review per line"
        ) from None
    if "\x00" in text:
        raise PredictError(
            f"cannot read {source}: a NUL byte at offset {text.index(chr(0)):,} (binary data?); "
            "pass a UTF-8 text file with one review per line"
        )
    return text


def format_results(results: Iterable[tuple[str, float]], as_json: bool) -> list[str]:
    if as_json:
        return [json.dumps({"label": label, "probability": p}) for label, p in results]
    return [f"{label}\t{p:.4f}" for label, p in results]


def _checkout() -> Path:
    """The project checkout holding cwd (its mlflow.db is the default store), else cwd."""
    return find_checkout() or Path.cwd().resolve()


if __name__ == "__main__":
    sys.exit(main())
