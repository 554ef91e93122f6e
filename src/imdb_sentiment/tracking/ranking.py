"""Rank tracked runs by validation accuracy; read test accuracy for the selected runs only.

Model selection must not look at the test set, or the test accuracy reported for the chosen
configuration is optimistic. So the ranking is built from records that hold no test figure
at all (`RankedRun`), and the test accuracy of the selected runs is read afterwards, by run
id. Runs are only comparable on the same validation reviews: those with another seed,
validation share or cap than the reference params are left out, and counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from imdb_sentiment.errors import PipelineError
from imdb_sentiment.tracking.runs import flatten

# The params that decide which reviews form the validation split (prepare's stratified cut).
VAL_SET_PARAMS = ("base.seed", "prepare.val_fraction", "prepare.max_reviews_per_split")
# Never table columns: they do not change what the model learns (data checks, scoring, the
# gate, speed settings; `unroll` is the same maths) or describe the data rather than set it.
_NOT_SHOWN = (
    "download.",
    "validate.",
    "evaluate.",
    "promote.",
    "data.",
    "distribution.",
    "train.runtime.",
    "train.distribution",
    "train.model.unroll",
)


class RankingError(PipelineError):
    """There is nothing to rank, or the store cannot be read."""


@dataclass(frozen=True)
class RankedRun:
    """What selection may see of a run: its params and validation figures, never test."""

    run_id: str
    name: str
    exp_name: str
    params: dict[str, str]
    val_accuracy: float
    val_loss: float
    epochs: int  # trained
    model_epoch: int  # whose weights the model kept
    fit_seconds: float
    start_ms: int


@dataclass(frozen=True)
class RunRanking:
    ranked: list[RankedRun]
    selected: list[RankedRun]
    test_accuracy: dict[str, float | None]  # run id -> test accuracy, selected runs only
    other_val_sets: int  # finished runs left out: validated on other reviews
    reference: dict[str, str]  # the val-set params used


def ranked_run_from(run: Any, count_epochs: Callable[[str], int] | None = None) -> RankedRun | None:
    """The selection view of an MLflow run, or None if it has no validation figures.

    `count_epochs(run_id)` counts the epochs of runs logged before `epochs_trained` existed.
    """
    metrics: Mapping[str, float] = run.data.metrics
    # Runs from before early stopping have no model_* metrics: their last epoch is the model.
    val_accuracy = metrics.get("model_val_accuracy", metrics.get("val_accuracy"))
    val_loss = metrics.get("model_val_loss", metrics.get("val_loss"))
    if val_accuracy is None or val_loss is None or not math.isfinite(val_accuracy):
        return None
    tags = run.data.tags
    epochs = metrics.get("epochs_trained")
    if epochs is None:
        epochs = count_epochs(run.info.run_id) if count_epochs else 0
    return RankedRun(
        run_id=run.info.run_id,
        name=run.info.run_name or tags.get("mlflow.runName", run.info.run_id[:8]),
        exp_name=tags.get("dvc.exp_name", ""),
        params=dict(run.data.params),
        val_accuracy=float(val_accuracy),
        val_loss=float(val_loss),
        epochs=int(epochs),
        model_epoch=int(metrics.get("model_epoch", epochs) or epochs),
        fit_seconds=float(metrics.get("fit_seconds", math.nan)),
        start_ms=int(run.info.start_time or 0),
    )


def reference_val_set(params: Mapping[str, Any]) -> dict[str, str]:
    """The val-set params of a params.yaml mapping, as MLflow stores params (strings)."""
    flat = flatten(params)
    return {key: str(flat.get(key)) for key in VAL_SET_PARAMS}


def best_first(runs: Iterable[RankedRun]) -> list[RankedRun]:
    """Higher val accuracy first, then lower val loss, then the newer run."""
    return sorted(runs, key=lambda c: (-c.val_accuracy, c.val_loss, -c.start_ms))


def rank_runs(
    runs: Iterable[Any],
    reference: Mapping[str, str],
    select: int,
    read_test_accuracy: Callable[[str], float | None],
    count_epochs: Callable[[str], int] | None = None,
) -> RunRanking:
    """Rank `runs` on the reference validation set; `read_test_accuracy(run_id)` for the top."""
    if select < 1:
        raise RankingError("--select must be at least 1")
    found = [c for run in runs if (c := ranked_run_from(run, count_epochs)) is not None]
    same = [c for c in found if all(c.params.get(k) == v for k, v in reference.items())]
    if not same:
        raise RankingError(
            f"no finished run with validation metrics on the validation set of these params "
            f"({describe_val_set(reference)}; {len(found)} other runs); run `dvc repro` or "
            "`dvc exp run` first, or pass the params file the runs used"
        )
    ranked = best_first(same)
    selected = ranked[:select]
    # Only now, and only for the selected runs, is test accuracy read.
    test = {c.run_id: read_test_accuracy(c.run_id) for c in selected}
    return RunRanking(ranked, selected, test, len(found) - len(same), dict(reference))


def varying_params(runs: list[RankedRun]) -> list[str]:
    """Model and data params whose values differ between the runs, in a stable order."""
    keys = sorted({k for c in runs for k in c.params})
    # A key that older runs did not log yet varies only if the runs that have it differ.
    varying = [
        k
        for k in keys
        if not k.startswith(_NOT_SHOWN)
        and k not in VAL_SET_PARAMS
        and len({c.params[k] for c in runs if k in c.params}) > 1
    ]
    # train.* before prepare.*, as the run page shows them.
    return sorted(varying, key=lambda k: (not k.startswith("train."), k))


def overrides(run: RankedRun, current: Mapping[str, Any]) -> list[str]:
    """`-S key=value` arguments that turn params.yaml into `run`'s params."""
    flat = {k: str(v) for k, v in flatten(current).items()}  # as MLflow stores params
    return [
        f"-S {key}={_as_yaml(run.params[key])}"
        for key in sorted(flat)
        if key in run.params and run.params[key] != flat[key]
    ]


def describe_val_set(reference: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in reference.items())


def _as_yaml(param: str) -> str:
    """An MLflow param string as `dvc exp run -S` must spell it (YAML null, not None)."""
    return "null" if param == "None" else param
