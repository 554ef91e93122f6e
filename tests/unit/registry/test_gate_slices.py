"""The gate's slice and behaviour rules on paired predictions made up to known outcomes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imdb_sentiment.config import PromoteParams
from imdb_sentiment.modeling.slices import ReviewSlices
from imdb_sentiment.registry.gate_slices import (
    behaviour_rule,
    compare_behaviour,
    compare_slices,
    holm,
    slice_rule,
)

GATE = PromoteParams(alpha=0.05, min_accuracy_gain=0.002, slice_alpha=0.05, max_behaviour_drop=0.1)


def test_holm_multiplies_the_smallest_by_m_and_stays_monotone() -> None:
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.3, 0.001]) == pytest.approx([0.3, 0.002])
    assert holm([0.6, 0.6, 0.6]) == pytest.approx([1.0, 1.0, 1.0])


def two_slices(n_short: int, n_long: int) -> tuple[np.ndarray, ReviewSlices]:
    labels = np.ones(n_short + n_long, dtype=np.int64)
    long = np.arange(labels.size) >= n_short
    return labels, ReviewSlices({"short": ~long, "long": long}, [])


def test_a_challenger_better_overall_but_worse_on_one_slice_is_caught() -> None:
    labels, slices = two_slices(200, 20)
    challenger = np.ones(220, dtype=np.int64)
    challenger[200:] = 0  # wrong on every long review
    champion = np.ones(220, dtype=np.int64)
    champion[:100] = 0  # wrong on half the short ones
    rows = compare_slices(labels, challenger, champion, slices)
    assert rows["long"]["challenger_only"] == 0 and rows["long"]["champion_only"] == 20
    # One-sided exact McNemar: all 20 discordant pairs go the champion's way.
    assert rows["long"]["p_value"] == pytest.approx(0.5**20)
    assert rows["long"]["p_holm"] == pytest.approx(2 * 0.5**20)
    assert rows["short"]["p_value"] == 1.0 and rows["short"]["challenger_accuracy"] == 1.0
    reason, decided_by = slice_rule(rows, GATE)
    assert decided_by == "slice long"
    assert reason.startswith("slice long: significantly worse") and "0.0000 vs 1.0000" in reason


def test_a_few_losses_on_a_slice_are_not_significant_after_holm() -> None:
    labels, slices = two_slices(200, 20)
    challenger, champion = np.ones(220, dtype=np.int64), np.ones(220, dtype=np.int64)
    challenger[200:205] = 0  # 5 champion-only wins: p = 1/32, times 2 slices = 0.0625
    rows = compare_slices(labels, challenger, champion, slices)
    assert rows["long"]["p_value"] == pytest.approx(1 / 32)
    assert rows["long"]["p_holm"] == pytest.approx(1 / 16)
    assert slice_rule(rows, GATE) is None


def test_an_empty_slice_has_no_accuracy_and_no_evidence() -> None:
    labels, slices = two_slices(10, 0)
    rows = compare_slices(labels, labels, labels, slices)
    assert rows["long"]["challenger_accuracy"] is None and rows["long"]["p_value"] == 1.0


def test_a_behaviour_drop_beyond_the_param_decides() -> None:
    rows = compare_behaviour(
        {"negation": 0.6, "noise": 1.0, "typo": 0.85},
        {"negation": 0.9, "noise": 1.0, "typo": 0.9},
    )
    assert rows["negation"]["drop"] == pytest.approx(0.3)
    reason, decided_by = behaviour_rule(rows, GATE)
    assert decided_by == "behaviour negation"
    assert "0.600 vs the champion's 0.900" in reason
    assert behaviour_rule(rows, PromoteParams(0.05, 0.002, 0.05, 0.35)) is None


def test_a_check_the_champion_never_ran_is_not_compared() -> None:
    rows = compare_behaviour({"negation": 0.2, "new_check": 0.0}, {"negation": 0.2})
    assert set(rows) == {"negation"} and behaviour_rule(rows, GATE) is None
    assert math.isclose(rows["negation"]["drop"], 0.0)
