"""Finding the project checkout, from DVC's temporary experiment copies too."""

from __future__ import annotations

from pathlib import Path

from imdb_sentiment.checkout import project_root


def test_project_root_sees_through_dvc_temp_copies(tmp_path: Path) -> None:
    temp_copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpab12" / "sub"
    temp_copy.mkdir(parents=True)
    assert project_root(temp_copy) == (tmp_path / "repo").resolve()
    assert project_root(tmp_path) == tmp_path.resolve()
