"""`imdb-sentiment reproduce MODEL_URI`: rebuild a registered version and attest the result.

Refuses a version trained from uncommitted code. Checks its commit out into a temporary git
worktree (your checkout is not touched), fetches its data by md5 from the DVC cache or remote,
reruns the pipeline up to evaluate there with the commit's params, tracking into a throwaway
MLflow store, and compares weights and test metrics with the original's. The verdict goes to
the version (tags, and an attestation logged with its run) and to a Markdown report.
Exit status: 0 reproduced, 1 differs, 2 could not run (the one-line error names the step).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from imdb_sentiment.checkout import find_checkout
from imdb_sentiment.entrypoint import ExitStatusError, run_entrypoint
from imdb_sentiment.errors import PipelineError, first_line
from imdb_sentiment.reproduce.outcome import EXIT_COULD_NOT_RUN, CouldNotRunError, Options, Outcome
from imdb_sentiment.reproduce.recorded import ModelUriError, parse_model_uri
from imdb_sentiment.retrain import dvc
from imdb_sentiment.retrain.outcome import Step, UsageError
from imdb_sentiment.tracking.preflight import printable_uri
from imdb_sentiment.tracking.store import tracking_uri

if TYPE_CHECKING:
    from imdb_sentiment.reproduce.rebuild import Scratch

COMMAND = "imdb-sentiment reproduce"
DEFAULT_REPORT = Path("reports") / "reproduce.md"
_PROGRESS_BAR_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model_uri",
        metavar="MODEL_URI",
        help="the registered version: models:/NAME/VERSION or models:/NAME@ALIAS, "
        "e.g. models:/imdb-sentiment@champion",
    )
    parser.add_argument(
        "--report",
        type=Path,
        help=f"Markdown report to write (default: {DEFAULT_REPORT} in the checkout)",
    )


def main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run `reproduce` from parsed arguments; return the exit status (0, 1 or 2)."""
    return run_entrypoint(COMMAND, lambda: run(args, out or sys.stdout), level=logging.WARNING)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Check the arguments, reproduce, write the report; the exit status says how it went."""
    options = resolve_options(args)
    # MLflow draws a progress bar per download on stderr, where only the one-line error goes.
    os.environ.setdefault(_PROGRESS_BAR_ENV, "false")
    outcome = Outcome(options, _now())
    try:
        reproduce(outcome, out)
    except CouldNotRunError as exc:
        outcome.failure = exc
    outcome.finished = _now()
    from imdb_sentiment.reproduce.report import render_report, summary_line, write_report

    try:
        write_report(options.report, render_report(outcome))
    except OSError as exc:
        raise ExitStatusError(f"cannot write {options.report}: {exc}", EXIT_COULD_NOT_RUN) from exc
    dvc.say(out, f"reproduce: report in {options.report}")
    if outcome.failure is not None:
        raise outcome.failure  # one line on stderr, exit status 2
    dvc.say(out, summary_line(outcome))
    return outcome.exit_code


def resolve_options(args: argparse.Namespace) -> Options:
    """Everything that can be checked before a step runs (UsageError, exit 2, if wrong)."""
    root = find_checkout()
    if root is None:
        raise UsageError(
            "not inside a checkout of the project (no dvc.yaml and .dvc/ here or above); cd into it"
        )
    try:
        model = parse_model_uri(args.model_uri)
    except ModelUriError as exc:
        raise UsageError(str(exc)) from exc
    from imdb_sentiment.config import ReproduceParams, load_params, load_section

    try:  # the checkout's tolerance; the rebuild itself reads the commit's params
        params = load_section(load_params(root / "params.yaml"), "reproduce", ReproduceParams)
    except PipelineError as exc:
        raise UsageError(first_line(exc)) from exc
    report = (args.report or root / DEFAULT_REPORT).resolve()  # given: from the cwd
    if report.is_dir() or report in dvc.dvc_outputs(root):
        raise UsageError(f"--report {report}: a folder or a DVC output; choose another file")
    return Options(model, root, report, tracking_uri(cwd=root), params.metric_tolerance)


def reproduce(outcome: Outcome, out: TextIO) -> None:
    """Resolve, check, rebuild, compare, attest; a step that cannot run raises CouldNotRunError."""
    from imdb_sentiment.reproduce import steps

    options = outcome.options
    where = printable_uri(options.tracking_uri)
    with timed(outcome, out, "resolve", f"find {options.model.uri} in {where}"):
        found = steps.resolve(options)
    with timed(outcome, out, "lineage", f"check v{found.version.version}'s lineage"):
        outcome.recorded = steps.check_lineage(options, found)
    commit = outcome.recorded.commit
    with (
        tempfile.TemporaryDirectory(prefix="imdb-reproduce-") as folder,
        contextlib.ExitStack() as worktree,
    ):
        scratch = steps.Scratch(Path(folder))
        with timed(outcome, out, "original model", f"download {found.model_uri}"):
            outcome.original = steps.read_original(options, outcome.recorded, scratch)
        with timed(outcome, out, "checkout", f"git worktree add --detach {commit[:12]}"):
            remote = steps.check_out(options, commit, scratch, worktree)
        with timed(outcome, out, "fetch data", "by md5: the DVC cache, else the remote"):
            md5s = outcome.recorded.data_md5
            outcome.data_sources = steps.fetch_data(options.root, scratch, md5s, remote, out)
        rebuild(outcome, scratch, out)
    with timed(outcome, out, "compare", f"rules: exact, or within {options.metric_tolerance:g}"):
        steps.compare(outcome)
    with timed(outcome, out, "attest", f"tag v{found.version.version}, log the attestation"):
        steps.attest(outcome, found)


def rebuild(outcome: Outcome, scratch: Scratch, out: TextIO) -> None:
    """`dvc commit`, `dvc repro` in the worktree; then what the rebuild produced."""
    from imdb_sentiment.reproduce import steps

    ran, stages = steps.run_rebuild(scratch, list(outcome.recorded.data_md5), out)
    outcome.steps.extend(ran)
    failed = next((step for step in ran if step.outcome != "ok"), None)
    if failed is not None:
        raise CouldNotRunError("rebuild", f"`{failed.command}` failed: {failed.note}")
    with timed(outcome, out, "read rebuild", "the rebuilt run and model"):
        outcome.rebuilt = steps.read_rebuild(scratch, stages)


@contextlib.contextmanager
def timed(outcome: Outcome, out: TextIO, name: str, command: str) -> Iterator[Step]:
    """A step of the report, timed; a PipelineError inside becomes CouldNotRunError(name)."""
    step = Step(name, command)
    outcome.steps.append(step)
    dvc.say(out, f"reproduce: {name}: {command}")
    start = time.monotonic()
    try:
        yield step
    except CouldNotRunError:
        step.outcome = "failed"
        raise
    except (PipelineError, OSError) as exc:  # OSError: a full disk, a file not readable
        step.outcome = "failed"
        raise CouldNotRunError(name, first_line(exc)) from exc
    finally:
        step.seconds = time.monotonic() - start


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
