"""The prepared folder: written whole or not at all, read back checked."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from imdb_sentiment.config import PrepareParams
from imdb_sentiment.data.prepared import (
    EncodedSplit,
    PreparedData,
    PreparedDataError,
    build_meta,
    load_encoded_splits,
    load_split,
    read_meta,
    read_vocabulary,
    split_path,
    write_prepared,
)

CFG = PrepareParams(max_features=6, maxlen=3, val_fraction=0.25, max_reviews_per_split=None)


def split(n: int, first_id: int) -> EncodedSplit:
    x = np.arange(n * 3, dtype=np.int32).reshape(n, 3) % 6
    return EncodedSplit(x, (np.arange(n) % 2).astype(np.int8), np.arange(first_id, first_id + n))


def prepared_data() -> PreparedData:
    return PreparedData(
        splits={"train": split(4, 0), "val": split(2, 10), "test": split(3, 20)},
        vocabulary={"good": 3, "bad": 4, "film": 5},
        distinct_train_words=7,
        oov_rate={"train": 0.25, "val": 0.5, "test": 0.0},
    )


def test_what_is_written_reads_back(tmp_path: Path) -> None:
    data = prepared_data()
    write_prepared(tmp_path, data, CFG)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["meta.json", "test.npz", "train.npz", "val.npz", "vocab.json"]
    loaded = load_encoded_splits(tmp_path, ["train", "val", "test"])
    for name, want in data.splits.items():
        for field in ("x", "y", "review_id"):
            got = getattr(loaded[name], field)
            assert got.dtype == getattr(want, field).dtype, (name, field)
            np.testing.assert_array_equal(got, getattr(want, field))
    x, y = load_split(split_path(tmp_path, "val"))
    np.testing.assert_array_equal(x, data.splits["val"].x)
    np.testing.assert_array_equal(y, data.splits["val"].y)
    vocabulary = read_vocabulary(tmp_path)
    assert list(vocabulary.items())[:3] == [("<oov>", 2), ("<pad>", 0), ("<start>", 1)]
    assert vocabulary["film"] == 5 and len(vocabulary) == 6
    assert read_meta(tmp_path) == json.loads(json.dumps(build_meta(CFG, data)))


def test_each_split_is_an_npz_of_x_y_and_review_id_in_that_order(tmp_path: Path) -> None:
    write_prepared(tmp_path, prepared_data(), CFG)
    with zipfile.ZipFile(tmp_path / "train.npz") as npz:
        assert npz.namelist() == ["x.npy", "y.npy", "review_id.npy"]


def test_meta_holds_the_facts_later_stages_read() -> None:
    meta = build_meta(CFG, prepared_data())
    assert meta["vocab_size"] == 6  # 3 reserved ids + 3 words
    assert meta["counts"] == {"train": 4, "val": 2, "test": 3}
    assert meta["positives"] == {"train": 2, "val": 1, "test": 1}
    assert (meta["maxlen"], meta["max_features"], meta["val_fraction"]) == (3, 6, 0.25)
    assert meta["padding"] == meta["truncating"] == "pre"


def test_a_failed_write_leaves_the_old_folder_as_it_was(tmp_path: Path) -> None:
    write_prepared(tmp_path, prepared_data(), CFG)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    broken = PreparedData({"train": split(5, 0)}, {"new": 3}, 1, {"train": object()})
    with pytest.raises(TypeError):  # meta.json, written last, cannot hold an object
        write_prepared(tmp_path, broken, CFG)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_split_missing_an_array_is_one_line_error(tmp_path: Path) -> None:
    path = split_path(tmp_path, "train")
    np.savez(path, x=np.zeros((2, 3), np.int32), y=np.zeros(2, np.int8))
    assert load_split(path)[0].shape == (2, 3)  # all that train needs is there
    with pytest.raises(PreparedDataError, match=r"lacks the arrays \['review_id'\]") as caught:
        load_encoded_splits(tmp_path, ["train"])
    assert "\n" not in str(caught.value) and "rerun prepare" in str(caught.value)
    np.savez(path, x=np.zeros((2, 3), np.int32))
    with pytest.raises(PreparedDataError, match=r"lacks the arrays \['y'\]"):
        load_split(path)


def test_a_file_that_is_no_npz_is_one_line_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not an archive at all")
    with pytest.raises(PreparedDataError, match=r"is not a readable \.npz"):
        load_split(garbage)
    one_array = tmp_path / "one.npy"
    np.save(one_array, np.zeros(3))
    with pytest.raises(PreparedDataError, match="holds one array"):
        load_split(one_array)
    cut = tmp_path / "cut.npz"
    np.savez(cut, x=np.zeros((50, 3)), y=np.zeros(50))
    cut.write_bytes(cut.read_bytes()[:200])
    with pytest.raises(PreparedDataError, match=r"is not a readable \.npz"):
        load_split(cut)
    with pytest.raises(FileNotFoundError):  # the stage runner says to run prepare first
        load_split(tmp_path / "missing.npz")
