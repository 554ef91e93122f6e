"""Team mode for real: `dvc repro` against `mlflow server` on PostgreSQL, a DVC remote, retrain.

PostgreSQL must be installed (Debian: apt-get install postgresql); the test installs nothing.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow import MlflowClient

from devtools.postgres import postgres_cluster
from devtools.team import TeamServer, ensure_database, local_team_server
from imdb_sentiment.tracking.lineage import file_md5
from imdb_sentiment.tracking.names import CHAMPION, EXPERIMENT, REGISTERED_MODEL
from tests.pipeline.dvc_repo import commit, sh

pytestmark = pytest.mark.slow

CURVES = ("loss", "accuracy", "val_loss", "val_accuracy")  # logged with step = epoch
MLFLOW_LOCAL_STORES = {"mlruns", "mlartifacts", "mlflow.db"}


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    """A folder for PostgreSQL's files that the `postgres` user can reach when we are root.

    tmp_path sits under /tmp/pytest-of-<user>, which is closed to other users.
    """
    path = Path(tempfile.mkdtemp(prefix="imdb-test-pg-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def team(tmp_path: Path, cluster_dir: Path) -> Iterator[TeamServer]:
    """PostgreSQL + `mlflow server` (artifacts in tmp_path/team/mlartifacts); both stopped after."""
    with local_team_server(tmp_path / "team", cluster_dir=cluster_dir) as server:
        yield server


def stdout(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """What a command prints on stdout alone (for --json output), failing loudly on error."""
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def query(team: TeamServer, sql: str) -> list[tuple[Any, ...]]:
    """Rows straight from the backend store, as the tracking server's own role sees them."""
    with team.database.connect() as conn:
        return conn.execute(sql).fetchall()


def lock_md5(root: Path, stage: str, path: str) -> str:
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return next(out["md5"] for out in lock["stages"][stage]["outs"] if out["path"] == path)


def test_team_mode_postgres_server_dvc_remote_clone_and_retrain(
    repo: tuple[Path, dict[str, str]], team: TeamServer, tmp_path: Path
) -> None:
    root, env = repo
    env = {**env, "MLFLOW_TRACKING_URI": team.url}
    sh(["dvc", "repro"], root, env)

    # The run, its params and its curves, read back through the server.
    client = MlflowClient(tracking_uri=team.url, registry_uri=team.url)
    run_id = json.loads((root / "models" / "run.json").read_text())["run_id"]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    params = yaml.safe_load((root / "params.yaml").read_text())
    epochs = params["train"]["fit"]["epochs"]
    assert run.data.params["train.fit.epochs"] == str(epochs)
    assert run.data.params["base.seed"] == str(params["base"]["seed"])
    for curve in CURVES:
        steps = [m.step for m in client.get_metric_history(run_id, curve)]
        assert steps == list(range(1, epochs + 1)), curve
    assert 0 <= run.data.metrics["test_accuracy"] <= 1

    # The registry: one version, from this run, holding the champion alias.
    (version,) = client.search_model_versions(f"name = '{REGISTERED_MODEL}'")
    assert version.run_id == run_id
    assert client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION).version == version.version
    promotion = json.loads((root / "reports" / "promotion.json").read_text())
    assert promotion["decision"] == "promoted"

    # All of it is in PostgreSQL: the server wrote there, not to a file of its own.
    # The training run, and the NBSVM baseline's reference run.
    reference = query(team, "SELECT run_uuid FROM tags WHERE key = 'reference_baseline'")
    assert len(reference) == 1
    assert sorted(query(team, "SELECT run_uuid FROM runs")) == sorted([(run_id,), *reference])
    assert query(team, "SELECT name, version FROM model_versions") == [
        (REGISTERED_MODEL, int(version.version))
    ]
    assert query(team, "SELECT alias FROM registered_model_aliases") == [(CHAMPION,)]

    # Artifacts went through the server to its destination; the checkout holds none.
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    destination = tmp_path / "team" / "mlartifacts"
    experiment_id = run.info.experiment_id
    run_artifacts = destination / experiment_id / run_id / "artifacts"
    logged = {p.relative_to(run_artifacts).as_posix() for p in run_artifacts.rglob("*")}
    assert {"data/vocab.json", "validation/validation.json", "promotion/promotion.json"} <= logged
    models = {p.parent.parent.name for p in destination.rglob("MLmodel")}
    assert len(models) == 2, models  # the Keras model and the raw-text model
    assert not [p for p in root.rglob("*") if p.name in MLFLOW_LOCAL_STORES]

    # A DVC remote: push, clone, pull, and the clone is up to date without training again.
    sh(["dvc", "remote", "add", "-d", "local", str(tmp_path / "dvc-remote")], root, env)
    commit(root, env, "pipeline run, DVC remote")
    sh(["dvc", "push"], root, env)
    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(root), str(clone)], tmp_path, env)
    assert not (clone / "models" / "model.keras").exists()
    sh(["dvc", "pull"], clone, env)
    assert json.loads(stdout(["dvc", "status", "--json"], clone, env)) == {}
    dry = sh(["dvc", "repro", "--dry"], clone, env)
    assert "Running stage" not in dry and "Data and pipelines are up to date" in dry, dry
    model_md5 = lock_md5(clone, "train", "models/model.keras")
    assert file_md5(clone / "models" / "model.keras") == model_md5
    assert file_md5(root / "models" / "model.keras") == model_md5
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    # The training run and the NBSVM baseline's reference run.
    assert sorted(run.data.tags.get("reference_baseline", "") for run in runs) == ["", "true"]

    retrain_twice_in_clone(clone, env, team, client, tmp_path)


