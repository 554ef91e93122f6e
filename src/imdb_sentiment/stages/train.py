"""Stage `train`, step by step: prepared data in, a fitted model and a complete MLflow run out.

The generic pieces meet here: prepared arrays, the model, the fit loop, the crash-safe backup
and the tracking store. `pipeline/train.py` calls `set_up_training`, connects to the store
only once the model is built (a model that cannot be built leaves no run behind), then calls
`train_and_log`; tests call each step on tiny data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from imdb_sentiment.config import FitParams, PipelineParams, TrainParams
from imdb_sentiment.data.prepared import META_FILE, VOCAB_FILE, load_split, read_meta, split_path
from imdb_sentiment.data.source import Source
from imdb_sentiment.modeling.checkpoint import TrainingBackup, backup_store_id
from imdb_sentiment.modeling.distribution import (
    Replicas,
    local_fit_params,
    shard_split,
    start_replicas,
)
from imdb_sentiment.modeling.fit import FitResult
from imdb_sentiment.modeling.model import build_model, compile_model
from imdb_sentiment.modeling.runtime import (
    apply_runtime,
    backend_requirements,
    device_kind,
    runtime_tags,
)
from imdb_sentiment.stages.train_fit import fit_logged, fit_members, log_fit_summary
from imdb_sentiment.stages.train_resume import ResumePoint, find_resume_point, open_backup
from imdb_sentiment.tracking.datasets import log_split_datasets
from imdb_sentiment.tracking.lineage import run_tags
from imdb_sentiment.tracking.names import DEVICE_TAG
from imdb_sentiment.tracking.preflight import printable_uri
from imdb_sentiment.tracking.runs import run_description
from imdb_sentiment.tracking.store import (
    TrackingStore,
    log_artifact,
    log_keras_model,
    log_params,
    system_metrics,
    tracked_run,
)
from imdb_sentiment.typed_mapping import flatten_dataclass

log = logging.getLogger(__name__)

_RUN_NOTE_TAG = "mlflow.note.content"  # MLflow shows it as the run's description

Split = tuple[np.ndarray, np.ndarray]  # token ids (n, maxlen), labels (n,)


@dataclass(frozen=True)
class TrainingData:
    """This process's rows of the train and val splits, and prepare's facts about them."""

    prepared: Path
    meta: dict[str, Any]
    train: Split
    val: Split

    @property
    def inputs(self) -> dict[str, Path]:
        """The split files the model learns from: their md5s tag the run."""
        return {name: split_path(self.prepared, name) for name in ("train", "val")}

    @property
    def files(self) -> dict[str, Path]:
        """Every prepared file whose bytes shape the run: part of the backup key."""
        return {**self.inputs, "meta": self.prepared / META_FILE}


@dataclass(frozen=True)
class TrainingSetup:
    """What a run needs, ready before MLflow is touched."""

    params: PipelineParams
    replicas: Replicas
    data: TrainingData
    fit: FitParams  # as this process passes it to Keras (see `local_fit_params`)
    model: keras.Model  # built and compiled; an ensemble's first member


@dataclass(frozen=True)
class TrainOutcome:
    run_id: str
    tracking_uri: str
    summary: dict[str, float]  # the saved epoch's metrics and timings, for DVC metrics
    history: list[dict[str, float]]  # per-epoch rows, for DVC plots


def set_up_training(params: PipelineParams, prepared: Path) -> TrainingSetup:
    """Runtime, replicas, data and the compiled model, in the order each needs the last."""
    cfg = params.train
    meta = read_meta(prepared)
    apply_runtime(cfg.runtime)  # the dtype policy must be set before layers are built
    replicas = start_replicas(cfg.distribution)  # before the backend's first op
    data = load_training_data(prepared, meta, replicas)
    fit = local_fit_params(replicas, cfg.fit)
    model = build_compiled_model(cfg, meta, replicas, cfg.effective_seed(params.base.seed))
    return TrainingSetup(params, replicas, data, fit, model)


def load_training_data(prepared: Path, meta: dict[str, Any], replicas: Replicas) -> TrainingData:
    """This process's rows of prepare's train and val splits (all of them on one device)."""
    train = shard_split(replicas, load_split(split_path(prepared, "train")))
    val = shard_split(replicas, load_split(split_path(prepared, "val")))
    return TrainingData(prepared, meta, train, val)


def build_compiled_model(
    cfg: TrainParams, meta: dict[str, Any], replicas: Replicas, seed: int, name: str = "conv_lstm"
) -> keras.Model:
    """The model with weights drawn from `seed`, compiled in the replicas' scope."""
    keras.utils.set_random_seed(seed)
    with replicas.scope():
        model = build_model(cfg.model, meta["max_features"], meta["maxlen"], name)
        compile_model(model, cfg.fit, cfg.runtime, meta["counts"]["train"])
    return model


def training_tags(setup: TrainingSetup, resume: ResumePoint) -> dict[str, str]:
    """The run's tags: lineage, backend (versions, devices), description, worker, resume."""
    return {
        **run_tags(setup.data.inputs),
        **runtime_tags(),
        DEVICE_TAG: device_kind(),
        _RUN_NOTE_TAG: run_description(setup.data.meta["counts"]),
        "distribution.worker_index": str(setup.replicas.worker_index),
        **resume.tags(),
    }


