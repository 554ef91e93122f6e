"""Stages that track to MLflow stop at start-up, in one line, when the tracking server is down."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.httpserver import closed_port
from tests.pipeline.stages import run_evaluate, run_promote, run_train, run_validate


def error_line(capsys: pytest.CaptureFixture[str], stage: str) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith(stage)]
    assert len(lines) == 1, lines
    return lines[0]


def test_train_fails_before_training_and_writes_no_model(
    workspace: dict[str, Path],
    mlflow_store: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_validate(workspace) == 0  # the data is good: only the server can stop train
    dead = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
    assert run_train(workspace) == 1
    line = error_line(capsys, "train: error:")
    assert dead in line and "unreachable" in line and "MLFLOW_TRACKING_URI" in line
    for output in ("model", "run", "train_metrics", "history"):
        assert not workspace[output].exists(), output


@pytest.mark.slow
def test_evaluate_and_promote_fail_at_start_on_a_dead_server(
    workspace: dict[str, Path],
    mlflow_store: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_validate(workspace) == 0
    assert run_train(workspace) == 0
    dead = f"http://127.0.0.1:{closed_port()}"

    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
    assert run_evaluate(workspace) == 1
    assert dead in error_line(capsys, "evaluate: error:")
    assert not workspace["metrics"].exists() and not workspace["text_model"].exists()

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    assert run_evaluate(workspace) == 0
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
    assert run_promote(workspace) == 1
    assert dead in error_line(capsys, "promote: error:")
    assert not workspace["promotion"].exists()
