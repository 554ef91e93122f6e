from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imdb_sentiment.data.prepared import EncodedSplit, PreparedData
from imdb_sentiment.data.reviews_table import REVIEW_COLUMNS
from imdb_sentiment.data.sequences import cap_per_split, prepare_sequences, split_validation
from imdb_sentiment.data.tokenizer import OOV, START, encode, pad_sequences, tokenize
from tests.oracles import build_vocabulary


def reviews(n_per_group: int = 10) -> pd.DataFrame:
    rows = []
    for split in ("train", "test"):
        for label in (0, 1):
            word = "good" if label else "bad"
            for i in range(n_per_group):
                text = f"{word} {split} review uniq{split}{label}x{i}"
                rows.append((split, label, 8 if label else 2, i, text))
    return pd.DataFrame(rows, columns=list(REVIEW_COLUMNS))


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


def prepare_straightforwardly(
    reviews: pd.DataFrame, max_features: int, maxlen: int, val_fraction: float, seed: int
) -> PreparedData:
    """`prepare_sequences` as it was first written: every review's token list held at once."""
    tokens = [tokenize(text) for text in reviews["text"]]
    is_train = (reviews["split"] == "train").to_numpy()
    labels = reviews["label"].to_numpy(dtype=np.int8)
    train_rows = np.flatnonzero(is_train)
    train_pos, val_pos = split_validation(labels[train_rows], val_fraction, seed)
    rows = {
        "train": train_rows[train_pos],
        "val": train_rows[val_pos],
        "test": np.flatnonzero(~is_train),
    }
    vocabulary = build_vocabulary((tokens[i] for i in rows["train"]), max_features)
    distinct = len({w for i in rows["train"] for w in tokens[i]})
    splits, oov_rate = {}, {}
    ids = reviews["review_id"].to_numpy(dtype=np.int32)
    for name, idx in rows.items():
        encoded = [encode(tokens[i], vocabulary) for i in idx]
        n_words = sum(len(e) - 1 for e in encoded)
        oov_rate[name] = sum(e.count(OOV) for e in encoded) / n_words if n_words else 0.0
        splits[name] = EncodedSplit(pad_sequences(encoded, maxlen), labels[idx], ids[idx])
    return PreparedData(splits, vocabulary, distinct, oov_rate)


def varied_reviews() -> pd.DataFrame:
    """Reviews of 0 to 15 words over a 30-word language, so rows pad, truncate and hit OOV."""
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(30)] + ["don't", "Très", "<br />"]
    rows = []
    for split in ("train", "test"):
        for label in (0, 1):
            for i in range(25):
                n = int(rng.integers(0, 16))
                text = " ".join(rng.choice(words, size=n).tolist())
                rows.append((split, label, 8 if label else 2, 100 * label + i, text))
    return pd.DataFrame(rows, columns=list(REVIEW_COLUMNS))


@pytest.mark.parametrize("max_reviews", [None, 31])
def test_prepare_sequences_matches_the_straightforward_path(max_reviews: int | None) -> None:
    frame = cap_per_split(varied_reviews(), max_reviews, seed=5)
    got = prepare_sequences(frame, max_features=15, maxlen=8, val_fraction=0.2, seed=5)
    want = prepare_straightforwardly(frame, max_features=15, maxlen=8, val_fraction=0.2, seed=5)
    assert got.vocabulary == want.vocabulary
    assert list(got.vocabulary.items()) == list(want.vocabulary.items())  # same JSON order
    assert got.distinct_train_words == want.distinct_train_words
    assert got.oov_rate == want.oov_rate  # exactly: the same integer ratios
    assert list(got.splits) == list(want.splits)
    for name, split in got.splits.items():
        for field in ("x", "y", "review_id"):
            mine, theirs = getattr(split, field), getattr(want.splits[name], field)
            assert mine.dtype == theirs.dtype, (name, field)
            np.testing.assert_array_equal(mine, theirs, err_msg=f"{name}.{field}")
    x = np.concatenate([s.x for s in got.splits.values()])
    # The data exercises every case: padding, a kept start mark, truncation, OOV.
    assert (x[:, 0] == 0).any() and (x == START).any() and (x[:, 0] > START).any()
    assert (x == OOV).any()
