from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from imdb_sentiment.files import atomic_dir, atomic_open, read_json, staged_files, write_json


def test_failed_write_leaves_neither_file_nor_temp(tmp_path: Path) -> None:
    target = tmp_path / "out" / "metrics.json"
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write('{"half": ')
        raise RuntimeError("crash mid-write")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_failed_write_keeps_the_previous_version(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("garbage")
        raise RuntimeError
    assert read_json(target) == {"v": 1}


def test_outputs_get_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {})
        with atomic_dir(tmp_path / "docs") as d:
            (d / "index.html").write_text("<html/>")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "docs").stat().st_mode) == 0o755
    assert (tmp_path / "docs" / "index.html").read_text() == "<html/>"


def test_atomic_dir_replaces_whole_directory_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "docs"
    with atomic_dir(target) as d:
        (d / "old.html").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target) as d:
        (d / "new.html").write_text("new")
        raise RuntimeError
    assert [p.name for p in target.iterdir()] == ["old.html"]
    with atomic_dir(target) as d:
        (d / "new.html").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.html"]
    assert [p.name for p in tmp_path.iterdir()] == ["docs"]


def test_staged_files_move_in_together_or_not_at_all(tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    with staged_files(out) as staging:
        (staging / "a.npz").write_text("old a")
        (staging / "meta.json").write_text("old meta")
    with pytest.raises(RuntimeError), staged_files(out) as staging:
        (staging / "a.npz").write_text("new a")
        raise RuntimeError("crash before meta.json")
    assert (out / "a.npz").read_text() == "old a"
    assert sorted(p.name for p in out.iterdir()) == ["a.npz", "meta.json"]
