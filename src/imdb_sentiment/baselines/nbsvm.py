"""NBSVM (Wang & Manning 2012): a linear classifier on naive-Bayes log-count-ratio features.

A review becomes the binarized bag of its word n-grams, x (1 where the n-gram occurs). With
p = alpha + the sum of x over the positive training reviews and q the same over the negative
ones, r = log((p / |p|_1) / (q / |q|_1)) weighs each n-gram by how much likelier it is in a
positive review; a linear SVM (the paper's) or logistic regression (Mesnil et al. 2014's
variant) learns on x * r (elementwise). Its weights may then be pulled toward their mean
magnitude, w' = (1 - beta) * mean|w| + beta * w, the paper's interpolation between the SVM
and naive Bayes. Words are the project's tokens (`tokenize`: lowercase, `<br />` tags
dropped), as the conv-LSTM sees them. Nothing here knows about MLflow or the pipeline's files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse
from scipy.special import expit
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from imdb_sentiment.config import BaselineParams
from imdb_sentiment.data.tokenizer import tokenize
from imdb_sentiment.modeling.metrics import Evaluation, compute_metrics


@dataclass(frozen=True)
class NBSVM:
    vectorizer: CountVectorizer  # text -> binarized n-gram counts (n, n_features)
    ratios: np.ndarray  # (n_features,) r, the log-count ratios
    weights: np.ndarray  # (n_features,) w', the interpolated classifier weights
    bias: float
    # Whether the logistic of the decision is a probability: logistic regression's own
    # weights. An SVM's margin, or interpolated weights, rank reviews but are not calibrated.
    calibrated: bool

    @property
    def n_features(self) -> int:
        return len(self.ratios)

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        """(n,) w' . (x * r) + b: positive means a positive review."""
        x = self.vectorizer.transform(texts)
        return np.asarray(x @ (self.ratios * self.weights)).ravel() + self.bias


def ngram_analyzer(ngram_min: int, ngram_max: int) -> Callable[[str], list[str]]:
    """Text -> its word n-grams of ngram_min..ngram_max tokens, words joined by a space."""

    def analyze(text: str) -> list[str]:
        tokens = tokenize(text)  # tokens hold no space: "a b" is only ever the bigram
        grams: list[str] = []
        for n in range(ngram_min, ngram_max + 1):
            grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        return grams

    return analyze


def log_count_ratios(x: scipy.sparse.csr_matrix, labels: np.ndarray, alpha: float) -> np.ndarray:
    """(n_features,) r = log((p / |p|_1) / (q / |q|_1)), p and q smoothed by `alpha`."""
    labels = np.asarray(labels)
    if set(np.unique(labels).tolist()) != {0, 1}:
        raise ValueError("NBSVM needs training reviews of both labels, 0 and 1")
    p = alpha + np.asarray(x[labels == 1].sum(axis=0), dtype=np.float64).ravel()
    q = alpha + np.asarray(x[labels == 0].sum(axis=0), dtype=np.float64).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


def fit_nbsvm(texts: Sequence[str], labels: np.ndarray, cfg: BaselineParams, seed: int) -> NBSVM:
    """Fit on `texts`; `seed` fixes the solver's order over the reviews (dual solvers)."""
    vectorizer = CountVectorizer(
        analyzer=ngram_analyzer(cfg.ngram_min, cfg.ngram_max), binary=True, dtype=np.float32
    )
    x = vectorizer.fit_transform(texts)  # (n, n_features) 0/1
    ratios = log_count_ratios(x, labels, cfg.alpha)
    features = (x @ scipy.sparse.diags(ratios.astype(np.float32))).tocsr()  # x * r
    classifier = _classifier(cfg, seed)
    classifier.fit(features, labels)
    w = classifier.coef_.ravel()
    beta = cfg.interpolation
    weights = (1 - beta) * np.abs(w).mean() + beta * w
    calibrated = cfg.classifier == "logistic" and beta == 1
    return NBSVM(vectorizer, ratios, weights, float(classifier.intercept_[0]), calibrated)


def _classifier(cfg: BaselineParams, seed: int) -> LogisticRegression | LinearSVC:
    if cfg.classifier == "logistic":
        # liblinear, as the paper's LIBLINEAR: the intercept is regularized like the weights.
        return LogisticRegression(
            C=cfg.c, solver="liblinear", max_iter=cfg.max_iter, random_state=seed
        )
    return LinearSVC(C=cfg.c, max_iter=cfg.max_iter, random_state=seed)


def score_nbsvm(model: NBSVM, texts: Sequence[str], labels: np.ndarray) -> Evaluation:
    """Accuracy, precision, recall, F1, ROC and PR AUC, the confusion counts, and the loss.

    The scores are the logistic of the decision, cut at 0.5 (a decision of 0). Only a
    calibrated model's are probabilities: otherwise no cross-entropy loss is reported.
    """
    evaluation = compute_metrics(labels, expit(model.decision(texts)), 0.5)
    metrics = {k: v for k, v in evaluation.metrics.items() if model.calibrated or k != "loss"}
    return Evaluation(metrics, evaluation.confusion, evaluation.roc, evaluation.pr)
