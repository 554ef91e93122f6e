"""Distribution drift between two samples: histograms and Jensen-Shannon divergence.

Pure numpy and agnostic of what is counted: token ids, binned lengths, anything with a
fixed set of bins. "reference" is the sample a model learned from, "current" the one it
meets later (here: train and test).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BinShift:
    """One bin whose share moved between the reference and the current sample."""

    index: int
    reference_share: float
    current_share: float
    contribution: float  # this bin's term of the JS divergence; all terms sum to it


def id_counts(ids: np.ndarray, size: int, ignore: Iterable[int] = ()) -> np.ndarray:
    """Occurrences of each id in [0, size) anywhere in `ids`; `ignore`d ids count zero.

    Ids outside [0, size) are left out rather than fatal: a range check reports them.
    """
    ids = np.asarray(ids).ravel()
    ids = ids[(ids >= 0) & (ids < size)]
    counts = np.bincount(ids, minlength=size).astype(np.int64)
    counts[list(ignore)] = 0
    return counts


def length_histogram(lengths: np.ndarray, bin_width: int, limit: int) -> np.ndarray:
    """Counts over fixed bins [0, w), [w, 2w), ... up to `limit`, plus one bin for >= limit.

    Fixed edges (not edges fitted to the data) keep two samples' histograms comparable.
    """
    edges = np.append(np.arange(0, limit + 1, bin_width), np.inf)
    counts, _ = np.histogram(np.asarray(lengths), bins=edges)
    return counts.astype(np.int64)


def js_terms(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Each bin's share of the Jensen-Shannon divergence (base 2) between two count vectors."""
    p, q = _shares(reference), _shares(current)
    if p.shape != q.shape:
        raise ValueError(f"count vectors differ in length: {p.shape} vs {q.shape}")
    m = (p + q) / 2
    return (_kl_terms(p, m) + _kl_terms(q, m)) / 2  # (bins,)


def js_divergence(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits: 0 for identical shares, 1 for disjoint support.

    Estimated from counts it is biased upwards by sampling noise, roughly in proportion to
    (occupied bins) / (sample size): compare values from samples of similar size.
    """
    # Rounding can leave -1e-17 for identical inputs; the divergence is never negative.
    return float(min(max(js_terms(reference, current).sum(), 0.0), 1.0))


def top_shifts(reference: np.ndarray, current: np.ndarray, k: int) -> list[BinShift]:
    """The `k` bins contributing most to the JS divergence, largest first; unmoved bins never.

    Ranking by contribution rather than by raw share difference weighs a move against how
    common the bin is: "the" going from 5.0% to 5.1% ranks below a word that doubles.
    """
    p, q = _shares(reference), _shares(current)
    terms = js_terms(reference, current)
    # Stable sort on the negated terms: ties keep ascending bin order, so output is repeatable.
    order = [i for i in np.argsort(-terms, kind="stable")[:k] if terms[i] > 0]
    return [BinShift(int(i), float(p[i]), float(q[i]), float(terms[i])) for i in order]


def _shares(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or (counts < 0).any():
        raise ValueError("counts must be a 1-d vector of non-negative numbers")
    total = counts.sum()
    if total <= 0:
        raise ValueError("cannot compare an empty sample: all counts are zero")
    return counts / total


def _kl_terms(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    # 0 * log(0 / m) is 0 by convention; m > 0 wherever p > 0, since m = (p + q) / 2.
    out = np.zeros_like(p)
    nonzero = p > 0
    out[nonzero] = p[nonzero] * np.log2(p[nonzero] / m[nonzero])
    return out
