"""Rank tracked runs by validation accuracy; read test accuracy for the selected runs only.

Model selection must not look at the test set, or the test accuracy reported for the chosen
configuration is optimistic. So the ranking is built from records that hold no test figure
at all (`RankedRun`), and the test accuracy of the selected runs is read afterwards, by run
id. Runs are only comparable on the same validation reviews: those with another seed,
validation share or cap than the reference params are left out, and counted. Runs that
differ only in their seeds form one configuration (`configurations.py`), ranked by its mean.
Reference runs (the NBSVM baseline, tagged `REFERENCE_TAG`) are never candidates: they are
listed beside the ranking, with their test accuracy, as the mark to beat.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from imdb_sentiment.errors import PipelineError
from imdb_sentiment.tracking.configurations import (
    SEED_PARAMS,
    VAL_SET_PARAMS,
    Configuration,
    describes,
    group_configurations,
    varying_params,
)
from imdb_sentiment.tracking.names import MODEL_FAMILY_TAG, REFERENCE_TAG
from imdb_sentiment.tracking.runs import flatten

# Re-exported: the report reads them here.
__all__ = ["VAL_SET_PARAMS", "Configuration", "varying_params"]


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
class ReferenceRun:
    """A reference model's run on the same validation reviews: shown, never selected."""

    run_id: str
    name: str
    model_family: str
    val_accuracy: float
    test_accuracy: float | None
    params: dict[str, str]
    start_ms: int


@dataclass(frozen=True)
class RunRanking:
    ranked: list[RankedRun]  # every candidate, configuration by configuration
    configurations: list[Configuration]  # best mean validation accuracy first
    selected: list[Configuration]  # the top `select` configurations
    # run id -> test accuracy: the runs of the selected configurations and of `current`.
    test_accuracy: dict[str, float | None]
    other_val_sets: int  # finished runs left out: validated on other reviews
    reference: dict[str, str]  # the val-set params used
    current: Configuration | None  # the configuration params.yaml sets up, if it ran
    references: list[ReferenceRun]  # the newest of each reference configuration


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
    current: Mapping[str, Any] | None = None,
) -> RunRanking:
    """Rank `runs` on the reference validation set; `read_test_accuracy(run_id)` for the top.

    Test accuracy is also read for the configuration that `current` (params.yaml) sets up,
    so the report shows the defaults' spread beside the selected configurations'.
    """
    if select < 1:
        raise RankingError("--select must be at least 1")
    runs = list(runs)
    is_reference = [run.data.tags.get(REFERENCE_TAG) == "true" for run in runs]
    candidates = [run for run, ref in zip(runs, is_reference, strict=True) if not ref]
    found = [c for run in candidates if (c := ranked_run_from(run, count_epochs)) is not None]
    same = [c for c in found if _on_val_set(c.params, reference)]
    if not same:
        raise RankingError(
            f"no finished run with validation metrics on the validation set of these params "
            f"({describe_val_set(reference)}; {len(found)} other runs); run `dvc repro` or "
            "`dvc exp run` first, or pass the params file the runs used"
        )
    configurations = group_configurations(same, best_first)
    selected = configurations[:select]
    flat = {k: str(v) for k, v in flatten(current or {}).items()}  # as MLflow stores params
    own = next((c for c in configurations if current and describes(c, flat)), None)
    # Only now, and only for these runs, is test accuracy read.
    shown = [*selected, *([own] if own is not None and own not in selected else [])]
    test = {c.run_id: read_test_accuracy(c.run_id) for config in shown for c in config.runs}
    references = [
        run
        for run, ref in zip(runs, is_reference, strict=True)
        if ref and _on_val_set(run.data.params, reference)
    ]
    return RunRanking(
        ranked=[c for config in configurations for c in config.runs],
        configurations=configurations,
        selected=selected,
        test_accuracy=test,
        other_val_sets=len(found) - len(same),
        reference=dict(reference),
        current=own,
        references=reference_runs(references),
    )


def reference_runs(runs: Iterable[Any]) -> list[ReferenceRun]:
    """The newest run of each reference model and its settings, best validation first."""
    newest: dict[tuple[str, ...], ReferenceRun] = {}
    for run in runs:
        metrics = run.data.metrics
        if not math.isfinite(metrics.get("val_accuracy", math.nan)):
            continue
        family = run.data.tags.get(MODEL_FAMILY_TAG, "unknown")
        found = ReferenceRun(
            run_id=run.info.run_id,
            name=run.info.run_name or run.info.run_id[:8],
            model_family=family,
            val_accuracy=float(metrics["val_accuracy"]),
            test_accuracy=metrics.get("test_accuracy"),
            params=dict(run.data.params),
            start_ms=int(run.info.start_time or 0),
        )
        # The model's own settings (`baseline.*`), not the data facts or the seed.
        settings = sorted(f"{k}={v}" for k, v in found.params.items() if k.startswith("baseline."))
        key = (family, *settings)
        if key not in newest or newest[key].start_ms < found.start_ms:
            newest[key] = found
    return sorted(newest.values(), key=lambda r: (-r.val_accuracy, -r.start_ms))


def overrides(run: RankedRun, current: Mapping[str, Any]) -> list[str]:
    """`-S key=value` arguments that turn params.yaml into `run`'s params."""
    flat = {k: str(v) for k, v in flatten(current).items()}  # as MLflow stores params
    return [
        f"-S {key}={_as_yaml(run.params[key])}"
        for key in sorted(flat)
        if key in run.params and run.params[key] != flat[key] and key not in SEED_PARAMS
    ]


def _on_val_set(params: Mapping[str, str], reference: Mapping[str, str]) -> bool:
    return all(params.get(k) == v for k, v in reference.items())


def describe_val_set(reference: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in reference.items())


def _as_yaml(param: str) -> str:
    """An MLflow param string as `dvc exp run -S` must spell it (YAML null, not None)."""
    return "null" if param == "None" else param