def retrain_twice_in_clone(
    clone: Path, env: dict[str, str], team: TeamServer, client: MlflowClient, tmp_path: Path
) -> None:
    """A teammate's clone retrains twice against the same server, with other params each time."""
    for version, epochs in ((2, 1), (3, 3)):
        report = tmp_path / f"retrain-v{version}.md"
        command = ["imdb-sentiment", "retrain", "-S", f"train.fit.epochs={epochs}"]
        done = subprocess.run(
            [*command, "--report", str(report)],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        text = report.read_text()
        title = rf"# Retrain: v{version} (promoted to champion|rejected, champion stays v\d+)\n"
        assert re.match(title, text), text
        decision = re.search(r"^\| decision \| \*\*(promoted|rejected)\*\* \|", text, re.M)
        assert decision, text
        tags = client.get_model_version(REGISTERED_MODEL, str(version)).tags
        assert tags["promotion.decision"] == decision[1]
        run = client.get_run(json.loads((clone / "models" / "run.json").read_text())["run_id"])
        assert run.data.params["train.fit.epochs"] == str(epochs)
    versions = client.search_model_versions(f"name = '{REGISTERED_MODEL}'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3]
    # Three trainings and the first repro's NBSVM run (retrain changed train params only).
    assert len(query(team, "SELECT run_uuid FROM runs")) == 4
    # retrain pushed what it computed: the remote has every output the clone's dvc.lock names.
    assert json.loads(stdout(["dvc", "status", "--cloud", "--json"], clone, env)) == {}


def test_a_cluster_folder_keeps_its_database_across_restarts(cluster_dir: Path) -> None:
    import psycopg

    with postgres_cluster(cluster_dir) as cluster:
        first = ensure_database(cluster)
        with first.connect() as conn:
            conn.execute("CREATE TABLE kept (note text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
    assert not (cluster_dir / "data" / "postmaster.pid").exists()  # stopped
    with postgres_cluster(cluster_dir) as cluster:
        again = ensure_database(cluster)
        with again.connect() as conn:
            assert conn.execute("SELECT note FROM kept").fetchall() == [("still here",)]
        # A new password on each start, so none is stored: the old one no longer logs in.
        stale = dataclasses.replace(again, password=first.password)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            stale.connect()
    assert not (cluster_dir / "data" / "postmaster.pid").exists()
