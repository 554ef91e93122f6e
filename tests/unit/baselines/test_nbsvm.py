"""NBSVM on tiny texts: the paper's features and weights, and that it learns."""

from __future__ import annotations

import random

import numpy as np
import pytest
import scipy.sparse

from imdb_sentiment.baselines.nbsvm import fit_nbsvm, log_count_ratios, ngram_analyzer, score_nbsvm
from imdb_sentiment.config import BaselineParams
from tests.factory import review_text

CFG = BaselineParams(
    ngram_min=1,
    ngram_max=2,
    alpha=1.0,
    classifier="logistic",
    c=1.0,
    interpolation=1.0,
    max_iter=1000,
)


def test_ngrams_are_the_project_tokens_and_their_pairs() -> None:
    analyze = ngram_analyzer(1, 2)
    assert analyze("It's<br />NOT good.") == ["it's", "not", "good", "it's not", "not good"]
    assert ngram_analyzer(2, 2)("one") == []


def test_log_count_ratios_follow_the_paper() -> None:
    # Three n-grams; rows are binarized reviews, two positive then two negative.
    x = scipy.sparse.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1]]))
    labels = np.array([1, 1, 0, 0])
    p = np.array([1 + 2, 1 + 1, 1 + 0])  # alpha + positive counts
    q = np.array([1 + 0, 1 + 1, 1 + 2])
    expected = np.log((p / p.sum()) / (q / q.sum()))
    np.testing.assert_allclose(log_count_ratios(x, labels, alpha=1.0), expected)
    r = log_count_ratios(x, labels, alpha=1.0)
    assert r[0] > 0 > r[2] and r[1] == pytest.approx(0)  # positive, negative, neutral


def test_one_label_only_is_refused() -> None:
    x = scipy.sparse.csr_matrix(np.ones((2, 2)))
    with pytest.raises(ValueError, match="both labels"):
        log_count_ratios(x, np.array([1, 1]), alpha=1.0)


def test_interpolation_zero_keeps_only_the_mean_weight() -> None:
    texts, labels = reviews(40, seed=1)
    plain = fit_nbsvm(texts, labels, BaselineParams(**{**vars(CFG), "interpolation": 1.0}), 0)
    naive = fit_nbsvm(texts, labels, BaselineParams(**{**vars(CFG), "interpolation": 0.0}), 0)
    assert np.unique(naive.weights).size == 1
    assert naive.weights[0] == pytest.approx(np.abs(plain.weights).mean(), rel=1e-6)
    np.testing.assert_allclose(naive.ratios, plain.ratios)


def test_it_learns_the_sentiment_words_and_generalizes() -> None:
    texts, labels = reviews(100, seed=2)
    model = fit_nbsvm(texts, labels, CFG, seed=0)
    held_out, held_labels = reviews(100, seed=3)
    evaluation = score_nbsvm(model, held_out, held_labels)
    assert evaluation.metrics["accuracy"] >= 0.9
    assert 0 < evaluation.metrics["loss"] < 0.69  # logistic regression: probabilities
    assert sum(evaluation.confusion.values()) == len(held_out)
    assert model.decision(["wonderful superb"])[0] > 0 > model.decision(["awful dull"])[0]


@pytest.mark.parametrize(("classifier", "interpolation"), [("svm", 1.0), ("logistic", 0.25)])
def test_uncalibrated_scores_report_no_loss(classifier: str, interpolation: float) -> None:
    texts, labels = reviews(100, seed=2)
    cfg = BaselineParams(**{**vars(CFG), "classifier": classifier, "interpolation": interpolation})
    model = fit_nbsvm(texts, labels, cfg, seed=0)
    evaluation = score_nbsvm(model, *reviews(100, seed=3))
    assert evaluation.metrics["accuracy"] >= 0.9
    assert "loss" not in evaluation.metrics  # a margin or blended weights: no probabilities


def reviews(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = random.Random(seed)
    labels = np.array([i % 2 for i in range(n)])
    return [review_text(int(label), rng) for label in labels], labels
