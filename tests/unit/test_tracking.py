from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from imdb_sentiment.checkout import project_root
from imdb_sentiment.modeling.checkpoint import backup_root, backup_store_id
from imdb_sentiment.tracking.lineage import file_md5, run_tags
from imdb_sentiment.tracking.names import BACKUP_LOCK_TAG, BACKUP_STORE_TAG
from imdb_sentiment.tracking.runs import fail_dead_runs, flatten, run_description
from imdb_sentiment.tracking.store import setup_experiment, tracking_uri


def test_project_root_sees_through_dvc_temp_copies(tmp_path: Path) -> None:
    temp_copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpab12" / "sub"
    temp_copy.mkdir(parents=True)
    assert project_root(temp_copy) == (tmp_path / "repo").resolve()
    assert project_root(tmp_path) == tmp_path.resolve()


def test_tracking_uri_is_absolute_sqlite_unless_env_says_otherwise(tmp_path: Path) -> None:
    temp_copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpx"
    temp_copy.mkdir(parents=True)
    expected = f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert tracking_uri({}, cwd=temp_copy) == expected
    assert tracking_uri({}, cwd=tmp_path) == expected
    assert tracking_uri({"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"}) == "http://127.0.0.1:5000"


def test_flatten_joins_nested_keys() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": None}}, "e": "x"}) == {
        "a.b": 1,
        "a.c.d": None,
        "e": "x",
    }


def test_file_md5_matches_known_digest(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert file_md5(path) == "900150983cd24fb0d6963f7d28e17f72"


def test_backups_live_at_the_real_checkout_outside_dvc_outputs(tmp_path: Path) -> None:
    temp_copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpab12"
    temp_copy.mkdir(parents=True)
    expected = (tmp_path / "repo").resolve() / ".dvc" / "tmp" / "train-backups"
    assert backup_root(temp_copy) == expected
    assert backup_root(tmp_path / "repo") == expected


def test_backup_store_id_is_made_once_and_kept(tmp_path: Path) -> None:
    root = tmp_path / "backups"
    first = backup_store_id(root)
    assert len(first) == 32 and backup_store_id(root) == first
    assert [p.name for p in root.iterdir()] == ["store-id"]
    assert backup_store_id(tmp_path / "elsewhere") != first


def test_fail_dead_runs_marks_only_dead_running_runs_of_this_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = setup_experiment(f"sqlite:///{tmp_path / 'mlflow.db'}", cwd=tmp_path)
    client = mlflow.MlflowClient()

    def run(store: str, lock: str, finished: bool = False) -> str:
        tags = {BACKUP_STORE_TAG: store, BACKUP_LOCK_TAG: lock}
        run_id = client.create_run(experiment_id, tags=tags).info.run_id
        if finished:
            client.set_terminated(run_id)
        return run_id

    dead, alive = run("here", "/dead.lock"), run("here", "/alive.lock")
    done, other_store = run("here", "/dead.lock", finished=True), run("there", "/dead.lock")
    marked = fail_dead_runs(experiment_id, "here", lambda lock: lock == "/dead.lock")
    assert [r.info.run_id for r in marked] == [dead]
    status = {run_id: client.get_run(run_id).info.status for run_id in (dead, alive, done)}
    assert status == {dead: "FAILED", alive: "RUNNING", done: "FINISHED"}
    assert client.get_run(other_store).info.status == "RUNNING"
    # Already FAILED runs are not touched again.
    again = fail_dead_runs(experiment_id, "here", lambda lock: True)
    assert [r.info.run_id for r in again] == [alive]


def test_workspace_runs_get_distinct_readable_names() -> None:
    import re

    from imdb_sentiment.tracking.lineage import workspace_run_name

    assert re.fullmatch(r"workspace-abcdef1-\d{8}-\d{6}", workspace_run_name("abcdef1234"))
    assert re.fullmatch(r"workspace-\d{8}-\d{6}", workspace_run_name(""))


def test_sqlite_store_keeps_artifacts_beside_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # Run from elsewhere (a test run from the repository, say): artifacts still go with the db.
    experiment = mlflow.get_experiment(setup_experiment(uri, cwd=tmp_path / "elsewhere"))
    assert experiment.artifact_location == (store / "mlartifacts").as_uri()


def test_run_description_gives_split_sizes_units_and_steps_as_epochs() -> None:
    text = run_description({"train": 23750, "val": 1250, "test": 25000})
    assert "23,750 reviews" in text and "1,250 held out" in text and "25,000 test" in text
    for unit in ("step = epoch", "nats", "fractions from 0 to 1", "wall-clock seconds"):
        assert unit in text
    with pytest.raises(KeyError, match="test"):
        run_description({"train": 23750, "val": 1250})


def test_dirty_means_code_or_params_changed_not_dvcs_own_outputs(tmp_path: Path) -> None:
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    for name in ("params.yaml", "dvc.lock", "reports/metrics.json", "models/run.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("a: 1\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    data = {"train": tmp_path / "params.yaml"}

    # What `dvc repro` rewrites before train runs does not make the source dirty.
    for name in ("dvc.lock", "reports/metrics.json", "models/run.json"):
        (tmp_path / name).write_text("a: 2\n")
    tags = run_tags(data, cwd=tmp_path)
    assert tags["git.dirty"] == "False" and len(tags["mlflow.source.git.commit"]) == 40

    (tmp_path / "params.yaml").write_text("a: 3\n")  # as `dvc exp run -S` does
    assert run_tags(data, cwd=tmp_path)["git.dirty"] == "True"
