"""`dvc repro`, `dvc exp run` and the DVC queue, for real, on a copy of this repository."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml

from tests.pipeline.dvc_repo import sh

pytestmark = pytest.mark.slow


def workspace_state(root: Path, env: dict[str, str]) -> tuple[str, str, dict[str, bytes]]:
    """DVC's view, git's view (ignored files included) and the bytes of every data file."""
    data = {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / "data").rglob("*"))
        if p.is_file()
    }
    return (
        sh(["dvc", "status", "--json"], root, env),
        # .dvc/tmp holds DVC's own locks and indexes, which change on every call.
        sh(
            [
                "git",
                "status",
                "--porcelain",
                "--ignored",
                "--untracked-files=all",
                "--",
                ".",
                ":!.dvc",
            ],
            root,
            env,
        ),
        data,
    )


def wait_for_queue(root: Path, env: dict[str, str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sh(["dvc", "queue", "status"], root, env)
        if not any(word in status for word in ("Queued", "Running")):
            return
        time.sleep(3)
    pytest.fail(f"queue still busy after {timeout} s:\n{status}")


def test_repro_is_idempotent_and_experiments_land_in_one_store(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, env = repo
    sh(["dvc", "repro"], root, env)
    metrics = json.loads((root / "reports" / "metrics.json").read_text())["test"]
    assert 0 <= metrics["accuracy"] <= 1
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    assert set(lock["stages"]) == {
        "download",
        "prepare",
        "validate",
        "train",
        "evaluate",
        "promote",
        "baseline",
    }
    # Lineage: the run's md5 tags are the digests dvc.lock records for the same outputs.
    outs = {o["path"]: o["md5"] for st in lock["stages"].values() for o in st.get("outs", [])}
    run_id = json.loads((root / "models" / "run.json").read_text())["run_id"]
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    tags = mlflow.get_run(run_id).data.tags
    lineage = {k.removeprefix("dvc.md5."): v for k, v in tags.items() if k.startswith("dvc.md5.")}
    # download's two outputs, prepare's five, the model: every input a rebuild must fetch.
    assert len(lineage) == 8 and lineage.items() <= outs.items()
    promotion = json.loads((root / "reports" / "promotion.json").read_text())
    assert promotion["decision"] == "promoted" and promotion["challenger"]["run_id"] == run_id
    sh(["git", "add", "-A"], root, env)
    sh(["git", "commit", "-qm", "baseline run"], root, env)

    start = time.monotonic()
    again = sh(["dvc", "repro"], root, env)
    assert "Data and pipelines are up to date" in again
    assert time.monotonic() - start < 30

    # A failed re-run (here: the wrong archive) must leave the workspace exactly as it was.
    before = workspace_state(root, env)
    bad = subprocess.run(
        ["dvc", "repro", "--force", "--single-item", "download"],
        cwd=root,
        env={**env, "IMDB_SHA256": "f" * 64},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and "sha256 mismatch" in bad.stderr + bad.stdout
    assert workspace_state(root, env) == before

    sh(["dvc", "exp", "run", "-n", "one-epoch", "-S", "train.fit.epochs=1"], root, env)
    sh(["dvc", "exp", "run", "--queue", "-n", "queued", "-S", "base.seed=7"], root, env)
    sh(["dvc", "queue", "start"], root, env)
    wait_for_queue(root, env)

    names = sh(["dvc", "exp", "show", "--json"], root, env)
    assert "one-epoch" in names and "queued" in names

    runs = mlflow.search_runs(experiment_names=["imdb-sentiment"], output_format="list")
    # The NBSVM baseline's reference runs: for the workspace, and for base.seed=7's split.
    references = [run for run in runs if run.data.tags.get("reference_baseline") == "true"]
    assert references and all(run.info.status == "FINISHED" for run in references)
    runs = [run for run in runs if run not in references]
    by_name = {run.data.tags.get("dvc.exp_name", "workspace"): run for run in runs}
    assert set(by_name) == {"workspace", "one-epoch", "queued"}, list(by_name)
    assert by_name["one-epoch"].data.params["train.fit.epochs"] == "1"
    assert by_name["queued"].data.params["base.seed"] == "7"
    assert by_name["queued"].info.run_name == "queued"
    with np.load(root / "data" / "prepared" / "test.npz") as npz:
        x = npz["x"][:3]
    client = mlflow.MlflowClient()
    for name, run in by_name.items():
        assert run.info.status == "FINISHED", name
        assert "test_accuracy" in run.data.metrics, name
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == list(
            range(1, int(run.data.params["train.fit.epochs"]) + 1)
        )
        model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
        assert np.asarray(model.predict(x)).shape == (3, 1), name
    # The workspace experiment went through the gate; the queued one was kept out of it.
    versions = client.search_model_versions("name = 'imdb-sentiment'")
    assert {v.run_id for v in versions} == {
        by_name["workspace"].info.run_id,
        by_name["one-epoch"].info.run_id,
    }
    assert "promotion.decision" in by_name["one-epoch"].data.tags
    assert "promotion.decision" not in by_name["queued"].data.tags


def test_wrong_checksum_stops_repro_without_output(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    proc = subprocess.run(
        ["dvc", "repro"],
        cwd=root,
        env={**env, "IMDB_SHA256": "f" * 64},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "download: error: sha256 mismatch" in proc.stderr + proc.stdout
    assert not (root / "data" / "raw" / "reviews.parquet").exists()
    assert not (root / "dvc.lock").exists()
