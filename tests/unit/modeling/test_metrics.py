from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from imdb_sentiment.modeling.metrics import MAX_CURVE_POINTS, compute_metrics, plot_curves


def test_metrics_match_a_hand_computed_case() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.6, 0.3, 0.8, 0.4, 0.9])
    ev = compute_metrics(y, p, threshold=0.5)
    # Predicted: 0 1 0 1 0 1 -> tn=2 fp=1 fn=1 tp=2.
    assert ev.confusion == {"tn": 2, "fp": 1, "fn": 1, "tp": 2}
    assert ev.metrics["accuracy"] == pytest.approx(4 / 6)
    assert ev.metrics["precision"] == pytest.approx(2 / 3)
    assert ev.metrics["recall"] == pytest.approx(2 / 3)
    assert ev.metrics["f1"] == pytest.approx(2 / 3)
    # Of the 9 (pos, neg) pairs, the positive scores higher in 8: 0.4 < 0.6 is the one miss.
    assert ev.metrics["roc_auc"] == pytest.approx(8 / 9)
    expected_loss = -np.mean(
        [math.log(0.9), math.log(0.4), math.log(0.7), math.log(0.8), math.log(0.4), math.log(0.9)]
    )
    assert ev.metrics["loss"] == pytest.approx(expected_loss)
    assert ev.roc[0]["fpr"] == 0.0 and ev.roc[-1]["tpr"] == 1.0
    assert all(0.0 <= point["threshold"] <= 1.0 for point in ev.roc)


def test_threshold_moves_the_decision() -> None:
    y = np.array([0, 1])
    assert compute_metrics(y, np.array([0.2, 0.3]), 0.5).metrics["accuracy"] == 0.5
    assert compute_metrics(y, np.array([0.2, 0.3]), 0.25).metrics["accuracy"] == 1.0


def test_curves_are_thinned_but_keep_their_ends() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 20_000)
    p = np.clip(y * 0.3 + rng.random(20_000) * 0.7, 0, 1)
    ev = compute_metrics(y, p, 0.5)
    assert len(ev.roc) <= MAX_CURVE_POINTS and len(ev.pr) <= MAX_CURVE_POINTS
    assert (ev.roc[0]["fpr"], ev.roc[-1]["fpr"]) == (0.0, 1.0)


def test_single_class_or_mismatched_input_is_an_error() -> None:
    with pytest.raises(ValueError, match="both classes"):
        compute_metrics(np.array([1, 1]), np.array([0.2, 0.9]), 0.5)
    with pytest.raises(ValueError, match="equal, non-empty"):
        compute_metrics(np.array([0, 1]), np.array([0.2]), 0.5)


def test_plots_are_written_as_png(tmp_path: Path) -> None:
    ev = compute_metrics(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.6, 0.4]), 0.5)
    paths = plot_curves(ev, tmp_path)
    assert set(paths) == {"roc", "pr", "confusion_matrix"}
    for path in paths.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
