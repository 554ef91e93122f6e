"""Behaviour checks: how a model answers template reviews and their variants (CheckList-style).

A model that wins on accuracy can still call "not good" positive or change its mind over a
line-break tag. Each check is a list of (original, variant) cases from
`modeling.behaviour_cases`; its pass rate is the share of cases whose answers obey the
check's rule, with the tolerances of `evaluate.behaviour`. The model is any function from
review texts to positive probabilities and labels, so evaluate runs the checks on the Keras
model in-process and the gate on the served raw-text models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from imdb_sentiment.config import BehaviourParams
from imdb_sentiment.modeling.behaviour_cases import Case, all_cases

# texts -> ((n,) probability of positive, (n,) 0/1 label)
Predictor = Callable[[Sequence[str]], tuple[np.ndarray, np.ndarray]]


def case_passes(
    case: Case, p: tuple[float, float], labels: tuple[int, int], cfg: BehaviourParams
) -> bool:
    """Whether one case's answers, (original, variant), obey its rule."""
    (p_orig, p_var), (l_orig, l_var) = p, labels
    if case.rule == "invariant":
        return l_orig == l_var and abs(p_var - p_orig) < cfg.invariance_tolerance
    if case.rule == "lower":
        return p_var < p_orig
    if case.rule == "not_lower":
        return p_var > p_orig - cfg.direction_tolerance
    if case.rule == "not_higher":
        return p_var < p_orig + cfg.direction_tolerance
    if case.rule == "label":
        return l_var == case.expected_label
    raise ValueError(f"unknown behaviour rule {case.rule!r}")


def run_checks(predict: Predictor, maxlen: int, cfg: BehaviourParams) -> dict[str, Any]:
    """Per check: cases, passed, pass rate, and up to 3 failing cases to look at.

    Numbers (and a list, which DVC skips) only: `dvc metrics show` lists every string.
    """
    cases = all_cases(maxlen)
    texts = [text for case in cases for text in (case.original, case.variant)]
    proba, labels = predict(texts)
    proba, labels = np.asarray(proba, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    results: dict[str, Any] = {}
    for i, case in enumerate(cases):
        pair = (float(proba[2 * i]), float(proba[2 * i + 1]))
        passed = case_passes(case, pair, (int(labels[2 * i]), int(labels[2 * i + 1])), cfg)
        entry = results.setdefault(case.check, {"cases": 0, "passed": 0, "failures": []})
        entry["cases"] += 1
        entry["passed"] += int(passed)
        if not passed and len(entry["failures"]) < 3:
            entry["failures"].append(
                {"original": case.original, "variant": case.variant, "p": list(pair)}
            )
    for entry in results.values():
        entry["pass_rate"] = entry["passed"] / entry["cases"]
    return results


def pass_rates(results: dict[str, Any]) -> dict[str, float]:
    return {check: entry["pass_rate"] for check, entry in results.items()}


def behaviour_metrics(results: dict[str, Any]) -> dict[str, float]:
    """`test_behaviour/<check>.pass_rate` for MLflow (named as `slices.slice_metrics` says)."""
    rates = pass_rates(results).items()
    return {f"test_behaviour/{check}.pass_rate": rate for check, rate in rates}


def threshold_predictor(
    proba_of: Callable[[Sequence[str]], np.ndarray], threshold: float
) -> Predictor:
    """A Predictor from a probability function and evaluate's decision threshold."""

    def predict(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        proba = np.asarray(proba_of(texts), dtype=np.float64).ravel()
        return proba, (proba >= threshold).astype(np.int64)

    return predict
