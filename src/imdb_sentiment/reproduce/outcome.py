"""What a reproduction is made of: its options, steps, findings, exit statuses and errors.

Plain data: `command` fills it in as the run goes; `attestation` and `report` render it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

from imdb_sentiment.entrypoint import ExitStatusError
from imdb_sentiment.reproduce.compare import Check, Rule
from imdb_sentiment.reproduce.recorded import ModelRef, Recorded
from imdb_sentiment.retrain.outcome import Step

EXIT_REPRODUCED, EXIT_DIFFERS, EXIT_COULD_NOT_RUN = 0, 1, 2
VERDICT_REPRODUCED, VERDICT_DIFFERS = "reproduced", "differs"


class CouldNotRunError(ExitStatusError):
    """A step could not be carried out (exit status 2); the message names the step."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}", EXIT_COULD_NOT_RUN)
        self.step, self.detail = step, message


@dataclass(frozen=True)
class Options:
    """The command line, checked and resolved before any step runs."""

    model: ModelRef
    root: Path  # the user's checkout: read, never written (but for the report)
    report: Path
    tracking_uri: str  # resolved once, at the command's start
    metric_tolerance: float  # from the checkout's params.yaml, not the commit's


@dataclass(frozen=True)
class OriginalModel:
    """The Keras file the registered version serves."""

    file_md5: str
    weights_md5: str  # "" when the file cannot be read as a Keras model
    packages: dict[str, str]  # as the registered model pins them


@dataclass(frozen=True)
class Rebuilt:
    """What the rebuild produced, from the throwaway store and the temporary checkout."""

    run_id: str
    weights_md5: str
    test_metrics: dict[str, float]
    data_md5: dict[str, str]  # the md5 of each input file, as the rebuilt run tags it
    backend: str
    device: str
    stages_run: list[str]


@dataclass
class Outcome:
    """Everything the attestation and the report need, gathered as the run goes."""

    options: Options
    started: datetime.datetime
    steps: list[Step] = field(default_factory=list)
    recorded: Recorded | None = None
    original: OriginalModel | None = None
    data_sources: dict[str, str] = field(default_factory=dict)  # path -> cache or remote
    rebuilt: Rebuilt | None = None
    rule: Rule | None = None
    checks: list[Check] = field(default_factory=list)
    verdict: str = ""  # reproduced or differs, once compared
    failure: CouldNotRunError | None = None
    environment: dict[str, object] = field(default_factory=dict)
    attestation_uri: str = ""  # where the attestation was logged
    tags: dict[str, str] = field(default_factory=dict)  # set on the version
    finished: datetime.datetime | None = None

    @property
    def exit_code(self) -> int:
        if self.failure is not None or not self.verdict:
            return EXIT_COULD_NOT_RUN
        return EXIT_REPRODUCED if self.verdict == VERDICT_REPRODUCED else EXIT_DIFFERS
