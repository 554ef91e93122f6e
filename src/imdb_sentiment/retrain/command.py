"""`imdb-sentiment retrain`: pull, reproduce (through the champion gate), push, report.

What CI runs to retrain, and what a person runs to do the same by hand. Each step is a
real `dvc` command whose output streams to the console (the CI log) while its last lines
are kept for the report; the report says what happened and why, also when a step fails.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import difflib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from imdb_sentiment.checkout import find_checkout, git_output
from imdb_sentiment.errors import PipelineError, first_line
from imdb_sentiment.retrain.report import (
    EXIT_PIPELINE_FAILED,
    EXIT_PUSH_FAILED,
    EXIT_USAGE,
    Context,
    Options,
    Outcome,
    Step,
    render,
    trigger_lines,
)
from imdb_sentiment.tracking.names import REGISTERED_MODEL
from imdb_sentiment.tracking.preflight import (
    check_tracking_server,
    is_tracking_server,
    printable_uri,
)
from imdb_sentiment.tracking.runs import flatten
from imdb_sentiment.tracking.store import tracking_uri

DEFAULT_REPORT = Path("reports") / "retrain.md"
BASE_CANDIDATES = ("origin/main", "main", "HEAD")
TAIL_LINES = 40  # of a failed step's output, in the report

# Report-gathering dvc commands (diffs, status) are quick; a hung one must not hang CI.
_QUERY_TIMEOUT_S = 600
_OVERRIDE = re.compile(r"(?P<key>[A-Za-z_][\w-]*(?:\.[\w-]+)*)=(?P<value>.*)", re.DOTALL)
_RUNNING_STAGE = re.compile(r"^Running stage '([^']+)'")
_FAILED_STAGE = re.compile(r"failed to reproduce '([^']+)'")


class UsageError(PipelineError):
    """The command line cannot be carried out as given (exit status 2)."""


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
    """Run `retrain` from parsed arguments; return the exit status."""
    out = out or sys.stdout
    try:
        root = find_checkout()
        if root is None:
            raise UsageError(
                "not inside a checkout of the project (no dvc.yaml and .dvc/ here or above); "
                "cd into it"
            )
        options = resolve_options(args, root)
    except UsageError as exc:
        _say(sys.stderr, f"imdb-sentiment retrain: error: {exc}")
        return EXIT_USAGE
    outcome = retrain(root, options, out)
    outcome.finished = datetime.datetime.now(datetime.UTC)
    try:
        write_report(options.report, render(outcome, gather_context(outcome)))
    except OSError as exc:
        _say(sys.stderr, f"imdb-sentiment retrain: error: cannot write {options.report}: {exc}")
        return outcome.exit_code or EXIT_PIPELINE_FAILED
    _say(out, f"retrain: report in {options.report}")
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
    )


def check_overrides(overrides: list[str], params: Mapping[str, Any]) -> list[str]:
    """`KEY=VALUE` strings whose KEY is a value (not a section) in params.yaml."""
    leaves = list(flatten(params))
    for override in overrides:
        match = _OVERRIDE.fullmatch(override)
        if match is None:
            raise UsageError(
                f"-S {override!r}: expected KEY=VALUE with a dotted params.yaml key, "
                "e.g. -S train.fit.epochs=3"
            )
        key, value = match["key"], match["value"]
        if key not in leaves:
            close = difflib.get_close_matches(key, leaves, n=1)
            hint = f"did you mean {close[0]}?" if close else "see params.yaml for the keys"
            raise UsageError(f"-S {override}: params.yaml has no value {key}; {hint}")
        if not value.strip():
            raise UsageError(f"-S {override}: no value given; write null for none")
    return list(overrides)


def check_report_path(report: Path, root: Path) -> None:
    """The report must not be, or sit inside, a file that DVC writes or tracks."""
    if report.is_dir():
        raise UsageError(f"--report {report}: is a directory; give a file path")
    for output in _dvc_outputs(root):
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
    remote = default_remote(root)
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
    uri = tracking_uri(cwd=outcome.root)
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
        _say(sys.stderr, f"retrain: {exc}")
        return False
    finally:
        step.seconds = time.monotonic() - start
    return True


def default_remote(root: Path) -> str | None:
    """The default DVC remote's name, or None when none is configured."""
    proc = _capture(["dvc", "remote", "default"], root)
    name = proc.stdout.strip()
    return name if proc.returncode == 0 and name else None


