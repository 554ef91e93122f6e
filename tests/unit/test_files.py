from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from imdb_sentiment.files import (
    atomic_dir,
    atomic_open,
    read_json,
    remove_leftovers,
    staged_files,
    staged_outputs,
    write_json,
)


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


def test_staged_outputs_move_in_together_only_on_success(tmp_path: Path) -> None:
    model, run, plots = tmp_path / "models" / "m.keras", tmp_path / "run.json", tmp_path / "plots"
    with staged_outputs() as out:
        out.path(model).write_text("old model")
        out.write_json(run, {"v": 1})
        (out.directory(plots) / "roc.png").write_text("old roc")
    with pytest.raises(RuntimeError), staged_outputs() as out:
        out.path(model).write_text("new model")
        out.write_json(run, {"v": 2})
        (out.directory(plots) / "roc.png").write_text("new roc")
        raise RuntimeError("killed before the last output")
    assert model.read_text() == "old model" and read_json(run) == {"v": 1}
    assert (plots / "roc.png").read_text() == "old roc"
    everything = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert everything == ["models", "models/m.keras", "plots", "plots/roc.png", "run.json"]


def test_remove_leftovers_deletes_only_temporary_names_of_the_targets(tmp_path: Path) -> None:
    model, plots = tmp_path / "model.keras", tmp_path / "plots"
    plots.mkdir()
    kept = [model, tmp_path / ".other.keras.x1.tmp.keras", tmp_path / "notes.tmp", plots / "a.png"]
    for path in kept:
        path.write_text("keep")
    leftovers = [
        tmp_path / ".model.keras.ab12.tmp.keras",  # atomic_path / StagedOutputs.path
        tmp_path / ".plots.cd34.tmp",  # atomic_dir
        plots / ".staging.ef56",  # staged_files / StagedOutputs.directory
    ]
    leftovers[0].write_text("half a model")
    leftovers[1].mkdir()
    leftovers[2].mkdir()
    (leftovers[2] / "roc.png").write_text("half")
    assert remove_leftovers([model, plots, tmp_path / "missing.json"]) == sorted(leftovers)
    assert all(path.exists() for path in kept)
    assert not any(path.exists() for path in leftovers)
    assert remove_leftovers([model, plots]) == []
