"""The evaluate stage: score the saved model on the test split and attach it all to its run."""

from __future__ import annotations

import gc
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from imdb_sentiment.config import EvaluateParams, ServeParams
from imdb_sentiment.data.prepared import load_split
from imdb_sentiment.files import write_json
from imdb_sentiment.modeling.metrics import Evaluation, compute_metrics, plot_curves
from imdb_sentiment.modeling.model import load_model
from imdb_sentiment.registry.text_model import TextModelFiles, log_text_model
from imdb_sentiment.stages.evaluate_checks import (
    CheckInputs,
    ModelChecks,
    log_model_checks,
    run_model_checks,
)
from imdb_sentiment.tracking.datasets import (
    DatasetRef,
    log_linked_metrics,
    log_split_datasets,
    model_id_of,
)
from imdb_sentiment.tracking.lineage import lineage_tags
from imdb_sentiment.tracking.store import (
    TrackingStore,
    connect,
    log_artifact,
    reopened_run,
    set_tags,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scored:
    evaluation: Evaluation
    text_model_uri: str  # the raw-text model logged with the run
    checks: ModelChecks  # accuracy per slice, behaviour pass rates


def evaluate_and_log(
    uri: str,
    model_path: Path,
    test_path: Path,
    run_id: str,
    cfg: EvaluateParams,
    serve: ServeParams,
    plots_dir: Path,
    vocab: Path,
    lineage: list[Path],
    reviews: Path,
) -> Scored:
    """Score the model on the test split; log the results and the raw-text model to `run_id`.

    The raw-text model is logged here, not in `train`, because the decision threshold it
    answers with is `evaluate.threshold`: what is served is what was evaluated. It refuses
    requests larger than `serve` allows. `lineage` files get their md5 tagged on the run
    (see `lineage_tags`). `uri` is the MLflow store. `reviews` (download's table) gives the
    test reviews' text and rating for the slices.
    """
    inputs = CheckInputs(reviews, test_path, vocab)
    scores = score_model(model_path, inputs, cfg, plots_dir)
    evaluation, checks = scores.evaluation, scores.checks
    # The model and the test rows are gone by now: logging loads the model once more (MLflow
    # checks its input example), and two copies of a 3-member ensemble were what the OOM
    # killer ended. Keras models sit in reference cycles: only the collector frees them.
    gc.collect()

    store = connect(uri)
    files = TextModelFiles(model_path, vocab, scores.maxlen, cfg.threshold, serve)
    # Reopen the training run so one run holds params, learning curves and test results.
    with reopened_run(store, run_id):
        test_set = log_split_datasets(store, run_id, {"test": test_path})["test"]
        set_tags(store, run_id, lineage_tags([*lineage, model_path, test_path]))
        with tempfile.TemporaryDirectory() as tmp:
            text_model_uri = log_text_model(store, run_id, files, Path(tmp))
        # After the model: its test metrics then name the test set, which MLflow drops from
        # the metrics a run already had when it copies them to a model being logged.
        model_id = model_id_of(text_model_uri)
        log_evaluation(store, run_id, evaluation, scores.images, test_set, model_id)
        log_model_checks(store, run_id, checks)
    log.info("raw-text model %s", text_model_uri)
    return Scored(evaluation, text_model_uri, checks)


@dataclass(frozen=True)
class ModelScores:
    evaluation: Evaluation
    images: list[Path]  # the ROC and PR curves
    checks: ModelChecks
    maxlen: int  # the row length the model takes


def score_model(
    model_path: Path, inputs: CheckInputs, cfg: EvaluateParams, plots_dir: Path
) -> ModelScores:
    """Test metrics, curves, slices and behaviour checks; the model is freed on return."""
    x, y = load_split(inputs.test)
    model = load_model(model_path)
    proba = model.predict(x, batch_size=cfg.batch_size, verbose=0).ravel()
    evaluation = compute_metrics(y, proba, cfg.threshold)
    images = plot_curves(evaluation, plots_dir)
    checks = run_model_checks(model, proba, x.shape[1], inputs, cfg)
    return ModelScores(evaluation, list(images.values()), checks, x.shape[1])


def log_evaluation(
    store: TrackingStore,
    run_id: str,
    evaluation: Evaluation,
    images: list[Path],
    test_set: DatasetRef,
    model_id: str,
) -> None:
    """The `test_*` metrics, as `model_id`'s on `test_set`; the curves under `evaluation/`."""
    metrics = {f"test_{k}": float(v) for k, v in evaluation.metrics.items()}
    metrics.update({f"test_{k}": float(v) for k, v in evaluation.confusion.items()})
    log_linked_metrics(store, run_id, metrics, test_set, model_id)
    for path in images:
        log_artifact(store, run_id, path, "evaluation")
    with tempfile.TemporaryDirectory() as tmp:
        for name, points in (("roc", evaluation.roc), ("pr", evaluation.pr)):
            write_json(Path(tmp) / f"{name}.json", points)
        log_artifact(store, run_id, Path(tmp), "evaluation")