def pull(outcome: Outcome, remote: str | None, out: TextIO) -> None:
    """`dvc pull`, whose failure only costs time: DVC recomputes what it could not fetch."""
    if not outcome.options.pull:
        outcome.steps.append(Step("pull", "dvc pull", "skipped", note="--no-pull"))
        return
    if remote is None:
        outcome.steps.append(Step("pull", "dvc pull", "skipped", note="no DVC remote configured"))
        return
    step = run_step("pull", ["dvc", "pull"], outcome.root, out)
    if step.outcome == "failed":  # e.g. a cold remote, which lacks what dvc.lock names
        step.outcome = "tolerated"
        step.note = f"{_last_error(step.tail)}; went on: DVC recomputes what it could not fetch"
    outcome.steps.append(step)


def reproduce(outcome: Outcome, out: TextIO) -> bool:
    """`dvc repro`, or `dvc exp run -S ...` in the workspace (so `promote` runs for real)."""
    overrides = outcome.options.overrides
    command = ["dvc", "repro"]
    if overrides:
        command = ["dvc", "exp", "run", *(arg for o in overrides for arg in ("-S", o))]

    def watch(line: str) -> None:
        if match := _RUNNING_STAGE.match(line):
            outcome.stages_run.append(match[1])
        if match := _FAILED_STAGE.search(line):
            outcome.failed_stage = match[1]

    step = run_step("pipeline", command, outcome.root, out, watch)
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
    step = run_step("push", ["dvc", "push"], outcome.root, out)
    outcome.steps.append(step)
    if step.outcome == "ok":
        return True
    step.note = _last_error(step.tail)
    outcome.unpushed, outcome.unpushed_source = unpushed_outputs(outcome.root)
    outcome.local_cache = local_cache_state(outcome.root)
    return False


def run_step(
    name: str,
    command: list[str],
    cwd: Path,
    out: TextIO,
    watch: Callable[[str], None] | None = None,
) -> Step:
    """Run `command`, streaming its output to `out`; keep its tail for the report."""
    _say(out, f"retrain: {name}: $ {' '.join(command)}")
    start = time.monotonic()
    returncode, tail = stream(command, cwd, out, watch)
    step = Step(name, " ".join(command), "ok" if returncode == 0 else "failed")
    step.seconds = time.monotonic() - start
    if returncode != 0:
        step.tail = tail
        _say(out, f"retrain: {name} failed (exit status {returncode})")
    return step


def stream(
    command: list[str],
    cwd: Path,
    out: TextIO,
    watch: Callable[[str], None] | None = None,
    keep: int = TAIL_LINES,
) -> tuple[int, list[str]]:
    """Exit status and last `keep` lines of `command`, its output copied to `out` as it comes."""
    # Unbuffered: the stages' logs reach the CI log as they happen, not when a stage ends.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    tail: collections.deque[str] = collections.deque(maxlen=keep)
    try:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        )
    except OSError as exc:
        return 127, [f"cannot run {command[0]}: {exc}"]
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            out.write(line)
            out.flush()
            tail.append(line.rstrip("\n"))
            if watch is not None:
                watch(line)
    return proc.returncode, list(tail)


def unpushed_outputs(root: Path) -> tuple[list[tuple[str, str]], str]:
    """(path, detail) of each output the remote lacks, and how that is known.

    `dvc status --cloud` says exactly, when the remote can be read at all; when it cannot,
    any cached output of the lock file may be missing there.
    """
    proc = _capture(["dvc", "status", "--cloud", "--json"], root)
    if proc.returncode == 0:
        try:
            status = json.loads(proc.stdout or "{}")
        except ValueError:
            status = None
        if isinstance(status, dict):
            # new: only in the local cache; missing: in neither; deleted: only in the remote
            rows = [(path, state) for path, state in sorted(status.items()) if state != "deleted"]
            return rows, "Missing from the remote (`dvc status --cloud`)"
    why = _last_error(proc.stdout.splitlines() + proc.stderr.splitlines())
    return cached_outputs(root), (
        f"The remote cannot be read ({why}), so any cached output may be missing from it"
    )


def cached_outputs(root: Path) -> list[tuple[str, str]]:
    """(path, md5) of each output that dvc.yaml caches, as dvc.lock records it."""
    import yaml

    try:
        lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return []
    uncached = {str(path.relative_to(root)) for path in _dvc_outputs(root, cached=False)}
    rows = [
        (entry["path"], f"md5 {entry.get('md5', '?')}")
        for stage in (lock.get("stages") or {}).values()
        for entry in stage.get("outs") or []
        if entry["path"] not in uncached
    ]
    return sorted(rows)


def local_cache_state(root: Path) -> str:
    """Whether the workspace outputs are safe in the local DVC cache."""
    proc = _capture(["dvc", "status", "--json"], root)
    if proc.returncode == 0 and proc.stdout.strip() in ("{}", ""):
        return "every output is in the local DVC cache (`dvc status`: up to date)"
    return f"`dvc status` reports changes: {proc.stdout.strip() or proc.stderr.strip()}"


