from __future__ import annotations

from pathlib import Path

import pytest

from imdb_sentiment.archive import ArchiveError, read_reviews, write_reviews
from tests.conftest import PER_LABEL
from tests.factory import write_tar


def test_full_and_labeled_layouts_give_byte_identical_tables(
    archives: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    (labeled, labeled_sha), (full, full_sha) = archives["labeled"], archives["full"]
    assert labeled_sha != full_sha  # different archives ...
    outputs = []
    for name, archive in (("labeled", labeled), ("full", full)):
        out = tmp_path / f"{name}.parquet"
        write_reviews(read_reviews(archive), out)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]  # ... the same table, byte for byte


def test_table_has_canonical_columns_order_and_types(archives: dict) -> None:
    table = read_reviews(archives["full"][0])
    assert table.column_names == ["split", "label", "rating", "review_id", "text"]
    frame = table.to_pandas()
    assert len(frame) == 4 * PER_LABEL
    assert frame["split"].tolist() == ["train"] * (2 * PER_LABEL) + ["test"] * (2 * PER_LABEL)
    keys = list(
        zip(
            frame["split"].map({"train": 0, "test": 1}),
            frame["label"],
            frame["review_id"],
            strict=True,
        )
    )
    assert keys == sorted(keys)
    assert (frame.loc[frame["label"] == 0, "rating"] <= 4).all()
    assert (frame.loc[frame["label"] == 1, "rating"] >= 7).all()
    assert frame["text"].str.contains("<br />").all()  # the raw text is kept as written


def _archive(tmp_path: Path, members: list[tuple[str, bytes]]) -> Path:
    path = tmp_path / "a.tar.gz"
    write_tar(path, members)
    return path


def test_missing_label_folder_is_an_error(tmp_path: Path) -> None:
    members = [
        (f"aclImdb/{s}/{lab}/0_{r}.txt", b"x")
        for s in ("train", "test")
        for lab, r in (("neg", 1), ("pos", 9))
    ]
    members = [m for m in members if "test/pos" not in m[0]]
    with pytest.raises(ArchiveError, match=r"aclImdb/test/pos/"):
        read_reviews(_archive(tmp_path, members))


def test_invalid_utf8_names_the_member(tmp_path: Path) -> None:
    members = [
        (f"aclImdb/{s}/{lab}/0_{r}.txt", b"fine")
        for s in ("train", "test")
        for lab, r in (("neg", 1), ("pos", 9))
    ]
    members[0] = (members[0][0], b"caf\xe9")
    with pytest.raises(ArchiveError, match=r"train/neg/0_1\.txt is not valid UTF-8"):
        read_reviews(_archive(tmp_path, members))


def test_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "notes.tar.gz"
    path.write_text("just text")
    with pytest.raises(ArchiveError, match=r"not a readable tar\.gz"):
        read_reviews(path)
