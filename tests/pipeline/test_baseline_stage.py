"""The baseline stage's `main` on a tiny archive: a reference run and its report, or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from imdb_sentiment.tracking.names import EXPERIMENT, REFERENCE_TAG
from pipeline import baseline
from tests.pipeline.stages import argv


def run_baseline(p: dict[str, Path]) -> int:
    return baseline.main(
        argv(p, params="params", reviews="reviews", prepared="prepared", report="baseline")
    )


def test_the_stage_logs_a_reference_run_and_keeps_its_report_on_failure(
    workspace: dict[str, Path],
    mlflow_store: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    p = {**workspace, "baseline": tmp_path / "reports" / "baseline.json"}
    assert run_baseline(p) == 0
    report = json.loads(p["baseline"].read_text())
    client = MlflowClient(tracking_uri=mlflow_store)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.tags[REFERENCE_TAG] == "true"
    assert run.data.metrics["test_accuracy"] == report["test"]["accuracy"]
    assert set(report["val"]) >= {"accuracy", "roc_auc"} and report["n_features"] > 0
    before = p["baseline"].read_bytes()
    capsys.readouterr()

    p["reviews"].write_bytes(b"not parquet")
    assert run_baseline(p) == 1
    err = capsys.readouterr().err
    assert err.startswith("baseline: error: ") and err.count("\n") == 1
    assert p["baseline"].read_bytes() == before  # the last good report stays
    assert len(client.search_runs([experiment.experiment_id])) == 1
