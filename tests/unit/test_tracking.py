from __future__ import annotations

from pathlib import Path

from imdb_sentiment.tracking import file_md5, flatten, project_root, tracking_uri


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
