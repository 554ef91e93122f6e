"""What a retrain report shows beyond its steps: the trigger and the MLflow links."""

from __future__ import annotations

import json
from pathlib import Path

from imdb_sentiment.retrain.context import mlflow_links, trigger_lines
from tests.httpserver import closed_port


def test_trigger_names_the_github_run_or_says_local() -> None:
    assert trigger_lines({}) == ["local"]
    env = {
        "GITHUB_EVENT_NAME": "schedule",
        "GITHUB_SHA": "abc123",
        "GITHUB_RUN_ID": "42",
        "GITHUB_SERVER_URL": "https://git.example.invalid",
        "GITHUB_REPOSITORY": "team/imdb",
    }
    assert trigger_lines(env) == [
        "GitHub Actions `schedule`",
        "commit `abc123`",
        "run [42](https://git.example.invalid/team/imdb/actions/runs/42)",
    ]


def test_no_run_file_means_no_links(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert mlflow_links(tmp_path, None, uri) == ["no models/run.json: no run to link to"]


def test_an_unreachable_store_still_names_the_run(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "run.json").write_text(json.dumps({"run_id": "r1"}))
    (line,) = mlflow_links(tmp_path, None, dead)
    assert line.startswith(f"run `r1` in `{dead}` (cannot look it up: ")
