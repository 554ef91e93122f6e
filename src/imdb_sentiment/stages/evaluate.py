"""Score a saved model on held-out data and attach the results to its MLflow run."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import keras
import mlflow

from imdb_sentiment.config import EvaluateParams
from imdb_sentiment.files import load_split, write_json
from imdb_sentiment.modeling.metrics import Evaluation, compute_metrics, plot_curves
from imdb_sentiment.registry.text_model import log_text_model
from imdb_sentiment.tracking.lineage import lineage_tags
from imdb_sentiment.tracking.store import setup_experiment, tracking_uri

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scored:
    evaluation: Evaluation
    text_model_uri: str  # the raw-text model logged with the run


def evaluate_and_log(
    model_path: Path,
    test_path: Path,
    run_id: str,
    cfg: EvaluateParams,
    plots_dir: Path,
    vocab: Path,
    lineage: list[Path],
) -> Scored:
    """Score the model on the test split and log the results and the raw-text model.

    The raw-text model is logged here, not in `train`, because the decision threshold it
    answers with is `evaluate.threshold`: what is served is what was evaluated. `lineage`
    files get their md5 tagged on the run (see `lineage_tags`).
    """
    x, y = load_split(test_path)
    model = keras.saving.load_model(model_path)
    proba = model.predict(x, batch_size=cfg.batch_size, verbose=0).ravel()
    evaluation = compute_metrics(y, proba, cfg.threshold)
    images = plot_curves(evaluation, plots_dir)

    setup_experiment(tracking_uri())
    # Reopen the training run so one run holds params, learning curves and test results.
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({f"test_{k}": v for k, v in evaluation.metrics.items()})
        mlflow.log_metrics({f"test_{k}": float(v) for k, v in evaluation.confusion.items()})
        for path in images.values():
            mlflow.log_artifact(str(path), artifact_path="evaluation")
        with tempfile.TemporaryDirectory() as tmp:
            for name, points in (("roc", evaluation.roc), ("pr", evaluation.pr)):
                write_json(Path(tmp) / f"{name}.json", points)
            mlflow.log_artifacts(tmp, artifact_path="evaluation")
        with tempfile.TemporaryDirectory() as tmp:
            info = log_text_model(model_path, vocab, x.shape[1], cfg.threshold, Path(tmp))
        mlflow.set_tags(lineage_tags([*lineage, model_path, test_path]))
    log.info("raw-text model %s", info.model_uri)
    return Scored(evaluation, info.model_uri)
