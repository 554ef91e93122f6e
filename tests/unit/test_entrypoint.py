"""What stages and CLI commands share: one logging set-up, one-line errors, exit statuses."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from imdb_sentiment.entrypoint import (
    ExitStatusError,
    configure_logging,
    run_entrypoint,
    run_stage,
)
from imdb_sentiment.errors import PipelineError


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    own = {name: logging.getLogger(name).level for name in ("imdb_sentiment", "pipeline")}
    yield
    root.handlers[:], root.level = handlers, level
    for name, saved in own.items():
        logging.getLogger(name).setLevel(saved)


def test_our_loggers_speak_at_the_level_asked_and_libraries_only_warn() -> None:
    configure_logging("train")
    assert logging.getLogger("imdb_sentiment.stages.train").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("pipeline.train").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("a_library").getEffectiveLevel() == logging.WARNING
    configure_logging("imdb-sentiment", logging.WARNING)
    assert logging.getLogger("imdb_sentiment").getEffectiveLevel() == logging.WARNING


def test_log_lines_name_the_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("evaluate")
    logging.getLogger("imdb_sentiment.x").info("hello")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(" evaluate INFO hello")


def test_a_fixable_failure_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    def body() -> None:
        raise PipelineError("params.yaml: no key train.fit; add it\n  (details below)")

    assert run_entrypoint("train", body) == 1
    assert capsys.readouterr().err == "train: error: params.yaml: no key train.fit; add it\n"


def test_a_failure_with_its_own_status_exits_with_it(capsys: pytest.CaptureFixture[str]) -> None:
    def body() -> int:
        raise ExitStatusError("-S x: expected KEY=VALUE", 2)

    assert run_entrypoint("imdb-sentiment retrain", body, logging.WARNING) == 2
    assert capsys.readouterr().err == "imdb-sentiment retrain: error: -S x: expected KEY=VALUE\n"


def test_a_missing_input_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "meta.json"
    assert run_stage("train", missing.read_text) == 1
    assert capsys.readouterr().err == (
        f"train: error: {missing}: not found; run the upstream stages first (dvc repro)\n"
    )


def test_the_body_sets_the_status_and_a_bug_is_not_hidden() -> None:
    assert run_entrypoint("x", lambda: None) == 0
    assert run_entrypoint("x", lambda: 3) == 3

    def bug() -> None:
        raise KeyError("not a user's problem: the traceback must show")

    with pytest.raises(KeyError):
        run_stage("x", bug)


def test_a_stage_first_removes_what_a_killed_run_left_beside_its_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "models" / "model.keras"
    model.parent.mkdir()
    model.write_text("last good model")
    leftover = model.parent / ".model.keras.k1ll.tmp.keras"
    leftover.write_text("half a model")
    seen: list[list[str]] = []
    assert run_stage("train", lambda: seen.append(sorted(os.listdir(model.parent))), [model]) == 0
    assert seen == [["model.keras"]]
    assert f"removed {leftover}, left by an earlier run that was killed" in capsys.readouterr().err
