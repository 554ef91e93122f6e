"""`imdb-sentiment reproduce` for real: a tiny pipeline registered, then rebuilt from its lineage.

One git + DVC repository for the module: `dvc repro` through `promote` registers v1 from a
committed tree. Each test leaves the repository as it found it, except the last, which
registers a version from a dirty tree.
"""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import yaml

from tests.conftest import tiny_params
from tests.pipeline.dvc_repo import commit, make_repo, sh, user_env

pytestmark = pytest.mark.slow

MODEL = "imdb-sentiment"


@pytest.fixture(scope="module")
def registered(
    tmp_path_factory: pytest.TempPathFactory, archives: dict
) -> tuple[Path, dict[str, str]]:
    """A repository whose v1 was trained, evaluated and registered from a committed tree."""
    env = user_env(archives["labeled"])
    root = make_repo(tmp_path_factory.mktemp("reproduce") / "repo", env)
    sh(["dvc", "repro"], root, env)
    commit(root, env, "pipeline outputs")  # dvc.lock, reports: the run's commit is the one before
    return root, env


@pytest.fixture
def remote(registered: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[Path]:
    """An empty local-folder DVC remote, the default for this test only (.dvc/config.local)."""
    root, env = registered
    folder = tmp_path / "remote"
    sh(["dvc", "remote", "add", "--local", "-d", "test", str(folder)], root, env)
    yield folder
    (root / ".dvc" / "config.local").unlink()


def reproduce(root: Path, env: dict[str, str], uri: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["imdb-sentiment", "reproduce", uri],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def client(root: Path) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")


def version_tags(root: Path, version: str = "1") -> dict[str, str]:
    return dict(client(root).get_model_version(MODEL, version).tags)


def cache_object(root: Path, md5: str) -> Path:
    return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def served_keras_file(root: Path, version: str = "1") -> Path:
    """The .keras file inside the registered raw-text model: what serving loads."""
    source = client(root).get_model_version(MODEL, version).source  # models:/m-<id>
    model_id = source.removeprefix("models:/")
    return root / "mlartifacts" / "models" / model_id / "artifacts" / "artifacts" / "model.keras"


def test_a_registered_version_is_rebuilt_bit_for_bit_on_cpu(
    registered: tuple[Path, dict[str, str]], remote: Path
) -> None:
    root, env = registered
    tags = version_tags(root)
    # The raw table only in the remote: it comes from there, the rest from the local cache.
    sh(["dvc", "push"], root, env)
    table_md5 = tags["dvc.md5.data/raw/reviews.parquet"]
    aside = root.parent / "table.aside"
    cache_before, status_before = listing(root / ".dvc" / "cache"), git_status(root, env)
    cache_object(root, table_md5).rename(aside)
    try:
        done = reproduce(root, env, f"models:/{MODEL}@champion")
    finally:
        aside.rename(cache_object(root, table_md5))
    assert done.returncode == 0, done.stdout + done.stderr

    report = (root / "reports" / "reproduce.md").read_text()
    assert report.startswith("# Reproduce: v1 reproduced (exact rule)\n"), report
    assert "| weights md5 (the weight arrays in order) |" in report
    assert "❌" not in report and "not over the .keras file" in report
    assert "| `data/raw/reviews.parquet` | " in report and "DVC remote test" in report
    after = version_tags(root)
    assert after["reproduced.verdict"] == "reproduced"
    assert after["reproduced.rule"] == "exact"
    stamp = datetime.datetime.fromisoformat(after["reproduced.at"])
    assert abs(datetime.datetime.now(datetime.UTC) - stamp) < datetime.timedelta(minutes=15)

    attestation = read_attestation(root, after["reproduced.attestation"])
    assert attestation["verdict"] == "reproduced"
    assert attestation["commit"] == tags["mlflow.source.git.commit"]
    recorded = {k.removeprefix("dvc.md5."): v for k, v in tags.items() if k.startswith("dvc.md5.")}
    assert {path: d["md5"] for path, d in attestation["data"].items()} == {
        path: md5 for path, md5 in recorded.items() if path != "models/model.keras"
    }
    assert attestation["data"]["data/raw/reviews.parquet"]["from"] == "DVC remote test"
    assert attestation["original"]["weights_md5"] == attestation["rebuild"]["weights_md5"]
    assert {"train", "evaluate"} <= set(attestation["rebuild"]["stages_run"])
    assert not {"download", "prepare"} & set(attestation["rebuild"]["stages_run"])
    assert attestation["rebuild"]["run_id"] != tags["run_id"]
    assert all(check["ok"] for check in attestation["comparison"])
    assert {"test_accuracy", "test_loss", "test_tp"} <= {
        c["item"] for c in attestation["comparison"]
    }
    environment = attestation["environment"]
    assert environment["packages"]["keras"] and len(environment["installed_sha256"]) == 64

    # The rebuild tracked elsewhere and wrote nowhere in the checkout or its cache.
    assert len(client(root).search_model_versions(f"name = '{MODEL}'")) == 1
    assert listing(root / ".dvc" / "cache") == cache_before
    assert git_status(root, env) == status_before
    assert len(sh(["git", "worktree", "list"], root, env).splitlines()) == 1


def test_a_tampered_model_file_is_detected(registered: tuple[Path, dict[str, str]]) -> None:
    import keras

    root, env = registered
    served = served_keras_file(root)
    original = served.read_bytes()
    model = keras.saving.load_model(served, compile=False)
    weights = model.get_weights()
    weights[0] = weights[0] + 0.01
    model.set_weights(weights)
    model.save(served)
    try:
        done = reproduce(root, env, f"models:/{MODEL}/1")
    finally:
        served.write_bytes(original)
    assert done.returncode == 1, done.stdout + done.stderr
    report = (root / "reports" / "reproduce.md").read_text()
    assert report.startswith("# Reproduce: v1 differs (exact rule)\n"), report
    assert "| served model file md5 |" in report
    for item in ("served model file md5", "weights md5 (the weight arrays in order)"):
        (row,) = [line for line in report.splitlines() if line.startswith(f"| {item} |")]
        assert "❌" in row, row
    assert version_tags(root)["reproduced.verdict"] == "differs"


def test_data_missing_from_cache_and_remote_stops_at_fetch(
    registered: tuple[Path, dict[str, str]], remote: Path
) -> None:
    root, env = registered
    before = version_tags(root)
    train_md5 = before["dvc.md5.data/prepared/train.npz"]
    aside = root.parent / "train.aside"
    cache_object(root, train_md5).rename(aside)
    try:
        done = reproduce(root, env, f"models:/{MODEL}/1")
    finally:
        aside.rename(cache_object(root, train_md5))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == (
        f"imdb-sentiment reproduce: error: fetch data: data/prepared/train.npz (md5 "
        f"{train_md5}) is in neither the DVC cache nor the remote 'test'; push it from a "
        "checkout that has it (dvc push)\n"
    )
    report = (root / "reports" / "reproduce.md").read_text()
    assert report.startswith("# Reproduce: could not run, step fetch data\n"), report
    assert "Nothing was tagged" in report
    assert version_tags(root) == before  # no verdict without a comparison
    assert len(sh(["git", "worktree", "list"], root, env).splitlines()) == 1


def test_a_version_trained_from_a_dirty_tree_is_refused(
    registered: tuple[Path, dict[str, str]],
) -> None:
    root, env = registered
    params = tiny_params()
    params["train"]["fit"]["epochs"] = 1  # not committed: the run is dirty
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(["dvc", "repro"], root, env)
    versions = client(root).search_model_versions(f"name = '{MODEL}'")
    dirty = max(versions, key=lambda v: int(v.version))
    assert dirty.tags["git.dirty"] == "True"

    done = reproduce(root, env, f"models:/{MODEL}/{dirty.version}")
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.splitlines()
    commit_id = dirty.tags["mlflow.source.git.commit"]
    assert line == (
        f"imdb-sentiment reproduce: error: lineage: refused: v{dirty.version} (run "
        f"{dirty.run_id}) was trained from a checkout with uncommitted changes at "
        f"{commit_id[:12]}: its code and params are in no commit; retrain from a clean checkout"
    )
    report = (root / "reports" / "reproduce.md").read_text()
    assert report.startswith("# Reproduce: could not run, step lineage\n"), report
    assert "| checkout |" not in report  # refused before any work


def git_status(root: Path, env: dict[str, str]) -> str:
    return sh(["git", "status", "--porcelain", "--untracked-files=all"], root, env)


def read_attestation(root: Path, uri: str) -> dict:
    run_id, _, path = uri.removeprefix("runs:/").partition("/")
    local = client(root).download_artifacts(run_id, path, str(root / ".." / "attestation"))
    data = json.loads(Path(local).read_text())
    shutil.rmtree(root / ".." / "attestation")
    return data
