"""What a run shows and how it ends: params flattened to dotted keys, the run page's
description, per-epoch metrics, dead runs marked FAILED, a run read back."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imdb_sentiment.tracking.names import BACKUP_LOCK_TAG, BACKUP_STORE_TAG
from imdb_sentiment.tracking.store import TrackingStore, log_metrics, store_errors

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)


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


def epoch_logger(store: TrackingStore, run_id: str, prefix: str = "") -> keras.callbacks.Callback:
    """A Keras callback that logs each epoch's logs to `run_id` with step = epoch + 1.

    `prefix` goes before each name (`member_2/`: MLflow's UI groups an ensemble's members).
    """
    import keras

    class EpochMetrics(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            row = {prefix + k: float(v) for k, v in (logs or {}).items()}
            log_metrics(store, run_id, row, epoch + 1)

    return EpochMetrics()


def fail_dead_runs(
    store: TrackingStore, store_id: str, is_dead: Callable[[str], bool]
) -> list[Any]:
    """Mark FAILED the RUNNING runs of backup store `store_id` whose process died.

    A process killed outright (SIGKILL, the OOM killer, a lost machine) never ends its MLflow
    run. `is_dead` gets a run's lock path. Returns the runs marked, as they were found.
    """
    where = f"attributes.status = 'RUNNING' and tags.`{BACKUP_STORE_TAG}` = '{store_id}'"
    running = store.client.search_runs([store.experiment_id], filter_string=where)
    dead = [run for run in running if is_dead(run.data.tags.get(BACKUP_LOCK_TAG, ""))]
    for run in dead:
        store.client.set_terminated(run.info.run_id, "FAILED")
        log.warning("MLflow run %s died without ending: marked FAILED", run.info.run_id)
    return dead


@dataclass(frozen=True)
class RunRecord:
    """What a run holds: its tags, the latest value of each metric, its params."""

    run_id: str
    tags: dict[str, str]
    metrics: dict[str, float]
    params: dict[str, str]


def read_run(store: TrackingStore, run_id: str) -> RunRecord:
    with store_errors():
        data = store.client.get_run(run_id).data
    return RunRecord(run_id, dict(data.tags), dict(data.metrics), dict(data.params))
