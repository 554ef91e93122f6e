"""Turn the raw reviews table into padded integer sequences with a validation split."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from imdb_sentiment.data.prepared import EncodedSplit, PreparedData
from imdb_sentiment.data.tokenizer import collect_tails, rank_vocabulary

log = logging.getLogger(__name__)


# What `prepare` reads of the reviews table: all of it but the rating.
PREPARE_COLUMNS = ("split", "label", "review_id", "text")


def cap_per_split(reviews: pd.DataFrame, max_reviews: int | None, seed: int) -> pd.DataFrame:
    """Keep at most `max_reviews` per split, half of each label, chosen at random but seeded."""
    if max_reviews is None:
        return reviews
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    for _, split in reviews.groupby("split", sort=False):
        for i, (_, group) in enumerate(split.groupby("label", sort=True)):
            # Negatives take the floor, positives the rest, so an odd cap still sums up.
            quota = max_reviews // 2 if i == 0 else max_reviews - max_reviews // 2
            take = min(quota, len(group))
            keep.append(rng.choice(group.index.to_numpy(), size=take, replace=False))
    return reviews.loc[np.sort(np.concatenate(keep))]


def split_validation(
    labels: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified positions (train, val): each label contributes `val_fraction` of its rows."""
    rng = np.random.default_rng(seed)
    val_parts = []
    for label in np.unique(labels):
        positions = np.flatnonzero(labels == label)
        n_val = round(len(positions) * val_fraction)
        val_parts.append(rng.permutation(positions)[:n_val])
    val = np.sort(np.concatenate(val_parts))
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val


def prepare_sequences(
    reviews: pd.DataFrame,
    max_features: int,
    maxlen: int,
    val_fraction: float,
    seed: int,
) -> PreparedData:
    is_train = (reviews["split"] == "train").to_numpy()
    labels = reviews["label"].to_numpy(dtype=np.int8)
    train_rows = np.flatnonzero(is_train)
    train_pos, val_pos = split_validation(labels[train_rows], val_fraction, seed)
    rows = {
        "train": train_rows[train_pos],
        "val": train_rows[val_pos],
        "test": np.flatnonzero(~is_train),
    }
    group = np.empty(len(reviews), dtype=np.int64)
    for i, idx in enumerate(rows.values()):
        group[idx] = i
    # One tokenizing pass; holding every review's token list would take ~1 GB on the full data.
    tails = collect_tails(reviews["text"], group.tolist(), len(rows), maxlen)
    counts = {name: tails.word_counts(i) for i, name in enumerate(rows)}
    # Only the rows the model trains on may shape the vocabulary: validation stays unseen.
    vocabulary = rank_vocabulary(counts["train"], max_features)
    x = tails.encode(vocabulary)
    del tails
    splits: dict[str, EncodedSplit] = {}
    oov_rate: dict[str, float] = {}
    ids = reviews["review_id"].to_numpy(dtype=np.int32)
    for name, idx in rows.items():
        n_words = counts[name].total()
        n_oov = n_words - sum(counts[name][word] for word in vocabulary)
        oov_rate[name] = n_oov / n_words if n_words else 0.0
        splits[name] = EncodedSplit(x[idx], labels[idx], ids[idx])
        log.info("%s: %d reviews, OOV rate %.4f", name, len(idx), oov_rate[name])
    return PreparedData(splits, vocabulary, len(counts["train"]), oov_rate)
