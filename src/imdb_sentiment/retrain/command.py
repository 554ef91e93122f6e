"""`imdb-sentiment retrain`: pull, reproduce (through the champion gate), push, report.

What CI runs to retrain, and what a person runs to do the same by hand. Each step is a
real `dvc` command whose output streams to the console (the CI log) while its last lines
are kept for the report; the report says what happened and why, also when a step fails.
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import logging
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from imdb_sentiment.checkout import find_checkout, git_output
from imdb_sentiment.entrypoint import ExitStatusError, run_entrypoint
from imdb_sentiment.errors import PipelineError, first_line
from imdb_sentiment.retrain import dvc
from imdb_sentiment.retrain.context import gather_context
from imdb_sentiment.retrain.outcome import (
    EXIT_PIPELINE_FAILED,
    EXIT_PUSH_FAILED,
    Options,
    Outcome,
    Step,
    UsageError,
)
from imdb_sentiment.retrain.report import render_report
from imdb_sentiment.tracking.preflight import (
    check_tracking_server,
    is_tracking_server,
    printable_uri,
)
from imdb_sentiment.tracking.runs import flatten
from imdb_sentiment.tracking.store import tracking_uri
from imdb_sentiment.tracking.store_file import check_store_file
from imdb_sentiment.typed_mapping import quote, shorten

COMMAND = "imdb-sentiment retrain"
DEFAULT_REPORT = Path("reports") / "retrain.md"
BASE_CANDIDATES = ("origin/main", "main", "HEAD")

_OVERRIDE = re.compile(r"(?P<key>[A-Za-z_][\w-]*(?:\.[\w-]+)*)=(?P<value>.*)", re.DOTALL)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-S",
        "--set-param",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a params.yaml value for this run (repeatable); runs `dvc exp run -S` "
        "in the workspace instead of `dvc repro`",
    )
    parser.add_argument(
        "--report",
        type=Path,
        help=f"Markdown report to write (default: {DEFAULT_REPORT} in the checkout)",
    )
    parser.add_argument(
        "--base",
        help="git revision to diff metrics and params against "
        f"(default: the first of {', '.join(BASE_CANDIDATES)} that exists)",
    )
    parser.add_argument("--no-pull", action="store_true", help="skip `dvc pull`")
    parser.add_argument("--no-push", action="store_true", help="skip `dvc push`")


def main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run `retrain` from parsed arguments; return the exit status (see outcome.EXIT_*)."""
    return run_entrypoint(COMMAND, lambda: run(args, out or sys.stdout), level=logging.WARNING)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Check the arguments, retrain, write the report; the exit status says how it went."""
    root = find_checkout()
    if root is None:
        raise UsageError(
            "not inside a checkout of the project (no dvc.yaml and .dvc/ here or above); cd into it"
        )
    options = resolve_options(args, root)
    check_store_file(options.tracking_uri)  # a damaged store: one line, before any step
    outcome = retrain(root, options, out)
    outcome.finished = datetime.datetime.now(datetime.UTC)
    text = render_report(outcome, gather_context(outcome))
    try:
        _write_report(options.report, text)
    except OSError as exc:
        raise ExitStatusError(
            f"cannot write {options.report}: {exc}", outcome.exit_code or EXIT_PIPELINE_FAILED
        ) from exc
    dvc.say(out, f"retrain: report in {options.report}")
    return outcome.exit_code


def resolve_options(args: argparse.Namespace, root: Path) -> Options:
    """Check everything that can be checked before a step runs (UsageError if wrong)."""
    overrides = check_overrides(args.overrides, _read_params(root / "params.yaml"))
    report = (args.report or root / DEFAULT_REPORT).resolve()  # given: from the cwd
    check_report_path(report, root)
    return Options(
        overrides=overrides,
        report=report,
        base=resolve_base(args.base, root),
        pull=not args.no_pull,
        push=not args.no_push,
        tracking_uri=tracking_uri(cwd=root),
    )


def check_overrides(overrides: list[str], params: Mapping[str, Any]) -> list[str]:
    """`KEY=VALUE` strings whose KEY is a value (not a section) in params.yaml."""
    leaves = list(flatten(params))
    for override in overrides:
        match = _OVERRIDE.fullmatch(override)
        if match is None:
            raise UsageError(
                f"-S {quote(override)}: expected KEY=VALUE with a dotted params.yaml key, "
                "e.g. -S train.fit.epochs=3"
            )
        key, value = match["key"], match["value"]
        if key not in leaves:
            close = difflib.get_close_matches(key, leaves, n=1)
            hint = f"did you mean {close[0]}?" if close else "see params.yaml for the keys"
            raise UsageError(
                f"-S {shorten(override)}: params.yaml has no value {shorten(key)}; {hint}"
            )
        if not value.strip():
            raise UsageError(f"-S {shorten(override)}: no value given; write null for none")
    return list(overrides)


def check_report_path(report: Path, root: Path) -> None:
    """The report must not be, or sit inside, a file that DVC writes or tracks."""
    if report.is_dir():
        raise UsageError(f"--report {report}: is a directory; give a file path")
    for output in dvc.dvc_outputs(root):
        if report == output or output in report.parents:
            raise UsageError(
                f"--report {report}: that is the DVC output {output.relative_to(root)}; "
                f"choose another path (default {DEFAULT_REPORT})"
            )


def resolve_base(base: str | None, root: Path) -> str | None:
    """The git revision to diff against: the one given, else the first that exists."""
    if base is not None:
        if not _rev_exists(base, root):
            raise UsageError(
                f"--base {base}: no such git revision here; fetch it (git fetch origin main) "
                "or pass another"
            )
        return base
    return next((rev for rev in BASE_CANDIDATES if _rev_exists(rev, root)), None)


def retrain(root: Path, options: Options, out: TextIO) -> Outcome:
    """Preflight, pull, reproduce, push; the outcome says how far it got and why."""
    outcome = Outcome(root, options, datetime.datetime.now(datetime.UTC))
    if not preflight(outcome):
        outcome.exit_code = EXIT_PIPELINE_FAILED
        return outcome
    remote = dvc.default_remote(root)
    pull(outcome, remote, out)
    if not reproduce(outcome, out):
        outcome.exit_code = EXIT_PIPELINE_FAILED
        outcome.steps.append(Step("push", "dvc push", "skipped", note="the pipeline failed"))
        return outcome
    if not push(outcome, remote, out):
        outcome.exit_code = EXIT_PUSH_FAILED
    return outcome


def preflight(outcome: Outcome) -> bool:
    """A tracking server that cannot take the run stops it before any work."""
    uri = outcome.options.tracking_uri
    step = Step("tracking server", f"check {printable_uri(uri)}")
    outcome.steps.append(step)
    if not is_tracking_server(uri):
        step.outcome, step.note = "skipped", "a local store: no server to check"
        return True
    start = time.monotonic()
    try:
        check_tracking_server(uri)
    except PipelineError as exc:
        step.outcome, step.tail = "failed", [str(exc)]
        dvc.say(sys.stderr, f"retrain: {exc}")
        return False
    finally:
        step.seconds = time.monotonic() - start
    return True


def pull(outcome: Outcome, remote: str | None, out: TextIO) -> None:
    """`dvc pull`, whose failure only costs time: DVC recomputes what it could not fetch."""
    if not outcome.options.pull:
        outcome.steps.append(Step("pull", "dvc pull", "skipped", note="--no-pull"))
        return
    if remote is None:
        outcome.steps.append(Step("pull", "dvc pull", "skipped", note="no DVC remote configured"))
        return
    step = dvc.run_step("pull", ["dvc", "pull"], outcome.root, out)
    if step.outcome == "failed":  # e.g. a cold remote, which lacks what dvc.lock names
        step.outcome = "tolerated"
        step.note = f"{dvc.last_error(step.tail)}; went on: DVC recomputes what it could not fetch"
    outcome.steps.append(step)


def reproduce(outcome: Outcome, out: TextIO) -> bool:
    """Run the pipeline, noting which stages ran and which failed. False if it failed."""

    def watch(line: str) -> None:
        if stage := dvc.started_stage(line):
            outcome.stages_run.append(stage)
        if stage := dvc.failed_stage(line):
            outcome.failed_stage = stage

    command = dvc.reproduce_command(outcome.options.overrides)
    step = dvc.run_step("pipeline", command, outcome.root, out, watch)
    outcome.steps.append(step)
    if step.outcome == "failed":
        outcome.failed_stage = outcome.failed_stage or (outcome.stages_run or [None])[-1]
        step.note = f"stage {outcome.failed_stage}" if outcome.failed_stage else ""
        return False
    step.note = (
        f"stages run: {', '.join(outcome.stages_run)}"
        if outcome.stages_run
        else "up to date: no stage ran"
    )
    return True


def push(outcome: Outcome, remote: str | None, out: TextIO) -> bool:
    """`dvc push`; on failure, record what the remote lacks. False if the push failed."""
    if not outcome.options.push:
        outcome.steps.append(Step("push", "dvc push", "skipped", note="--no-push"))
        return True
    if remote is None:
        outcome.steps.append(Step("push", "dvc push", "skipped", note="no DVC remote configured"))
        return True
    step = dvc.run_step("push", ["dvc", "push"], outcome.root, out)
    outcome.steps.append(step)
    if step.outcome == "ok":
        return True
    step.note = dvc.last_error(step.tail)
    outcome.unpushed, outcome.unpushed_source = dvc.unpushed_outputs(outcome.root)
    outcome.local_cache = dvc.local_cache_state(outcome.root)
    return False


def _rev_exists(rev: str, root: Path) -> bool:
    return bool(git_output(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root))


def _read_params(path: Path) -> Mapping[str, Any]:
    from imdb_sentiment.typed_mapping import TypedMappingError, read_yaml_mapping

    try:
        return read_yaml_mapping(path)
    except (OSError, TypedMappingError) as exc:
        raise UsageError(f"cannot read {path}: {first_line(exc)}; fix it first") from exc


def _write_report(path: Path, text: str) -> None:
    from imdb_sentiment.files import atomic_open  # numpy: not for `--help`

    with atomic_open(path) as fh:
        fh.write(text)
