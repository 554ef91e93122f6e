"""Jensen-Shannon divergence and histograms, checked against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from imdb_sentiment.checks.drift import (
    id_counts,
    js_divergence,
    js_terms,
    length_histogram,
    top_shifts,
)


def test_identical_distributions_diverge_by_zero() -> None:
    assert js_divergence(np.array([3, 1, 0, 6]), np.array([3, 1, 0, 6])) == 0.0


def test_counts_are_compared_as_shares() -> None:
    assert js_divergence(np.array([1, 2, 3]), np.array([10, 20, 30])) == pytest.approx(0, abs=1e-12)


def test_disjoint_distributions_diverge_by_one_bit() -> None:
    assert js_divergence(np.array([5, 5, 0, 0]), np.array([0, 0, 1, 9])) == pytest.approx(1.0)


def test_partial_overlap_matches_the_hand_computed_value() -> None:
    # p = (1, 0), q = (1/2, 1/2), m = (3/4, 1/4):
    # KL(p||m) = log2(4/3) = 0.415037; KL(q||m) = 1/2 log2(2/3) + 1/2 log2(2) = 0.207519;
    # JS = (0.415037 + 0.207519) / 2 = 0.311278.
    assert js_divergence(np.array([2, 0]), np.array([3, 3])) == pytest.approx(0.311278, abs=1e-6)
    assert js_divergence(np.array([3, 3]), np.array([2, 0])) == pytest.approx(0.311278, abs=1e-6)


def test_terms_sum_to_the_divergence() -> None:
    p, q = np.array([4, 3, 2, 1, 0]), np.array([0, 1, 2, 3, 4])
    terms = js_terms(p, q)
    assert terms.shape == (5,) and (terms >= 0).all()
    assert terms.sum() == pytest.approx(js_divergence(p, q))
    assert terms[2] == 0  # same share in both: no contribution


@pytest.mark.parametrize(
    ("reference", "current", "message"),
    [
        ([0, 0], [1, 1], "empty"),
        ([1, 2], [1, 2, 3], "differ in length"),
        ([1, -1], [1, 1], "non-negative"),
    ],
    ids=["empty", "length-mismatch", "negative"],
)
def test_bad_counts_are_rejected(reference: list, current: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        js_divergence(np.array(reference), np.array(current))


def test_id_counts_ignore_reserved_ids_and_ids_out_of_range() -> None:
    ids = np.array([[0, 0, 1, 2, 3], [1, 3, 3, 4, 9]])
    counts = id_counts(ids, size=5, ignore=(0, 1))
    assert counts.tolist() == [0, 0, 1, 3, 1]  # 9 is outside [0, 5)
    assert id_counts(np.array([-1, 2]), size=3).tolist() == [0, 0, 1]


def test_length_histogram_uses_fixed_bins_with_one_overflow_bin() -> None:
    counts = length_histogram(np.array([0, 24, 25, 999, 1000, 5000]), bin_width=25, limit=1000)
    assert len(counts) == 41  # [0, 25), ..., [975, 1000), [1000, inf)
    assert counts[0] == 2 and counts[1] == 1 and counts[39] == 1 and counts[40] == 2
    assert counts.sum() == 6


def test_top_shifts_rank_by_contribution_not_by_raw_difference() -> None:
    # Shares move by 0.01, 0.01 and 0.02; bin 1 doubles, so it outranks the bigger move of bin 2.
    reference, current = np.array([500, 10, 490]), np.array([510, 20, 470])
    shifts = top_shifts(reference, current, k=2)
    assert [s.index for s in shifts] == [1, 2]
    assert shifts[0].reference_share == pytest.approx(0.01)
    assert shifts[0].current_share == pytest.approx(0.02)
    assert shifts[0].contribution == pytest.approx(js_terms(reference, current)[1])


def test_top_shifts_leave_out_bins_that_did_not_move() -> None:
    shifts = top_shifts(np.array([5, 5, 0, 90]), np.array([5, 0, 5, 90]), k=4)
    assert [s.index for s in shifts] == [1, 2]  # equal contributions keep bin order
    assert shifts[0].contribution == pytest.approx(0.025)  # 1/2 * 0.05 * log2(0.05 / 0.025)
