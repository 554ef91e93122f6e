"""Run plumbing: marking dead runs failed, params flattening, the run's page, epoch metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from imdb_sentiment.tracking.names import BACKUP_LOCK_TAG, BACKUP_STORE_TAG

log = logging.getLogger(__name__)


def fail_dead_runs(experiment_id: str, store_id: str, is_dead: Callable[[str], bool]) -> list[Any]:
    """Mark FAILED the RUNNING runs of backup store `store_id` whose process died.

    A process killed outright (SIGKILL, the OOM killer, a lost machine) never ends its MLflow
    run. `is_dead` gets a run's lock path. Returns the runs marked, as they were found.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    running = client.search_runs(
        [experiment_id],
        filter_string=(
            f"attributes.status = 'RUNNING' and tags.`{BACKUP_STORE_TAG}` = '{store_id}'"
        ),
    )
    dead = [run for run in running if is_dead(run.data.tags.get(BACKUP_LOCK_TAG, ""))]
    for run in dead:
        client.set_terminated(run.info.run_id, "FAILED")
        log.warning("MLflow run %s died without ending: marked FAILED", run.info.run_id)
    return dead


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def run_description(counts: Mapping[str, int]) -> str:
    """Markdown for the top of the run's page: what each metric measures, in which unit.

    MLflow has no field for units, and its charts label the x axis "Step" with ticks such as
    1.5, so the page says that steps are epochs. `counts` are reviews per split.
    """
    return (
        f"Trained on {counts['train']:,} reviews, validated after each epoch on"
        f" {counts['val']:,} held out of the training split; `evaluate` adds the `test_*`"
        f" metrics, on {counts['test']:,} test reviews.\n\n"
        "- step = epoch (1 = after the first epoch) for `loss`, `accuracy`, `val_*` and"
        " `epoch_seconds`; every other metric is logged once, at step 0\n"
        "- `loss`, `val_loss`, `test_loss`: binary cross-entropy, nats per review\n"
        "- `accuracy`, `val_accuracy` and `test_accuracy`, `_precision`, `_recall`, `_f1`,"
        " `_roc_auc`, `_pr_auc`: fractions from 0 to 1\n"
        "- `test_tn`, `test_fp`, `test_fn`, `test_tp`: numbers of test reviews, at"
        " `evaluate.threshold`\n"
        "- `epoch_seconds`, `fit_seconds`: wall-clock seconds\n"
    )


def epoch_logger() -> Any:
    """A Keras callback that logs each epoch's metrics to the active run with step = epoch."""
    import keras
    import mlflow

    class EpochMetrics(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            mlflow.log_metrics({k: float(v) for k, v in (logs or {}).items()}, step=epoch + 1)

    return EpochMetrics()
