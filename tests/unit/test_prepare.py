from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imdb_sentiment.prepare import cap_per_split, prepare_sequences, split_validation
from imdb_sentiment.text import OOV, START


def reviews(n_per_group: int = 10) -> pd.DataFrame:
    rows = []
    for split in ("train", "test"):
        for label in (0, 1):
            word = "good" if label else "bad"
            for i in range(n_per_group):
                text = f"{word} {split} review uniq{split}{label}x{i}"
                rows.append((split, label, 8 if label else 2, i, text))
    return pd.DataFrame(rows, columns=["split", "label", "rating", "review_id", "text"])


def test_split_validation_is_stratified_disjoint_and_seeded() -> None:
    labels = np.array([0] * 40 + [1] * 60)
    train, val = split_validation(labels, 0.25, seed=1)
    assert len(np.intersect1d(train, val)) == 0
    assert len(train) + len(val) == 100
    assert np.bincount(labels[val]).tolist() == [10, 15]
    _again_train, again_val = split_validation(labels, 0.25, seed=1)
    np.testing.assert_array_equal(val, again_val)
    _, other_val = split_validation(labels, 0.25, seed=2)
    assert not np.array_equal(val, other_val)


def test_cap_per_split_keeps_labels_balanced() -> None:
    capped = cap_per_split(reviews(10), 7, seed=0)
    counts = capped.groupby(["split", "label"]).size().to_dict()
    assert counts == {("test", 0): 3, ("test", 1): 4, ("train", 0): 3, ("train", 1): 4}
    assert cap_per_split(reviews(10), None, seed=0).shape[0] == 40
    # Larger than the data: everything, nothing duplicated.
    assert cap_per_split(reviews(3), 100, seed=0).shape[0] == 12


def test_prepare_sequences_shapes_ids_and_splits() -> None:
    data = prepare_sequences(reviews(10), max_features=8, maxlen=5, val_fraction=0.2, seed=0)
    assert {k: len(v.y) for k, v in data.splits.items()} == {"train": 16, "val": 4, "test": 20}
    for split in data.splits.values():
        assert split.x.shape[1] == 5
        assert split.x.min() >= 0 and split.x.max() < 8
        # 4 words + start token fill 5: every row starts with the start marker, unpadded.
        assert (split.x[:, 0] == START).all()
    train = set(
        zip(data.splits["train"].y.tolist(), data.splits["train"].review_id.tolist(), strict=True)
    )
    val = set(
        zip(data.splits["val"].y.tolist(), data.splits["val"].review_id.tolist(), strict=True)
    )
    assert len(train) == 16 and len(val) == 4 and not train & val
    assert np.bincount(data.splits["val"].y).tolist() == [2, 2]


def test_vocabulary_sees_only_training_rows() -> None:
    frame = reviews(10)
    frame.loc[frame["split"] == "test", "text"] = "unseenword " * 3
    data = prepare_sequences(frame, max_features=1000, maxlen=6, val_fraction=0.2, seed=0)
    assert "unseenword" not in data.vocabulary
    assert "test" not in data.vocabulary  # the word 'test' only appears in test reviews
    assert data.oov_rate["test"] == pytest.approx(1.0)
    assert (data.splits["test"].x[:, -3:] == OOV).all()
    # Each review carries a word of its own: those of validation rows must stay unseen.
    val = data.splits["val"]
    for label, review_id in zip(val.y.tolist(), val.review_id.tolist(), strict=True):
        assert f"uniqtrain{label}x{review_id}" not in data.vocabulary
    train = data.splits["train"]
    label, review_id = train.y[0], train.review_id[0]
    assert f"uniqtrain{label}x{review_id}" in data.vocabulary
