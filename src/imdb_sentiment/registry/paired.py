"""The gate's statistics: paired predictions of two models, McNemar's exact test, the rule.

"Better" is judged on one test set with paired predictions: both models score the same
reviews, and McNemar's exact test asks whether the reviews only one of them gets right lean
to the challenger by more than chance. No MLflow here: registry/gate.py applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

from imdb_sentiment.config import PromoteParams
from imdb_sentiment.errors import PipelineError


class PromotionError(PipelineError):
    """The gate cannot compare the models fairly."""


@dataclass(frozen=True)
class PairedComparison:
    """Paired outcome of two models on the same labelled reviews."""

    n: int
    challenger_accuracy: float
    champion_accuracy: float
    challenger_only: int  # reviews only the challenger gets right
    champion_only: int  # reviews only the champion gets right
    p_value: float  # McNemar's exact test, two-sided

    @property
    def gain(self) -> float:
        return self.challenger_accuracy - self.champion_accuracy


def mcnemar_exact(challenger_only: int, champion_only: int) -> float:
    """Two-sided exact McNemar p-value: the discordant pairs as a fair-coin binomial."""
    discordant = challenger_only + champion_only
    if discordant == 0:
        return 1.0
    return float(binomtest(challenger_only, discordant, 0.5).pvalue)


def compare_paired(
    labels: np.ndarray, challenger: np.ndarray, champion: np.ndarray
) -> PairedComparison:
    """Compare two models' predicted labels (0/1) against the true ones."""
    labels, challenger, champion = (np.asarray(a).ravel() for a in (labels, challenger, champion))
    if not (labels.shape == challenger.shape == champion.shape) or labels.size == 0:
        raise PromotionError(
            f"paired predictions need equal, non-empty arrays, got {labels.shape}, "
            f"{challenger.shape} and {champion.shape}"
        )
    right_new, right_old = challenger == labels, champion == labels
    only_new, only_old = int((right_new & ~right_old).sum()), int((right_old & ~right_new).sum())
    return PairedComparison(
        n=int(labels.size),
        challenger_accuracy=float(right_new.mean()),
        champion_accuracy=float(right_old.mean()),
        challenger_only=only_new,
        champion_only=only_old,
        p_value=mcnemar_exact(only_new, only_old),
    )


def decide(comparison: PairedComparison, cfg: PromoteParams) -> tuple[bool, str]:
    """Whether the challenger replaces the champion, and why, in one sentence."""
    gain, p = comparison.gain, comparison.p_value
    if gain < cfg.min_accuracy_gain:
        return False, (
            f"accuracy gain {gain:+.4f} is below promote.min_accuracy_gain "
            f"{cfg.min_accuracy_gain} (p={p:.3g})"
        )
    if p >= cfg.alpha:
        return False, (
            f"accuracy gain {gain:+.4f} is not significant: McNemar p={p:.3g} >= "
            f"promote.alpha {cfg.alpha}"
        )
    return (
        True,
        f"accuracy gain {gain:+.4f} >= {cfg.min_accuracy_gain} with p={p:.3g} < {cfg.alpha}",
    )
