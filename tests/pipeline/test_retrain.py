"""`imdb-sentiment retrain` for real: dvc, a local-folder DVC remote, MLflow, the champion gate."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import mlflow
import pytest
import yaml

from imdb_sentiment.retrain.dvc import dvc_outputs
from tests.httpserver import closed_port
from tests.pipeline.dvc_repo import commit, sh

pytestmark = pytest.mark.slow


def retrain(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["imdb-sentiment", "retrain", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def registry(root: Path) -> tuple[str, int]:
    """The champion's version and the number of versions, from the repo's own store."""
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    champion = client.get_model_version_by_alias("imdb-sentiment", "champion").version
    return str(champion), len(client.search_model_versions("name = 'imdb-sentiment'"))


def lock_outs(root: Path) -> dict[str, str]:
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return {o["path"]: o["md5"] for st in lock["stages"].values() for o in st.get("outs", [])}


def test_retrain_reports_gates_and_pushes_and_fails_loudly(
    repo: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, env = repo
    sh(["dvc", "remote", "add", "-d", "local", str(tmp_path / "remote")], root, env)
    commit(root, env, "a DVC remote")

    # 1. A cold remote: nothing to pull, everything computed, the first champion, all pushed.
    first = retrain(root, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Running stage 'train':" in first.stdout  # dvc's output streams through
    report = (root / "reports" / "retrain.md").read_text()
    assert report.startswith("# Retrain: v1 promoted to champion\n"), report
    assert re.search(r"^\| pull \| `dvc pull` \| tolerated: ", report, re.M), report
    assert re.search(r"^\| push \| `dvc push` \| ok \|", report, re.M), report
    assert "| reports/metrics.json | test.accuracy | - |" in report  # new against `main`
    assert "mlflow ui --backend-store-uri sqlite:///" in report
    run_id = json.loads((root / "models" / "run.json").read_text())["run_id"]
    assert f"/#/experiments/1/runs/{run_id}" in report
    assert registry(root) == ("1", 1)
    assert json.loads(sh(["dvc", "status", "--cloud", "--json"], root, env)) == {}
    # The report is neither a DVC output nor a file for git to pick up.
    assert json.loads(sh(["dvc", "status", "--json"], root, env)) == {}
    assert "retrain.md" not in sh(["git", "status", "--porcelain"], root, env)
    commit(root, env, "first retrain")

    # 2. An override: `dvc exp run -S` in the workspace, so the gate runs for real.
    second_report = tmp_path / "second.md"
    second = retrain(root, env, "-S", "train.fit.epochs=1", "--report", str(second_report))
    assert second.returncode == 0, second.stdout + second.stderr
    report = second_report.read_text()
    assert "`-S train.fit.epochs=1`" in report
    assert "| params.yaml | train.fit.epochs | 2 | 1 |" in report
    assert re.search(r"^\| decision \| \*\*(promoted|rejected)\*\* \|", report, re.M), report
    assert "| champion before | v1 " in report
    champion, versions = registry(root)
    assert versions == 2
    commit(root, env, "second retrain")

    # 3. Validation fails: exit 1, the report quotes the failure, the champion stays put.
    third_report = tmp_path / "third.md"
    third = retrain(root, env, "-S", "validate.max_oov_rate=0.0001", "--report", str(third_report))
    assert third.returncode == 1, third.stdout + third.stderr
    report = third_report.read_text()
    assert report.startswith("# Retrain: failed at stage validate\n"), report
    assert "validate: error:" in report and "The gate did not run" in report
    assert registry(root) == (champion, 2)
    # `dvc exp run -S` left its value in params.yaml and validate rewrote its reports.
    sh(["git", "checkout", "--", "."], root, env)
    sh(["dvc", "checkout", "--force"], root, env)

    # 4. A dead tracking server: exit 1 before dvc runs anything.
    dead = f"http://127.0.0.1:{closed_port()}"
    fourth = retrain(root, {**env, "MLFLOW_TRACKING_URI": dead}, "--report", str(tmp_path / "4.md"))
    assert fourth.returncode == 1
    assert dead in fourth.stderr and "unreachable" in fourth.stderr
    assert (tmp_path / "4.md").read_text().startswith("# Retrain: tracking server failed\n")
    assert "dvc repro" not in fourth.stdout

    # 5. A remote that cannot be written (its parent is a file: even root cannot mkdir there).
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    sh(["dvc", "remote", "add", "-d", "broken", str(blocker / "remote")], root, env)
    fifth_report = tmp_path / "fifth.md"
    fifth = retrain(root, env, "--report", str(fifth_report))
    assert fifth.returncode == 3, fifth.stdout + fifth.stderr
    report = fifth_report.read_text()
    assert report.startswith("# Retrain: gate not rerun (inputs unchanged), champion v")
    assert "## Not pushed" in report and "in the local DVC cache" in report
    assert "up to date: no stage ran" in report
    uncached = {str(path.relative_to(root)) for path in dvc_outputs(root, cached=False)}
    for path, md5 in lock_outs(root).items():
        if path.startswith(("data/", "models/model.keras")) and path not in uncached:
            assert f"- `{path}` (md5 {md5})" in report
    # Safe locally: the workspace matches dvc.lock and the cache holds every output.
    assert json.loads(sh(["dvc", "status", "--json"], root, env)) == {}
    model_md5 = lock_outs(root)["models/model.keras"]
    assert (root / ".dvc" / "cache" / "files" / "md5" / model_md5[:2] / model_md5[2:]).is_file()
    assert registry(root) == (champion, 2)  # nothing changed, so the gate did not rerun