def gather_context(outcome: Outcome) -> Context:
    root, base = outcome.root, outcome.options.base
    succeeded = outcome.exit_code != EXIT_PIPELINE_FAILED
    promotion = _read_json(root / "reports" / "promotion.json") if succeeded else None
    stale = "not compared: the pipeline failed, so the workspace metrics are an earlier run's"
    return Context(
        trigger=trigger_lines(os.environ),
        commit=git_output(["rev-parse", "--short", "HEAD"], root) or "(no commit)",
        metrics=dvc_diff("metrics", base, root) if succeeded else stale,
        params=dvc_diff("params", base, root),
        promotion=promotion,
        mlflow=mlflow_links(root, promotion) if succeeded else [],
    )


def dvc_diff(kind: str, base: str | None, root: Path) -> dict[str, Any] | str:
    """`dvc metrics|params diff --json <base>`, or a sentence saying why there is none."""
    if base is None:
        return "no git commit to compare with"
    command = ["dvc", kind, "diff", "--json", base]
    proc = _capture(command, root)
    if proc.returncode != 0:
        return f"`{' '.join(command)}` failed: {_last_error(proc.stderr.splitlines())}"
    try:
        return json.loads(proc.stdout or "{}")
    except ValueError:
        return f"`{' '.join(command)}` printed no JSON"


def mlflow_links(root: Path, promotion: dict[str, Any] | None) -> list[str]:
    """Markdown lines pointing at the run and the model version in MLflow."""
    run = _read_json(root / "models" / "run.json")
    if not run:
        return ["no models/run.json: no run to link to"]
    uri, run_id = run.get("tracking_uri", ""), run.get("run_id", "")
    try:
        experiment_id = _experiment_of(uri, run_id)
    except Exception as exc:  # links are a convenience: the report goes out without them
        return [f"run `{run_id}` in `{printable_uri(uri)}` (cannot look it up: {first_line(exc)})"]
    version = (promotion or {}).get("challenger", {}).get("version")
    if is_tracking_server(uri):
        ui = printable_uri(uri).rstrip("/")
        lines = [f"run: [{run_id}]({ui}/#/experiments/{experiment_id}/runs/{run_id})"]
        if version:
            lines.append(
                f"model version: [{REGISTERED_MODEL} v{version}]({model_url(ui, version)})"
            )
        return lines
    ui = "http://127.0.0.1:5000"
    lines = [
        f"run `{run_id}` in `{uri}`; to browse it: `mlflow ui --backend-store-uri {uri}`, then "
        f"{ui}/#/experiments/{experiment_id}/runs/{run_id}"
    ]
    if version:
        lines.append(f"model version: {REGISTERED_MODEL} v{version}, {model_url(ui, version)}")
    return lines


def model_url(ui: str, version: str) -> str:
    return f"{ui}/#/models/{REGISTERED_MODEL}/versions/{version}"


def write_report(path: Path, text: str) -> None:
    from imdb_sentiment.files import atomic_open

    with atomic_open(path) as fh:
        fh.write(text)


def _capture(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=_QUERY_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(command, 1, "", str(exc))


def _rev_exists(rev: str, root: Path) -> bool:
    return bool(git_output(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root))


def _read_params(path: Path) -> Mapping[str, Any]:
    import yaml

    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read {path}: {first_line(exc)}; fix it first") from exc
    return params if isinstance(params, Mapping) else {}


def _dvc_outputs(root: Path, cached: bool | None = None) -> list[Path]:
    """Absolute paths of dvc.yaml's outs, metrics and plots; `cached` filters on `cache`."""
    import yaml

    try:
        stages = (yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")) or {}).get(
            "stages"
        ) or {}
    except (OSError, yaml.YAMLError):
        return []
    paths = []
    for stage in stages.values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind) or []:
                path, flags = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
                if cached is None or bool((flags or {}).get("cache", True)) == cached:
                    paths.append((root / path).resolve())
    return paths


def _experiment_of(uri: str, run_id: str) -> str:
    check_tracking_server(uri)  # fails in seconds, where MLflow's client retries for minutes
    from mlflow import MlflowClient

    return str(MlflowClient(tracking_uri=uri).get_run(run_id).info.experiment_id)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _last_error(lines: list[str]) -> str:
    """The most telling line of a failed command's output: its last ERROR, else its last."""
    lines = [line.strip() for line in lines if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1]


def _say(stream: TextIO, message: str) -> None:
    stream.write(message + "\n")
    stream.flush()
