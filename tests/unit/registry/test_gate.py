"""The gate's statistics and decisions, on paired predictions made up to known outcomes."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from imdb_sentiment.config import PromoteParams
from imdb_sentiment.registry.gate import check_served_accuracy
from imdb_sentiment.registry.paired import PromotionError, compare_paired, decide, mcnemar_exact

GATE = PromoteParams(alpha=0.05, min_accuracy_gain=0.002, slice_alpha=0.05, max_behaviour_drop=0.1)


def binomial_two_sided(k: int, n: int) -> float:
    """The textbook exact McNemar p-value, from first principles."""
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2**n
    return min(1.0, 2 * tail)


@pytest.mark.parametrize(("b", "c"), [(10, 0), (0, 10), (7, 3), (30, 12), (50, 50), (1, 0)])
def test_mcnemar_exact_matches_the_binomial_formula(b: int, c: int) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(binomial_two_sided(b, b + c), rel=1e-9)


def test_no_discordant_pairs_means_no_evidence() -> None:
    assert mcnemar_exact(0, 0) == 1.0


def paired(n: int, challenger_only: int, champion_only: int, both_right: int):
    """Labels all 1; the first `challenger_only` reviews only the challenger gets, and so on."""
    labels = np.ones(n, dtype=np.int64)
    new, old = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    a, b = challenger_only, challenger_only + champion_only
    new[:a] = 1
    old[a:b] = 1
    new[b : b + both_right] = old[b : b + both_right] = 1
    return labels, new, old


def test_compare_counts_discordant_pairs_and_accuracies() -> None:
    result = compare_paired(*paired(1000, challenger_only=60, champion_only=20, both_right=800))
    assert (result.challenger_only, result.champion_only, result.n) == (60, 20, 1000)
    assert result.challenger_accuracy == pytest.approx(0.86)
    assert result.champion_accuracy == pytest.approx(0.82)
    assert result.gain == pytest.approx(0.04)
    assert result.p_value == pytest.approx(binomial_two_sided(60, 80))


def test_significant_and_large_enough_gain_promotes() -> None:
    promoted, reason = decide(compare_paired(*paired(1000, 60, 20, 800)), GATE)
    assert promoted and "p=" in reason


def test_large_gain_on_too_few_discordant_pairs_is_not_significant() -> None:
    promoted, reason = decide(compare_paired(*paired(100, 4, 1, 80)), GATE)  # +3 points, p = 0.375
    assert not promoted and "not significant" in reason and "promote.alpha" in reason


def test_significant_but_tiny_gain_is_not_enough() -> None:
    # +0.16 points on 25,000 reviews; a loose alpha isolates the gain rule.
    loose = dataclasses.replace(GATE, alpha=0.9)
    promoted, reason = decide(compare_paired(*paired(25_000, 540, 500, 20_000)), loose)
    assert not promoted and "below promote.min_accuracy_gain" in reason


def test_a_worse_challenger_is_rejected_however_significant() -> None:
    promoted, reason = decide(compare_paired(*paired(1000, 20, 60, 800)), GATE)
    assert not promoted and "-0.0400" in reason


def test_compare_refuses_unpaired_predictions() -> None:
    with pytest.raises(PromotionError, match="paired predictions"):
        compare_paired(np.ones(3), np.ones(3), np.ones(2))


def test_served_accuracy_must_match_what_evaluate_measured() -> None:
    labels = np.array([1, 0, 1, 1])
    predicted = np.array([1, 0, 0, 1])
    assert check_served_accuracy(predicted, labels, evaluated=0.75) == 0.75
    with pytest.raises(PromotionError, match=r"scores 0\.7500 .* measured 0\.8000"):
        check_served_accuracy(predicted, labels, evaluated=0.8)
