"""NBSVM (Wang & Manning 2012): a linear SVM on naive-Bayes log-count-ratio features.

A review becomes the binarized bag of its word n-grams, x (1 where the n-gram occurs). With
p = alpha + the sum of x over the positive training reviews and q the same over the negative
ones, r = log((p / |p|_1) / (q / |q|_1)) weighs each n-gram by how much likelier it is in a
positive review; the SVM learns on x * r (elementwise). Its weights are then pulled toward
their mean magnitude, w' = (1 - beta) * mean|w| + beta * w, an interpolation between the SVM
and naive Bayes that the paper found steadier on long reviews. Words are the project's
tokens (`tokenize`: lowercase, `<br />` tags dropped), as the conv-LSTM sees them. Nothing
here knows about MLflow or the pipeline's files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse
from scipy.special import expit
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.svm import LinearSVC

from imdb_sentiment.config import BaselineParams
from imdb_sentiment.data.tokenizer import tokenize
from imdb_sentiment.modeling.metrics import Evaluation, compute_metrics


@dataclass(frozen=True)
class NBSVM:
    vectorizer: CountVectorizer  # text -> binarized n-gram counts (n, n_features)
    ratios: np.ndarray  # (n_features,) r, the log-count ratios
    weights: np.ndarray  # (n_features,) w', the interpolated SVM weights
    bias: float

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
    """Fit on `texts`; `seed` fixes the SVM solver's order over the reviews."""
    vectorizer = CountVectorizer(
        analyzer=ngram_analyzer(cfg.ngram_min, cfg.ngram_max), binary=True, dtype=np.float32
    )
    x = vectorizer.fit_transform(texts)  # (n, n_features) 0/1
    ratios = log_count_ratios(x, labels, cfg.alpha)
    features = (x @ scipy.sparse.diags(ratios.astype(np.float32))).tocsr()  # x * r
    svm = LinearSVC(C=cfg.svm_c, max_iter=cfg.max_iter, random_state=seed)
    svm.fit(features, labels)
    w = svm.coef_.ravel()
    beta = cfg.interpolation
    weights = (1 - beta) * np.abs(w).mean() + beta * w
    return NBSVM(vectorizer, ratios, weights, float(svm.intercept_[0]))


def score_nbsvm(model: NBSVM, texts: Sequence[str], labels: np.ndarray) -> Evaluation:
    """Accuracy, precision, recall, F1, ROC and PR AUC, and the confusion counts.

    The scores are the logistic of the margin: ranked as the margins (the AUCs hold) and cut
    at 0.5 where the margin is 0, but no calibrated probability, so no loss is reported.
    """
    evaluation = compute_metrics(labels, expit(model.decision(texts)), 0.5)
    metrics = {k: v for k, v in evaluation.metrics.items() if k != "loss"}
    return Evaluation(metrics, evaluation.confusion, evaluation.roc, evaluation.pr)
