"""The MLflow store as a value: where runs go, and every write the pipeline makes to a run.

The tracking URI is resolved once, where a process starts (`tracking_uri`), and travels as a
`TrackingStore`; nothing here relies on MLflow's process-global URI. The few MLflow calls
that take no client (logging a model, registering, loading) run inside `fluent_uri`, which
points the global at the store for the call and then restores it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imdb_sentiment.checkout import project_root
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.redact import redact_urls
from imdb_sentiment.tracking.names import EXPERIMENT
from imdb_sentiment.tracking.store_file import check_store_file

if TYPE_CHECKING:
    import keras
    import numpy as np
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
_MAX_PER_BATCH = 100  # MLflow refuses more params or tags than this in one log_batch
# Seconds between samples; MLflow's 10 s would miss a 2-epoch GPU fit (about 8 s).
SYSTEM_METRICS_INTERVAL_S = 2.0  # MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL overrides it


class TrackingStoreError(PipelineError):
    """The store refused a request or could not be read."""


@dataclass(frozen=True)
class TrackingStore:
    """One MLflow store and the pipeline's experiment in it."""

    uri: str  # the real URI, credentials included: print `printable_uri(uri)` instead
    client: MlflowClient  # tracking and registry both at `uri`
    experiment_id: str


def tracking_uri(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> str:
    """MLFLOW_TRACKING_URI if set, else an absolute sqlite store at the project root.

    Entry points only (a stage's `main`, a CLI command): the library gets the value.
    """
    env = os.environ if environ is None else environ
    if env.get(TRACKING_URI_ENV):
        return env[TRACKING_URI_ENV]
    return f"sqlite:///{project_root(cwd) / 'mlflow.db'}"


def connect(uri: str, cwd: Path | None = None) -> TrackingStore:
    """The store at `uri`, with the pipeline's experiment, created on first use."""
    store = find_store(uri)
    if store is not None:
        return store
    location = None
    if uri.startswith("sqlite:///"):
        # MLflow's default (./mlruns) follows the cwd: a temp-copy run would lose its artifacts.
        # They go beside the database instead, so a store is one folder, wherever it is.
        database = project_root(cwd) / uri.removeprefix("sqlite:///")  # absolute stays as is
        location = (database.parent / "mlartifacts").as_uri()
    client = _client(uri)
    experiment_id = client.create_experiment(EXPERIMENT, artifact_location=location)
    return TrackingStore(uri, client, experiment_id)


def find_store(uri: str) -> TrackingStore | None:
    """The store at `uri` if it has the pipeline's experiment, else None: creates nothing."""
    client = _client(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return None if experiment is None else TrackingStore(uri, client, experiment.experiment_id)


def _client(uri: str) -> MlflowClient:
    from mlflow import MlflowClient

    check_store_file(uri)  # MLflow would empty a 0-byte store, or trace back on a damaged one
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """MLflow's refusals inside the block, as one-line `TrackingStoreError`s."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        raise TrackingStoreError(exc.message) from exc


@contextlib.contextmanager
def tracked_run(store: TrackingStore, tags: Mapping[str, str]) -> Iterator[str]:
    """A new run with `tags`; yields its id. FINISHED on success, FAILED on any exception.

    The run gets the tags `mlflow.start_run` would add too (user, source, git commit), which
    the given `tags` override.
    """
    from mlflow.tracking.context.registry import resolve_tags

    resolved = {key: redact_urls(str(value)) for key, value in resolve_tags(dict(tags)).items()}
    run = store.client.create_run(store.experiment_id, tags=resolved)
    with _ending(store, run.info.run_id):
        yield run.info.run_id


@contextlib.contextmanager
def system_metrics(store: TrackingStore, run_id: str) -> Iterator[None]:
    """`run_id`'s `system/*` metrics while the block runs: CPU, memory, disk, network, GPUs.

    A thread samples the machine's counters (GPUs through nvidia-ml-py), never the training's
    state, until the block ends, however it ends, or the run stops RUNNING.
    """
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    interval = SYSTEM_METRICS_INTERVAL_S
    monitor = SystemMetricsMonitor(run_id, sampling_interval=interval, tracking_uri=store.uri)
    monitor.start()
    try:
        yield
    finally:
        monitor.finish()


@contextlib.contextmanager
def reopened_run(store: TrackingStore, run_id: str) -> Iterator[str]:
    """An ended run RUNNING again for the block, then FINISHED, or FAILED on an exception."""
    store.client.update_run(run_id, status="RUNNING")
    with _ending(store, run_id):
        yield run_id


@contextlib.contextmanager
def _ending(store: TrackingStore, run_id: str) -> Iterator[None]:
    try:
        yield
    except BaseException:  # a KeyboardInterrupt too: as mlflow.start_run's block does
        store.client.set_terminated(run_id, "FAILED")
        raise
    store.client.set_terminated(run_id, "FINISHED")


def log_params(store: TrackingStore, run_id: str, params: Mapping[str, Any]) -> None:
    """Each value as str(value), in the mapping's order (the run page lists them so).

    A URL in a value is redacted (`redact_urls`): a store is often more widely read than
    the machine that trained.
    """
    from mlflow.entities import Param

    entries = [Param(key, redact_urls(str(value))) for key, value in params.items()]
    for start in range(0, len(entries), _MAX_PER_BATCH):
        store.client.log_batch(run_id, params=entries[start : start + _MAX_PER_BATCH])


def log_metrics(
    store: TrackingStore, run_id: str, metrics: Mapping[str, float], step: int = 0
) -> None:
    from mlflow.entities import Metric
    from mlflow.utils.time import get_current_time_millis

    now = get_current_time_millis()
    entries = [Metric(key, float(value), now, step) for key, value in metrics.items()]
    for start in range(0, len(entries), _MAX_PER_BATCH):
        store.client.log_batch(run_id, metrics=entries[start : start + _MAX_PER_BATCH])


def set_tags(store: TrackingStore, run_id: str, tags: Mapping[str, str]) -> None:
    from mlflow.entities import RunTag

    entries = [RunTag(key, redact_urls(str(value))) for key, value in tags.items()]
    for start in range(0, len(entries), _MAX_PER_BATCH):
        store.client.log_batch(run_id, tags=entries[start : start + _MAX_PER_BATCH])


def log_artifact(
    store: TrackingStore, run_id: str, path: Path, artifact_path: str | None = None
) -> None:
    """A file, or a directory's contents, under `artifact_path` in the run's artifacts."""
    if Path(path).is_dir():
        store.client.log_artifacts(run_id, str(path), artifact_path)
    else:
        store.client.log_artifact(run_id, str(path), artifact_path)


def log_keras_model(
    store: TrackingStore,
    run_id: str,
    model: keras.Model,
    sample_input: np.ndarray,
    pip_requirements: list[str],
) -> str:
    """Log `model` as the run's `model`; returns its model URI.

    The signature is inferred from `sample_input` and zeros shaped and typed like the model's
    output for as many rows: all a signature records. Predicting instead would need the rows
    to split evenly over a JAX mesh, and JAX cannot bring a prediction spread over several
    processes back to one. Like `mlflow.start_run`, this ends the run (FINISHED, or FAILED
    on an exception): log the model last; `tracked_run` still ends it as it should.
    """
    import mlflow
    import numpy as np
    from mlflow.models import infer_signature

    output = np.zeros((len(sample_input), *model.output.shape[1:]), dtype=model.output.dtype)
    with fluent_run(store, run_id):
        info = mlflow.keras.log_model(
            model,
            name="model",
            signature=infer_signature(sample_input, output),
            pip_requirements=pip_requirements,
        )
    return str(info.model_uri)


@contextlib.contextmanager
def fluent_uri(uri: str) -> Iterator[None]:
    """MLflow's global tracking URI at `uri` for the block, for calls that take no client.

    Afterwards the global is unset and MLFLOW_TRACKING_URI as it was, so MLflow resolves
    the URI as before (setting the global also sets that variable for subprocesses).
    """
    import mlflow

    check_store_file(uri)
    env_before = os.environ.get(TRACKING_URI_ENV)
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(None)
        if env_before is not None:
            os.environ[TRACKING_URI_ENV] = env_before


@contextlib.contextmanager
def fluent_run(store: TrackingStore, run_id: str) -> Iterator[None]:
    """`run_id` as MLflow's active run on `store`, for fluent calls that log into a run.

    The run ends with the block, FINISHED or FAILED, as `mlflow.start_run`'s block ends it.
    No monitor of its own: `system_metrics` samples the run, and two would log twice.
    """
    import mlflow

    with fluent_uri(store.uri), mlflow.start_run(run_id=run_id, log_system_metrics=False):
        yield


def run_experiment_id(uri: str, run_id: str) -> str:
    """The id of the experiment that run `run_id` of the store at `uri` belongs to."""
    with store_errors():
        return str(_client(uri).get_run(run_id).info.experiment_id)


def server_request_options(uri: str) -> dict[str, Any]:
    """`requests` keyword arguments carrying MLflow's own credentials for the server `uri`.

    MLFLOW_TRACKING_USERNAME/PASSWORD or _TOKEN, ~/.mlflow/credentials, the TLS settings.
    """
    from mlflow.utils.credentials import get_default_host_creds

    creds = get_default_host_creds(uri)
    options: dict[str, Any] = {"verify": creds.verify, "cert": creds.client_cert_path}
    if creds.username and creds.password:
        options["auth"] = (creds.username, creds.password)
    elif creds.token:
        options["headers"] = {"Authorization": f"Bearer {creds.token}"}
    return options
