"""Stage `baseline`: NBSVM on prepare's splits, logged as a reference run, never promoted.

The baseline learns from the whole texts of the same train reviews the conv-LSTM learns
from, and is scored on the same validation and test reviews, so the MLflow experiment
compares the two on equal terms. Its run carries `REFERENCE_TAG`: the experiments report
shows it as a reference line, never as a candidate, and no stage registers it.
"""

from __future__ import annotations

import logging
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imdb_sentiment.baselines.nbsvm import fit_nbsvm, score_nbsvm
from imdb_sentiment.config import BaselineParams
from imdb_sentiment.data.prepared import read_meta, split_path
from imdb_sentiment.data.split_reviews import load_split_texts
from imdb_sentiment.modeling.metrics import Evaluation
from imdb_sentiment.tracking.lineage import run_tags
from imdb_sentiment.tracking.names import MODEL_FAMILY_TAG, REFERENCE_TAG
from imdb_sentiment.tracking.store import connect, log_metrics, log_params, tracked_run
from imdb_sentiment.typed_mapping import flatten_dataclass

log = logging.getLogger(__name__)

MODEL_FAMILY = "nbsvm"
SPLITS = ("train", "val", "test")
_RUN_NOTE_TAG = "mlflow.note.content"  # MLflow shows it as the run's description


@dataclass(frozen=True)
class BaselineOutcome:
    run_id: str
    val: Evaluation
    test: Evaluation
    n_features: int
    fit_seconds: float  # n-gram counting, ratios and the SVM, on the train split
    peak_memory_mb: float  # this process's peak resident memory so far

    def summary(self) -> dict[str, float]:
        """The run's metrics, named as the conv-LSTM's (`val_accuracy`, `test_accuracy`)."""
        return {
            **{f"val_{k}": v for k, v in self.val.metrics.items()},
            **{f"test_{k}": v for k, v in self.test.metrics.items()},
            **{f"test_{k}": float(v) for k, v in self.test.confusion.items()},
            "n_features": float(self.n_features),
            "fit_seconds": self.fit_seconds,
            "peak_memory_mb": self.peak_memory_mb,
        }

    def report(self) -> dict[str, Any]:
        """reports/baseline.json, a DVC metrics file."""
        return {
            "val": self.val.metrics,
            "test": {**self.test.metrics, **self.test.confusion},
            "n_features": self.n_features,
            "fit_seconds": round(self.fit_seconds, 2),
            "peak_memory_mb": round(self.peak_memory_mb, 1),
        }


def run_baseline(
    uri: str, reviews: Path, prepared: Path, cfg: BaselineParams, seed: int
) -> BaselineOutcome:
    """Fit NBSVM on the train split's texts, score val and test, log a reference run to `uri`."""
    texts = load_split_texts(reviews, prepared, SPLITS)
    meta = read_meta(prepared)
    start = time.perf_counter()
    model = fit_nbsvm(texts["train"].texts, texts["train"].labels, cfg, seed)
    fit_seconds = time.perf_counter() - start
    val = score_nbsvm(model, texts["val"].texts, texts["val"].labels)
    test = score_nbsvm(model, texts["test"].texts, texts["test"].labels)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    store = connect(uri)
    tags = baseline_tags(prepared, meta)
    with tracked_run(store, tags) as run_id:
        log_params(store, run_id, baseline_params(cfg, seed, meta, model.n_features))
        outcome = BaselineOutcome(run_id, val, test, model.n_features, fit_seconds, peak)
        log_metrics(store, run_id, outcome.summary())
    log.info(
        "NBSVM: val accuracy %.4f, test accuracy %.4f, %d n-grams, fit %.0f s; run %s",
        val.metrics["accuracy"],
        test.metrics["accuracy"],
        model.n_features,
        fit_seconds,
        run_id,
    )
    return outcome


def baseline_params(
    cfg: BaselineParams, seed: int, meta: dict[str, Any], n_features: int
) -> dict[str, Any]:
    """The baseline's settings, and the facts that say which validation reviews scored it.

    `prepare.val_fraction` and `prepare.max_reviews_per_split` come from meta.json, as prepare
    used them, under the names the conv-LSTM's runs log them by.
    """
    return {
        **flatten_dataclass(cfg, "baseline."),
        "base.seed": seed,
        "prepare.val_fraction": meta["val_fraction"],
        "prepare.max_reviews_per_split": meta["max_reviews_per_split"],
        **{f"data.n_{name}": count for name, count in meta["counts"].items()},
        "baseline.n_features": n_features,
    }


def baseline_tags(prepared: Path, meta: dict[str, Any]) -> dict[str, str]:
    """Lineage as a training run's, the reference marks, and a description for the run page."""
    tags = run_tags({name: split_path(prepared, name) for name in SPLITS})
    counts = meta["counts"]
    return {
        **tags,
        "mlflow.runName": f"{MODEL_FAMILY}-{tags['mlflow.runName']}",
        REFERENCE_TAG: "true",
        MODEL_FAMILY_TAG: MODEL_FAMILY,
        _RUN_NOTE_TAG: (
            "Reference baseline, never registered or promoted: NBSVM (Wang & Manning 2012), "
            "word n-grams weighted by their log-count ratios and a linear classifier "
            f"(`baseline.*` params), trained on the full texts of the {counts['train']:,} "
            f"train reviews the conv-LSTM learns from; `val_*` on its {counts['val']:,} "
            f"validation reviews, `test_*` on the {counts['test']:,} test reviews. "
            "`val_loss`/`test_loss` only where the scores are probabilities (logistic "
            "regression, no interpolation)."
        ),
    }
