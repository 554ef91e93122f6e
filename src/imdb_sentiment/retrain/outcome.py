"""What a retrain run is made of: its options, steps, outcome, exit statuses and errors.

Plain data: `command` fills it in as the run goes, `report` renders it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imdb_sentiment.entrypoint import ExitStatusError

EXIT_OK, EXIT_PIPELINE_FAILED, EXIT_USAGE, EXIT_PUSH_FAILED = 0, 1, 2, 3


class UsageError(ExitStatusError):
    """The command line cannot be carried out as given (exit status 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


@dataclass(frozen=True)
class Options:
    """The command line, checked and resolved before any step runs."""

    overrides: list[str]
    report: Path
    base: str | None  # None: no commit to compare with
    pull: bool
    push: bool
    tracking_uri: str  # resolved once, at the command's start


@dataclass
class Step:
    """One step of the run, as the report shows it."""

    name: str
    command: str
    outcome: str = "ok"  # ok, failed, tolerated (failed, went on), skipped
    seconds: float = 0.0
    note: str = ""
    tail: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """Everything the report needs, gathered as the run goes."""

    root: Path
    options: Options
    started: datetime.datetime
    steps: list[Step] = field(default_factory=list)
    stages_run: list[str] = field(default_factory=list)
    failed_stage: str | None = None
    unpushed: list[tuple[str, str]] = field(default_factory=list)  # (path, detail)
    unpushed_source: str = ""  # how `unpushed` is known
    local_cache: str = ""
    exit_code: int = EXIT_OK
    finished: datetime.datetime | None = None


@dataclass(frozen=True)
class Context:
    """What the report shows beyond the steps: the trigger, the diffs, the gate, MLflow."""

    trigger: list[str]
    commit: str
    metrics: dict[str, Any] | str  # dvc metrics diff --json, or why there is none
    params: dict[str, Any] | str
    promotion: dict[str, Any] | None
    mlflow: list[str]
