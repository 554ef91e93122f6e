"""Behaviour checks: the generated cases, each rule, and pass rates of hand-written models."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest

from imdb_sentiment.config import BehaviourParams
from imdb_sentiment.data.tokenizer import tokenize
from imdb_sentiment.modeling.behaviour import case_passes, run_checks, threshold_predictor
from imdb_sentiment.modeling.behaviour_cases import (
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    Case,
    all_cases,
    with_typo,
)

CFG = BehaviourParams(invariance_tolerance=0.1, direction_tolerance=0.01)
CHECKS = {"negation", "intensifier", "noise", "typo", "names", "truncation"}


def lexicon_proba(texts: Sequence[str], negation: bool = True) -> np.ndarray:
    """A word-counting model: +1 per positive word, -1 per negative, 'not' flips the next."""
    scores = []
    for text in texts:
        score, flip = 0.0, 1.0
        for word in tokenize(text):
            if negation and word == "not":
                flip = -1.0
                continue
            score += flip * ((word in POSITIVE_WORDS) - (word in NEGATIVE_WORDS))
            flip = 1.0
        scores.append(1 / (1 + np.exp(-score)))
    return np.array(scores)


def test_cases_are_fixed_and_each_variant_differs_from_its_original() -> None:
    cases = all_cases(maxlen=100)
    assert cases == all_cases(maxlen=100)
    assert set(Counter(case.check for case in cases)) == CHECKS
    assert all(case.original != case.variant for case in cases)


def test_truncation_cases_put_the_verdict_beyond_maxlen_tokens_of_padding() -> None:
    for maxlen in (24, 100, 400):
        cases = [c for c in all_cases(maxlen) if c.check == "truncation"]
        assert all(len(tokenize(c.variant)) > 2 * maxlen for c in cases)
        assert all(c.variant.endswith(c.original) for c in cases)
        assert {c.expected_label for c in cases} == {0, 1}


def test_a_typo_swaps_two_different_letters_of_the_longest_word() -> None:
    assert with_typo("The acting was brilliant.") == "The acting was brililant."
    assert with_typo("It was good.") == "It was godo."
    assert sorted(with_typo("The script was dull.")) == sorted("The script was dull.")


@pytest.mark.parametrize(
    ("rule", "p", "labels", "passes"),
    [
        ("invariant", (0.8, 0.85), (1, 1), True),
        ("invariant", (0.8, 0.95), (1, 1), False),  # |delta p| 0.15 >= 0.1
        ("invariant", (0.52, 0.48), (1, 0), False),  # the label changed
        ("lower", (0.8, 0.79), (1, 1), True),
        ("lower", (0.8, 0.8), (1, 1), False),
        ("not_lower", (0.8, 0.795), (1, 1), True),  # within direction_tolerance
        ("not_lower", (0.8, 0.7), (1, 1), False),
        ("not_higher", (0.2, 0.205), (0, 0), True),
        ("not_higher", (0.2, 0.4), (0, 0), False),
    ],
)
def test_each_rule(rule: str, p: tuple, labels: tuple, passes: bool) -> None:
    assert case_passes(Case("c", rule, "a", "b"), p, labels, CFG) is passes


def test_the_label_rule_compares_with_the_expected_label() -> None:
    case = Case("truncation", "label", "a", "b", expected_label=0)
    assert case_passes(case, (0.9, 0.1), (1, 0), CFG)
    assert not case_passes(case, (0.1, 0.9), (0, 1), CFG)


def test_a_model_that_reads_negation_passes_where_one_that_ignores_it_fails() -> None:
    aware = run_checks(threshold_predictor(lexicon_proba, 0.5), 100, CFG)
    blind = run_checks(threshold_predictor(lambda t: lexicon_proba(t, False), 0.5), 100, CFG)
    assert set(aware) == CHECKS
    assert aware["negation"]["pass_rate"] == 1.0
    assert blind["negation"]["pass_rate"] == 0.0
    assert len(blind["negation"]["failures"]) == 3
    # Word counting ignores markup, names and what comes before the verdict.
    for check in ("noise", "names", "truncation", "intensifier"):
        assert aware[check]["pass_rate"] == 1.0, check
    assert 0 < aware["typo"]["pass_rate"] < 1  # a misspelt cue word is no longer counted
    entry = aware["typo"]
    assert entry["pass_rate"] == entry["passed"] / entry["cases"]


def test_a_model_that_reads_only_the_front_fails_truncation() -> None:
    def front_only(texts: Sequence[str]) -> np.ndarray:
        return lexicon_proba([" ".join(re.split(r"\s+", t)[:30]) for t in texts])

    results = run_checks(threshold_predictor(front_only, 0.5), 100, CFG)
    assert results["truncation"]["pass_rate"] == 0.5  # neutral front: always p=0.5, "positive"
