"""A damaged sqlite store is named in one line before MLflow opens it; a sound one passes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mlflow import MlflowClient

from imdb_sentiment.tracking.names import EXPERIMENT
from imdb_sentiment.tracking.store import connect, find_store, fluent_uri
from imdb_sentiment.tracking.store_file import (
    StoreFileError,
    check_store_file,
    file_problem,
    store_file,
)


@pytest.fixture(scope="module")
def sound_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real MLflow store with the experiment and a few runs (about 1 MB)."""
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    experiment = client.create_experiment(EXPERIMENT)
    for _ in range(3):
        client.log_param(client.create_run(experiment).info.run_id, "p", "v")
    return path


def damaged(sound: Path, tmp_path: Path, size: int) -> Path:
    path = tmp_path / "mlflow.db"
    shutil.copy(sound, path)
    with path.open("r+b") as fh:
        fh.truncate(size)
    return path


def test_a_sound_store_passes(sound_store: Path) -> None:
    assert file_problem(sound_store) is None
    check_store_file(f"sqlite:///{sound_store}", must_exist=True)


@pytest.mark.parametrize(
    ("keep", "problem"),
    [
        (0, "is an empty file (0 bytes), not a database: MLflow would start a new store"),
        (10, "is not an SQLite database (10 bytes without its header)"),
        (60, "is truncated (60 bytes, less than its header)"),
        (4096, r"is truncated (4,096 of {size} bytes)"),
        (-4096, r"is truncated ({cut} of {size} bytes)"),
    ],
)
def test_an_empty_or_truncated_store_is_named_with_the_fix(
    sound_store: Path, tmp_path: Path, keep: int, problem: str
) -> None:
    size = sound_store.stat().st_size
    cut = keep if keep >= 0 else size + keep
    path = damaged(sound_store, tmp_path, cut)
    expected = problem.format(size=f"{size:,}", cut=f"{cut:,}")
    assert file_problem(path) == expected
    with pytest.raises(StoreFileError) as caught:
        check_store_file(f"sqlite:///{path}")
    assert str(caught.value) == (
        f"MLflow store {path} {expected}; restore it from a backup, or point "
        "MLFLOW_TRACKING_URI at another store"
    )
    assert path.stat().st_size == cut  # read, not repaired or recreated


def test_damaged_pages_are_found_by_sqlites_own_check(sound_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    shutil.copy(sound_store, path)
    with path.open("r+b") as fh:  # the full length, garbage in the middle
        fh.seek(path.stat().st_size // 2)
        fh.write(b"\xff" * 4096)
    problem = file_problem(path) or ""
    assert problem.startswith("is damaged (") and "\n" not in problem, problem


def test_mlflow_never_opens_a_damaged_store(sound_store: Path, tmp_path: Path) -> None:
    empty = damaged(sound_store, tmp_path, 0)
    uri = f"sqlite:///{empty}"
    for use in (connect, find_store):
        with pytest.raises(StoreFileError):
            use(uri)
    with pytest.raises(StoreFileError), fluent_uri(uri):
        pass
    assert empty.stat().st_size == 0  # MLflow would have created its tables in it


def test_a_missing_store_is_created_unless_it_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    with pytest.raises(
        StoreFileError, match=f"no MLflow store at {path} \\(no runs or models yet\\); run this in"
    ):
        check_store_file(f"sqlite:///{path}", must_exist=True)
    check_store_file(f"sqlite:///{path}")
    assert not path.exists()  # the check itself creates nothing


def test_only_sqlite_uris_name_a_file() -> None:
    assert store_file("sqlite:////abs/mlflow.db") == Path("/abs/mlflow.db")
    assert store_file("sqlite:///rel/my%20store.db?timeout=5") == Path("rel/my store.db")
    for uri in ("http://127.0.0.1:5000", "file:///tmp/mlruns", "sqlite:///:memory:"):
        assert store_file(uri) is None
