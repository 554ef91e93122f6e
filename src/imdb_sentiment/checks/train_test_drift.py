"""Drift between the train and test splits: token ids and review lengths.

Jensen-Shannon divergence, as TFX's skew comparator uses, computed every run so the
distance is visible even when no threshold is crossed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from imdb_sentiment.checks.drift import id_counts, js_divergence, length_histogram, top_shifts
from imdb_sentiment.config import ValidateParams
from imdb_sentiment.data.prepared import EncodedSplit, PreparedDataError
from imdb_sentiment.data.tokenizer import PAD, START, tokenize

# Drift compares what the model learns from with what it is scored on; val is a slice of train.
REFERENCE, CURRENT = "train", "test"


@dataclass(frozen=True)
class Drift:
    js_tokens: float
    js_lengths: float
    mean_review_tokens: dict[str, float]  # per split, before padding or truncation
    top_tokens: list[dict[str, Any]]  # the tokens that moved most, largest contribution first


def review_lengths(reviews: pd.DataFrame, raw_split: str, split: EncodedSplit) -> np.ndarray:
    """Token counts, before padding and truncation, of the raw reviews behind `split`'s rows.

    The arrays cannot tell: at maxlen 100, nine reviews in ten are cut to the same length.
    """
    raw = reviews[reviews["split"] == raw_split]
    keys = [raw["label"].astype(np.int64), raw["review_id"].astype(np.int64)]
    texts = pd.Series(raw["text"].to_numpy(), index=pd.MultiIndex.from_arrays(keys))
    texts = texts[~texts.index.duplicated()]  # duplicate ids are the raw suite's to report
    wanted = pd.MultiIndex.from_arrays([split.y.astype(np.int64), split.review_id.astype(np.int64)])
    found = texts.reindex(wanted)
    if found.isna().any():
        raise PreparedDataError(
            f"{int(found.isna().sum())} prepared rows have no {raw_split} review with their "
            "label and id in the reviews table; rerun prepare on this table"
        )
    return np.array([len(tokenize(text)) for text in found], dtype=np.int64)


def measure_drift(
    reviews: pd.DataFrame,
    splits: Mapping[str, EncodedSplit],
    vocabulary: Mapping[str, int],
    cfg: ValidateParams,
) -> Drift:
    """Jensen-Shannon divergence train vs test of token ids and of review lengths."""
    size = max(vocabulary.values()) + 1
    # Pads and start marks say nothing about the words; OOV stays: more of it is drift too.
    tokens = [id_counts(splits[n].x, size, ignore=(PAD, START)) for n in (REFERENCE, CURRENT)]
    lengths = {n: review_lengths(reviews, n, splits[n]) for n in (REFERENCE, CURRENT)}
    histograms = [
        length_histogram(lengths[n], cfg.length_bin_width, cfg.length_bin_limit)
        for n in (REFERENCE, CURRENT)
    ]
    words = {i: w for w, i in vocabulary.items()}
    top_tokens = [
        {
            "id": shift.index,
            "token": words.get(shift.index, "?"),
            f"{REFERENCE}_frequency": shift.reference_share,
            f"{CURRENT}_frequency": shift.current_share,
            "js_contribution": shift.contribution,
        }
        for shift in top_shifts(*tokens, cfg.top_moved_tokens)
    ]
    return Drift(
        js_tokens=js_divergence(*tokens),
        js_lengths=js_divergence(*histograms),
        mean_review_tokens={n: float(v.mean()) if len(v) else 0.0 for n, v in lengths.items()},
        top_tokens=top_tokens,
    )


def drift_failures(drift: Drift, cfg: ValidateParams) -> list[str]:
    """One line per divergence above its threshold."""
    checks = [
        ("js_tokens", drift.js_tokens, cfg.max_js_tokens),
        ("js_lengths", drift.js_lengths, cfg.max_js_lengths),
    ]
    return [
        f"{name} {value:.4f} > validate.max_{name} {limit} ({REFERENCE} vs {CURRENT})"
        for name, value, limit in checks
        if value > limit
    ]
