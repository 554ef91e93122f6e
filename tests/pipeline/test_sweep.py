"""A queued grid sweep: DVC and MLflow agree run for run, and the ranking picks on validation."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import mlflow
import pytest

from tests.pipeline.dvc_repo import sh
from tests.pipeline.test_dvc import wait_for_queue

pytestmark = pytest.mark.slow

GRID = ["-S", "train.fit.batch_size=8,16", "-S", "prepare.maxlen=24,32"]


def experiments_of(show: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """name -> {params, metrics} for every experiment in `dvc exp show --json` output."""
    found = {}
    for baseline in show:
        for group in baseline.get("experiments") or []:
            for rev in group.get("revs", []):
                data = rev["data"]
                found[rev["name"]] = {
                    "params": data["params"]["params.yaml"]["data"],
                    "metrics": {p: m["data"] for p, m in (data.get("metrics") or {}).items()},
                    "baseline": baseline["rev"],
                }
    return found


def test_queued_grid_lands_in_dvc_and_mlflow_alike_and_is_ranked_on_validation(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, env = repo
    baseline = sh(["git", "rev-parse", "HEAD"], root, env).strip()
    sh(["dvc", "exp", "run", "--queue", *GRID], root, env)
    sh(["dvc", "queue", "start"], root, env)
    wait_for_queue(root, env, timeout=900)

    exps = experiments_of(json.loads(sh(["dvc", "exp", "show", "--json"], root, env)))
    assert len(exps) == 4, list(exps)
    grid = {
        (e["params"]["train"]["fit"]["batch_size"], e["params"]["prepare"]["maxlen"])
        for e in exps.values()
    }
    assert grid == {(8, 24), (8, 32), (16, 24), (16, 32)}

    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["imdb-sentiment"], output_format="list")
    # Each maxlen's split also gets an NBSVM reference run: not one of the experiments' runs.
    runs = [run for run in runs if run.data.tags.get("reference_baseline") != "true"]
    by_name = {run.data.tags["dvc.exp_name"]: run for run in runs}
    assert set(by_name) == set(exps)  # one MLflow run per experiment, none lost or extra
    for name, exp in exps.items():
        run = by_name[name]
        assert run.info.run_name == name and run.info.status == "FINISHED"
        assert run.data.tags["dvc.baseline_rev"] == baseline == exp["baseline"]
        assert run.data.params["train.fit.batch_size"] == str(
            exp["params"]["train"]["fit"]["batch_size"]
        )
        assert run.data.params["prepare.maxlen"] == str(exp["params"]["prepare"]["maxlen"])
        train = exp["metrics"]["reports/train_metrics.json"]
        test = exp["metrics"]["reports/metrics.json"]["test"]
        assert run.data.metrics["model_val_accuracy"] == pytest.approx(train["val_accuracy"])
        assert run.data.metrics["model_val_loss"] == pytest.approx(train["val_loss"])
        assert run.data.metrics["test_accuracy"] == pytest.approx(test["accuracy"])

    report = root / "reports" / "experiments.md"
    proc = subprocess.run(
        ["imdb-sentiment", "experiments", "--report", str(report)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    # The winner is the best on validation (then lower val loss), whatever test says.
    best = min(
        exps,
        key=lambda n: (
            -exps[n]["metrics"]["reports/train_metrics.json"]["val_accuracy"],
            exps[n]["metrics"]["reports/train_metrics.json"]["val_loss"],
        ),
    )
    assert f"selected {best}: val accuracy" in proc.stdout
    text = report.read_text()
    table = text.split("| rank", 1)[1].split("\n\n", 1)[0]  # the ranking, not the references
    rows = table.splitlines()[2:]
    assert len(rows) == 4 and all(name in text for name in exps)
    # Test accuracy shown for the selected run and params.yaml's configuration only.
    shown = [row for row in rows if "**" in row]
    assert shown == [row for row in rows if f"| {best} " in row or "(params.yaml)" in row]
    assert "| nbsvm |" in text.split("## Reference baselines", 1)[1]  # a line, never ranked
    assert by_name[best].info.run_id in text
