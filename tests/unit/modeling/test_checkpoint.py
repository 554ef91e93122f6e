"""Where training backups live: at the real checkout, outside DVC's outputs, in one store."""

from __future__ import annotations

from pathlib import Path

from imdb_sentiment.modeling.checkpoint import backup_root, backup_store_id


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