def log_training_inputs(
    store: TrackingStore,
    run_id: str,
    setup: TrainingSetup,
    data_reports: list[Path],
    source: Source | None = None,
) -> None:
    """Params, data facts and datasets, vocabulary, validate's reports, replicas, into the run.

    `source` is what download really read (IMDB_URL/IMDB_SHA256 override params.yaml).
    """
    # The run page lists params in logging order, ~15 in view: `train.*` first, not below
    # `validate`'s thresholds, or the ones that tell runs apart look missing.
    flat = flatten_dataclass(setup.params)
    # The seed training drew from, not params.yaml's null: runs of several seeds tell apart.
    flat["train.seed"] = setup.params.train.effective_seed(setup.params.base.seed)
    log_params(store, run_id, {**{k: v for k, v in flat.items() if k.startswith("train.")}, **flat})
    meta = setup.data.meta
    counts = {f"data.n_{name}": count for name, count in meta["counts"].items()}
    log_params(store, run_id, {"data.vocab_size": meta["vocab_size"], **counts})
    log_split_datasets(store, run_id, setup.data.inputs)  # the run page's Datasets
    if source is not None:
        effective = {"download.effective_url": source.location}
        log_params(store, run_id, {**effective, "download.effective_sha256": source.sha256})
    for name in (VOCAB_FILE, META_FILE):
        log_artifact(store, run_id, setup.data.prepared / name, "data")
    for report in data_reports:
        folder = f"validation/{report.name}" if report.is_dir() else "validation"
        log_artifact(store, run_id, report, folder)
    log_params(store, run_id, setup.replicas.tracking_params())


def fit_and_log(
    store: TrackingStore, run_id: str, setup: TrainingSetup, backup: TrainingBackup
) -> FitResult:
    """Fit, resuming `backup`, each epoch logged as it ends; then the run's summary metrics."""
    result = fit_logged(store, run_id, setup, setup.model, backup)
    log_fit_summary(store, run_id, result)
    return result


def save_and_log_model(
    store: TrackingStore,
    run_id: str,
    setup: TrainingSetup,
    model_path: Path,
    model: keras.Model | None = None,
) -> str:
    """The .keras file for DVC, then the same model into the run (which ends it); its URI.

    `model` (an ensemble) replaces `setup.model`. `model_path` is written in place: the
    train stage passes a staged temporary path.
    """
    model = setup.model if model is None else model
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(model_path)
    sample = setup.data.val[0][:8]
    return log_keras_model(store, run_id, model, sample, backend_requirements())


def train_summary(result: FitResult) -> dict[str, float]:
    """DVC's train metrics: the kept epoch's figures, how many epochs ran, how long."""
    kept = result.model_row
    return {
        "train_loss": kept["loss"],
        "train_accuracy": kept["accuracy"],
        "val_loss": kept["val_loss"],
        "val_accuracy": kept["val_accuracy"],
        "epochs": len(result.history),
        "model_epoch": result.model_epoch,
        "fit_seconds": result.fit_seconds,
    }


def history_rows(result: FitResult) -> list[dict[str, float]]:
    """DVC's plot data: one row per epoch, numbered from 1, restored epochs included."""
    return [{"epoch": i + 1, **row} for i, row in enumerate(result.history)]


def run_record(outcome: TrainOutcome, backend: str, default_uri: str) -> dict[str, str]:
    """models/run.json, a committed file: the run, the backend, and the store if not default.

    The checkout's own store (`default_uri`) goes unrecorded: its absolute path differs on
    every machine. Another store is recorded without credentials.
    """
    record = {"run_id": outcome.run_id, "backend": backend}
    if outcome.tracking_uri != default_uri:
        record["tracking_uri"] = printable_uri(outcome.tracking_uri)
    return record


def train_and_log(
    setup: TrainingSetup,
    store: TrackingStore,
    model_path: Path,
    data_reports: list[Path] | None = None,
    source: Source | None = None,
) -> TrainOutcome:
    """Fit on the train split, validate on val, save the model, and log it all to `store`.

    `data_reports` (validation results, drift, Data Docs: files or directories) are logged
    under `validation/`, so a run shows what was checked about the data it learned from;
    `source`, the archive download read, as `download.effective_*` params.

    Meanwhile MLflow samples the machine (CPU, memory, disk, network, GPUs) into the run.

    Each epoch is backed up outside DVC's outputs; a run killed midway is resumed by the next
    run with the same key (see `backup_key`), which first marks the dead run FAILED. The new
    run logs every epoch, the restored ones included, so it stands alone. The backup is
    deleted once the model is saved and logged, or when training diverges.
    """
    backup = open_backup(setup.params, setup.data.files, setup.replicas)
    store_id = backup_store_id(backup.directory.parent)
    with backup.lock():
        resume = find_resume_point(store, backup, store_id, setup.replicas)
        with (
            tracked_run(store, training_tags(setup, resume)) as run_id,
            system_metrics(store, run_id),
        ):
            log_training_inputs(store, run_id, setup, data_reports or [], source)
            if setup.params.train.members > 1:
                result, model = fit_members(store, run_id, setup, backup)
            else:
                result, model = fit_and_log(store, run_id, setup, backup), setup.model
            save_and_log_model(store, run_id, setup, model_path, model)
        # Only now is the work safe elsewhere: a crash before this resumes from the last epoch.
        backup.delete()
    log.info("MLflow run %s in %s", run_id, printable_uri(store.uri))
    return TrainOutcome(run_id, store.uri, train_summary(result), history_rows(result))
