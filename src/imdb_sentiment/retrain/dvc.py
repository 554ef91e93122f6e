"""Retrain's adapter to DVC: `dvc` subprocesses and what they print, dvc.yaml and dvc.lock.

Every `dvc` call and every reading of DVC's files is here, so the rest of retrain deals in
steps and outcomes, not in DVC's command lines and JSON.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from imdb_sentiment.redact import redact_urls
from imdb_sentiment.retrain.outcome import Step

TAIL_LINES = 40  # of a failed step's output, in the report

# Report-gathering dvc commands (diffs, status) are quick; a hung one must not hang CI.
_QUERY_TIMEOUT_S = 600
_RUNNING_STAGE = re.compile(r"^Running stage '([^']+)'")
_FAILED_STAGE = re.compile(r"failed to reproduce '([^']+)'")


def say(out: TextIO, message: str) -> None:
    """One line on the console, flushed: the CI log shows it as it happens."""
    out.write(message + "\n")
    out.flush()


def reproduce_command(overrides: list[str]) -> list[str]:
    """`dvc repro`, or `dvc exp run -S ...` in the workspace (so `promote` runs for real)."""
    if not overrides:
        return ["dvc", "repro"]
    return ["dvc", "exp", "run", *(arg for o in overrides for arg in ("-S", o))]


def started_stage(line: str) -> str | None:
    """The stage a line of `dvc repro` output says is starting, if any."""
    match = _RUNNING_STAGE.match(line)
    return match[1] if match else None


def failed_stage(line: str) -> str | None:
    """The stage a line of `dvc repro` output says failed, if any."""
    match = _FAILED_STAGE.search(line)
    return match[1] if match else None


def run_step(
    name: str,
    command: list[str],
    cwd: Path,
    out: TextIO,
    watch: Callable[[str], None] | None = None,
    env: Mapping[str, str] | None = None,
    prog: str = "retrain",
) -> Step:
    """Run `command`, streaming its output to `out`; keep its tail for the report.

    `env` replaces this process's environment; `prog` prefixes the console lines.
    """
    say(out, f"{prog}: {name}: $ {' '.join(command)}")
    start = time.monotonic()
    returncode, tail = stream(command, cwd, out, watch, env=env)
    step = Step(name, " ".join(command), "ok" if returncode == 0 else "failed")
    step.seconds = time.monotonic() - start
    if returncode != 0:
        step.tail = tail
        say(out, f"{prog}: {name} failed (exit status {returncode})")
    return step


def stream(
    command: list[str],
    cwd: Path,
    out: TextIO,
    watch: Callable[[str], None] | None = None,
    keep: int = TAIL_LINES,
    env: Mapping[str, str] | None = None,
) -> tuple[int, list[str]]:
    """Exit status and last `keep` lines of `command`, its output copied to `out` as it comes."""
    # Unbuffered: the stages' logs reach the CI log as they happen, not when a stage ends.
    env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
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
        for line in map(redact_urls, proc.stdout):  # the CI log is public too
            out.write(line)
            out.flush()
            tail.append(line.rstrip("\n"))
            if watch is not None:
                watch(line)
    return proc.returncode, list(tail)


def default_remote(root: Path) -> str | None:
    """The default DVC remote's name, or None when none is configured."""
    proc = capture(["dvc", "remote", "default"], root)
    name = proc.stdout.strip()
    return name if proc.returncode == 0 and name else None


def unpushed_outputs(root: Path) -> tuple[list[tuple[str, str]], str]:
    """(path, detail) of each output the remote lacks, and how that is known.

    `dvc status --cloud` says exactly, when the remote can be read at all; when it cannot,
    any cached output of the lock file may be missing there.
    """
    proc = capture(["dvc", "status", "--cloud", "--json"], root)
    if proc.returncode == 0:
        try:
            status = json.loads(proc.stdout or "{}")
        except ValueError:
            status = None
        if isinstance(status, dict):
            # new: only in the local cache; missing: in neither; deleted: only in the remote
            rows = [(path, state) for path, state in sorted(status.items()) if state != "deleted"]
            return rows, "Missing from the remote (`dvc status --cloud`)"
    why = last_error(proc.stdout.splitlines() + proc.stderr.splitlines())
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
    uncached = {str(path.relative_to(root)) for path in dvc_outputs(root, cached=False)}
    rows = [
        (entry["path"], f"md5 {entry.get('md5', '?')}")
        for stage in (lock.get("stages") or {}).values()
        for entry in stage.get("outs") or []
        if entry["path"] not in uncached
    ]
    return sorted(rows)


def local_cache_state(root: Path) -> str:
    """Whether the workspace outputs are safe in the local DVC cache."""
    proc = capture(["dvc", "status", "--json"], root)
    if proc.returncode == 0 and proc.stdout.strip() in ("{}", ""):
        return "every output is in the local DVC cache (`dvc status`: up to date)"
    return f"`dvc status` reports changes: {proc.stdout.strip() or proc.stderr.strip()}"


def dvc_diff(kind: str, base: str | None, root: Path) -> dict[str, Any] | str:
    """`dvc metrics|params diff --json <base>`, or a sentence saying why there is none."""
    if base is None:
        return "no git commit to compare with"
    command = ["dvc", kind, "diff", "--json", base]
    proc = capture(command, root)
    if proc.returncode != 0:
        return f"`{' '.join(command)}` failed: {last_error(proc.stderr.splitlines())}"
    try:
        return json.loads(proc.stdout or "{}")
    except ValueError:
        return f"`{' '.join(command)}` printed no JSON"


def dvc_outputs(root: Path, cached: bool | None = None) -> list[Path]:
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


def last_error(lines: list[str]) -> str:
    """The most telling line of a failed command's output: its last ERROR, else its last."""
    lines = [line.strip() for line in lines if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1]


def capture(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A quick command's output, captured; a failure to start or a hang is exit status 1."""
    try:
        return subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=_QUERY_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(command, 1, "", str(exc))
