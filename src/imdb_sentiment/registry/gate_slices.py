"""The gate's guards: a challenger that wins overall must not lose a slice or a behaviour.

Overall accuracy can rise while the model gets worse where it matters: long reviews, one
rating band, or "not good". After the overall rule says yes (`registry.gate.decide`), the
challenger is refused if, on any slice of the test reviews (`modeling.slices`), McNemar's
exact test says it is worse than the champion (one-sided, Holm-corrected across the slices,
at `promote.slice_alpha`), or if a behaviour check's pass rate (`modeling.behaviour`) falls by
more than `promote.max_behaviour_drop` below the champion's. Both models answer through their
served raw-text models, so the guard judges what users get.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import binomtest

from imdb_sentiment.config import BehaviourParams, PromoteParams
from imdb_sentiment.modeling.behaviour import Predictor, pass_rates, run_checks
from imdb_sentiment.modeling.slices import ReviewSlices
from imdb_sentiment.registry.text_model import SENTIMENT_LABELS, predict_within_caps


@dataclass(frozen=True)
class GuardInputs:
    """What the guards judge on, besides the two models' test predictions."""

    slices: ReviewSlices  # over the test reviews, in the gate's order
    maxlen: int  # the challenger's row length (for the truncation check)
    behaviour: BehaviourParams  # evaluate.behaviour


@dataclass(frozen=True)
class Verdict:
    """The gate's answer on a challenger: whether it takes the alias, why, which rule said so."""

    promoted: bool
    reason: str
    decided_by: str = "overall"  # "overall", "slice <name>" or "behaviour <check>"
    details: dict[str, Any] | None = None  # the guards' figures per slice and per check

    @property
    def decision(self) -> str:
        return "promoted" if self.promoted else "rejected"


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone), in the given order."""
    order = np.argsort(p_values, kind="stable")
    m, running, adjusted = len(p_values), 0.0, [1.0] * len(p_values)
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        adjusted[i] = running
    return adjusted


def compare_slices(
    labels: np.ndarray, challenger: np.ndarray, champion: np.ndarray, slices: ReviewSlices
) -> dict[str, dict[str, Any]]:
    """Per slice: both accuracies, discordant pairs, one-sided exact McNemar p, Holm's p.

    The p-value is that of the challenger being worse: the chance of so few challenger-only
    wins among the slice's discordant pairs if either model were as likely to win each.
    """
    right_new, right_old = challenger == labels, champion == labels
    rows: dict[str, dict[str, Any]] = {}
    for name, mask in slices.masks.items():
        new_only = int((right_new & ~right_old & mask).sum())
        old_only = int((right_old & ~right_new & mask).sum())
        discordant = new_only + old_only
        p = binomtest(new_only, discordant, 0.5, "less").pvalue if discordant else 1.0
        count = int(mask.sum())
        rows[name] = {
            "count": count,
            "challenger_accuracy": float(right_new[mask].mean()) if count else None,
            "champion_accuracy": float(right_old[mask].mean()) if count else None,
            "challenger_only": new_only,
            "champion_only": old_only,
            "p_value": float(p),
        }
    adjusted_p = holm([row["p_value"] for row in rows.values()])
    for row, adjusted in zip(rows.values(), adjusted_p, strict=True):
        row["p_holm"] = adjusted
    return rows


def served_predictor(model: Any) -> Predictor:
    """A loaded raw-text model (`load_text_model`) as a Predictor: probability, its label."""

    def predict(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        answers = predict_within_caps(model, list(texts))
        proba = np.array([a.probability for a in answers], dtype=np.float64)
        return proba, np.array([a.label == SENTIMENT_LABELS[1] for a in answers], dtype=np.int64)

    return predict


def compare_behaviour(
    challenger: dict[str, float], champion: dict[str, float]
) -> dict[str, dict[str, float]]:
    """Per check both pass rates and the drop (champion minus challenger)."""
    return {
        check: {
            "challenger_pass_rate": rate,
            "champion_pass_rate": champion[check],
            "drop": champion[check] - rate,
        }
        for check, rate in challenger.items()
        if check in champion
    }


def judge_guards(
    models: tuple[Any, Any],
    labels: np.ndarray,
    predicted: tuple[np.ndarray, np.ndarray],
    inputs: GuardInputs,
    cfg: PromoteParams,
    overall: Verdict,
) -> Verdict:
    """The guards' verdict on a challenger the `overall` rule promotes.

    `models` and `predicted` are (challenger, champion): the loaded raw-text models and their
    0/1 labels on the test reviews, in the order of `labels` and `inputs.slices`.
    """
    slices = compare_slices(np.asarray(labels), *map(np.asarray, predicted), inputs.slices)
    rates = [
        pass_rates(run_checks(served_predictor(model), inputs.maxlen, inputs.behaviour))
        for model in models
    ]
    behaviour = compare_behaviour(*rates)
    details = {"slices": slices, "behaviour": behaviour}
    refusal = slice_rule(slices, cfg) or behaviour_rule(behaviour, cfg)
    if refusal is not None:
        return Verdict(False, *refusal, details)
    reason = f"{overall.reason}; no slice and no behaviour check lost"
    return Verdict(True, reason, "overall", details)


def slice_rule(slices: dict[str, dict[str, Any]], cfg: PromoteParams) -> tuple[str, str] | None:
    """(reason, decided_by) for the slice the challenger is most significantly worse on."""
    worse = [(row["p_holm"], name) for name, row in slices.items()]
    worse = [(p, name) for p, name in worse if p < cfg.slice_alpha]
    if not worse:
        return None
    p, name = min(worse)
    row = slices[name]
    reason = (
        f"slice {name}: significantly worse than the champion "
        f"({row['challenger_accuracy']:.4f} vs {row['champion_accuracy']:.4f} on "
        f"{row['count']} reviews, Holm-corrected McNemar p={p:.3g} < promote.slice_alpha "
        f"{cfg.slice_alpha})"
    )
    return reason, f"slice {name}"


def behaviour_rule(
    behaviour: dict[str, dict[str, float]], cfg: PromoteParams
) -> tuple[str, str] | None:
    """(reason, decided_by) for the behaviour check whose pass rate dropped most, if too far."""
    drops = [(row["drop"], check) for check, row in behaviour.items()]
    drops = [(drop, check) for drop, check in drops if drop > cfg.max_behaviour_drop]
    if not drops:
        return None
    drop, check = max(drops)
    row = behaviour[check]
    reason = (
        f"behaviour {check}: pass rate {row['challenger_pass_rate']:.3f} vs the champion's "
        f"{row['champion_pass_rate']:.3f}, a drop of {drop:.3f} > promote.max_behaviour_drop "
        f"{cfg.max_behaviour_drop}"
    )
    return reason, f"behaviour {check}"
