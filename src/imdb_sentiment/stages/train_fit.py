"""Stage `train`'s fits: one model, or an ensemble's members one after another, each logged.

A member is fitted exactly as a one-model run of its seed (built from the seed just before its
fit), with its own backup under the run's: a run killed during member 3 restores members 1
and 2 from their last epochs and goes on with 3.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import keras

from imdb_sentiment.modeling.checkpoint import TrainingBackup
from imdb_sentiment.modeling.ensemble import average_members, ensemble_result, score
from imdb_sentiment.modeling.fit import FitResult, TrainingDivergedError, fit_model
from imdb_sentiment.tracking.runs import epoch_logger
from imdb_sentiment.tracking.store import TrackingStore, log_metrics

if TYPE_CHECKING:
    from imdb_sentiment.stages.train import TrainingSetup

log = logging.getLogger(__name__)


def fit_logged(
    store: TrackingStore,
    run_id: str,
    setup: TrainingSetup,
    model: keras.Model,
    backup: TrainingBackup,
    prefix: str = "",
) -> FitResult:
    """Fit `model`, resuming `backup`; each epoch logged to the run under `prefix` as it ends."""
    data = setup.data
    try:
        result = fit_model(
            model,
            data.train,
            data.val,
            setup.fit,
            callbacks=[epoch_logger(store, run_id, prefix)],
            backup=backup,
        )
    except TrainingDivergedError:
        backup.delete()  # its weights led to NaN: nothing worth resuming
        raise
    # The restored epochs were logged to the dead run; this one gets them too.
    for epoch, row in enumerate(result.history[: result.initial_epoch], start=1):
        log_metrics(store, run_id, {prefix + k: v for k, v in row.items()}, step=epoch)
    log_metrics(store, run_id, {prefix + "fit_seconds": result.fit_seconds})
    return result


def log_fit_summary(store: TrackingStore, run_id: str, result: FitResult) -> None:
    """What the saved model scored (early stopping may keep an earlier epoch than the last):
    the figures to compare runs by."""
    kept = result.model_row
    summary = {
        "epochs_trained": len(result.history),
        "model_epoch": result.model_epoch,
        "model_val_accuracy": kept["val_accuracy"],
        "model_val_loss": kept["val_loss"],
    }
    log_metrics(store, run_id, summary)


def fit_members(
    store: TrackingStore, run_id: str, setup: TrainingSetup, backup: TrainingBackup
) -> tuple[FitResult, keras.Model]:
    """Fit each member in turn, then score their average on val: its result and model.

    Members log as `member_<i>/<metric>`; the ensemble's val figures go to `val_loss` and
    `val_accuracy` at the last epoch, and to the summary (`log_fit_summary`) as a one-model
    run's do.
    """
    seeds = setup.params.train.member_seeds(setup.params.base.seed)
    members, results = [], []
    for i, seed in enumerate(seeds, start=1):
        log.info("ensemble member %d of %d, seed %d", i, len(seeds), seed)
        # The first was built with the setup; the others from their seed just before their fit.
        model = setup.model if i == 1 else _build_member(setup, seed, i)
        part = TrainingBackup(backup.directory / f"member-{i}")
        try:
            results.append(fit_logged(store, run_id, setup, model, part, f"member_{i}/"))
        except TrainingDivergedError:
            backup.delete()  # the whole run's: these params diverge
            raise
        members.append(model)
    with setup.replicas.scope():
        ensemble = average_members(members)
    val_loss, val_accuracy = score(ensemble, *setup.data.val)
    result = ensemble_result(results, val_loss, val_accuracy)
    figures = {"val_loss": val_loss, "val_accuracy": val_accuracy}
    log_metrics(store, run_id, figures, step=len(result.history))
    log_metrics(store, run_id, {"fit_seconds": result.fit_seconds})
    log_fit_summary(store, run_id, result)
    return result, ensemble


def _build_member(setup: TrainingSetup, seed: int, index: int) -> keras.Model:
    from imdb_sentiment.stages.train import build_compiled_model  # train imports this module

    name = f"conv_lstm_{index}"
    return build_compiled_model(setup.params.train, setup.data.meta, setup.replicas, seed, name)
