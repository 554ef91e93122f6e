"""`imdb-sentiment reproduce`'s arguments: refused in one line before any step runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imdb_sentiment.cli import main
from tests.conftest import REPO


def test_a_uri_that_is_not_a_registered_version_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["reproduce", "runs:/abc/model"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("imdb-sentiment reproduce: error: 'runs:/abc/model' is not a registered")
    assert err.count("\n") == 1


def test_outside_a_checkout_it_says_where_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "models:/imdb-sentiment@champion"]) == 2
    assert "not inside a checkout of the project" in capsys.readouterr().err


def test_a_report_path_that_is_a_dvc_output_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    metrics = os.path.join("reports", "metrics.json")
    assert main(["reproduce", "models:/imdb-sentiment/1", "--report", metrics]) == 2
    assert "a folder or a DVC output" in capsys.readouterr().err
