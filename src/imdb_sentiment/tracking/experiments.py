"""Compare tracked runs: rank by validation accuracy, show test accuracy for the chosen only.

Model selection must not look at the test set, or the test accuracy reported for the chosen
configuration is optimistic. So the ranking is built from records that hold no test figure
at all (`Candidate`), and the test accuracy of the selected runs is read afterwards, by run id.
Runs are only comparable on the same validation reviews: those with another seed, validation
share or cap than the reference params are left out, and counted.
"""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imdb_sentiment.errors import PipelineError
from imdb_sentiment.files import atomic_path
from imdb_sentiment.tracking.names import EXPERIMENT
from imdb_sentiment.tracking.runs import flatten

log = logging.getLogger(__name__)

# The params that decide which reviews form the validation split (prepare.py's stratified cut).
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
ARTIFACT_DIR = "selection"


class ComparisonError(PipelineError):
    """There is nothing to compare, or the store cannot be read."""


@dataclass(frozen=True)
class Candidate:
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
class Comparison:
    ranked: list[Candidate]
    selected: list[Candidate]
    test_accuracy: dict[str, float | None]  # run id -> test accuracy, selected runs only
    other_val_sets: int  # finished runs left out: validated on other reviews
    reference: dict[str, str]  # the val-set params used


def candidate_from_run(run: Any, count_epochs: Any = None) -> Candidate | None:
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
    return Candidate(
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


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Best first: higher val accuracy, then lower val loss, then the newer run."""
    return sorted(candidates, key=lambda c: (-c.val_accuracy, c.val_loss, -c.start_ms))


def compare(
    runs: Iterable[Any],
    reference: Mapping[str, str],
    select: int,
    read_test_accuracy: Any,
    count_epochs: Any = None,
) -> Comparison:
    """Rank `runs` on the reference validation set; `read_test_accuracy(run_id)` for the top."""
    if select < 1:
        raise ComparisonError("--select must be at least 1")
    found = [c for run in runs if (c := candidate_from_run(run, count_epochs)) is not None]
    same = [c for c in found if all(c.params.get(k) == v for k, v in reference.items())]
    if not same:
        raise ComparisonError(
            f"no finished run with validation metrics on the validation set of these params "
            f"({_describe(reference)}; {len(found)} other runs); run `dvc repro` or `dvc exp run` "
            "first, or pass the params file the runs used"
        )
    ranked = rank(same)
    selected = ranked[:select]
    # Only now, and only for the selected runs, is test accuracy read.
    test = {c.run_id: read_test_accuracy(c.run_id) for c in selected}
    return Comparison(ranked, selected, test, len(found) - len(same), dict(reference))


def varying_params(candidates: list[Candidate]) -> list[str]:
    """Model and data params whose values differ between the runs, in a stable order."""
    keys = sorted({k for c in candidates for k in c.params})
    # A key that older runs did not log yet varies only if the runs that have it differ.
    varying = [
        k
        for k in keys
        if not k.startswith(_NOT_SHOWN)
        and k not in VAL_SET_PARAMS
        and len({c.params[k] for c in candidates if k in c.params}) > 1
    ]
    # train.* before prepare.*, as the run page shows them.
    return sorted(varying, key=lambda k: (not k.startswith("train."), k))


def overrides(candidate: Candidate, current: Mapping[str, Any]) -> list[str]:
    """`-S key=value` arguments that turn params.yaml into `candidate`'s params."""
    flat = {k: str(v) for k, v in flatten(current).items()}  # as MLflow stores params
    return [
        f"-S {key}={_as_yaml(candidate.params[key])}"
        for key in sorted(flat)
        if key in candidate.params and candidate.params[key] != flat[key]
    ]


def render(comparison: Comparison, current: Mapping[str, Any], store: str, top: int) -> str:
    """The Markdown report."""
    ranked = comparison.ranked
    shown = ranked[:top]
    columns = varying_params(ranked)
    header = ["rank", "run", *[k.removeprefix("train.") for k in columns]]
    header += ["epoch kept / trained", "val accuracy", "val loss", "fit (min)", "test accuracy"]
    lines = [
        "# Experiments: runs ranked by validation accuracy",
        "",
        f"Generated {_now()} from the MLflow store `{store}` (experiment `{EXPERIMENT}`).",
        "",
        f"- Ranked: {len(ranked)} finished runs validated on the same reviews "
        f"({_describe(comparison.reference)}); {comparison.other_val_sets} runs on other "
        "validation sets are left out.",
        "- Order: the saved model's validation accuracy (the epoch early stopping kept, else the "
        "last), then lower validation loss. Accuracies are fractions of the validation reviews.",
        f"- Test accuracy is read for the top {len(comparison.selected)} only, after ranking: "
        "selection never looks at the test set.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for i, c in enumerate(shown, start=1):
        selected = c.run_id in comparison.test_accuracy
        test = _format_test(comparison.test_accuracy[c.run_id]) if selected else ""
        cells = [str(i), _run_label(c), *[c.params.get(k, "not logged") for k in columns]]
        cells += [
            f"{c.model_epoch}/{c.epochs}",
            f"{c.val_accuracy:.4f}",
            f"{c.val_loss:.4f}",
            "" if math.isnan(c.fit_seconds) else f"{c.fit_seconds / 60:.1f}",
            test,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if len(ranked) > len(shown):
        lines.append(f"\n{len(ranked) - len(shown)} lower-ranked runs not shown (`--top`).")
    lines += ["", "## Selected", ""]
    for c in comparison.selected:
        test = _format_test(comparison.test_accuracy.get(c.run_id))
        reproduce = " ".join(overrides(c, current)) or "(params.yaml as it is)"
        lines += [
            f"- **{_run_label(c)}** (run `{c.run_id}`): validation accuracy "
            f"{c.val_accuracy:.4f}, test accuracy {test}; model from epoch {c.model_epoch} "
            f"of {c.epochs}.",
            f"  Reproduce: `dvc exp run {reproduce}`",
        ]
    return "\n".join(lines) + "\n"


def write_report(
    uri: str, params: Mapping[str, Any], out: Path, select: int = 1, top: int = 20
) -> Comparison:
    """Rank the store's runs, write the Markdown report, and log it to the selected runs."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=uri)
    try:
        experiment = client.get_experiment_by_name(EXPERIMENT)
        if experiment is None:
            raise ComparisonError(f"no experiment '{EXPERIMENT}' in {uri}; run `dvc repro` first")
        runs = _finished_runs(client, experiment.experiment_id)
        comparison = compare(
            runs,
            reference_val_set(params),
            select,
            lambda run_id: client.get_run(run_id).data.metrics.get("test_accuracy"),
            lambda run_id: len(client.get_metric_history(run_id, "loss")),
        )
    except MlflowException as exc:
        raise ComparisonError(f"cannot read runs from {uri}: {exc.message}") from exc
    text = render(comparison, params, uri, top)
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    stamp = _now()
    for rank_, c in enumerate(comparison.selected, start=1):
        client.log_text(c.run_id, text, f"{ARTIFACT_DIR}/{out.name}")
        client.set_tag(c.run_id, "selection.val_rank", str(rank_))
        client.set_tag(c.run_id, "selection.compared_runs", str(len(comparison.ranked)))
        client.set_tag(c.run_id, "selection.at", stamp)
    log.info("%d runs ranked; report in %s", len(comparison.ranked), out)
    return comparison


def _finished_runs(client: Any, experiment_id: str) -> list[Any]:
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string="attributes.status = 'FINISHED'",
            max_results=1000,
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _as_yaml(param: str) -> str:
    """An MLflow param string as `dvc exp run -S` must spell it (YAML null, not None)."""
    return "null" if param == "None" else param


def _run_label(c: Candidate) -> str:
    return c.name if not c.exp_name or c.exp_name == c.name else f"{c.name} ({c.exp_name})"


def _format_test(value: float | None) -> str:
    return "not evaluated" if value is None else f"**{float(value):.4f}**"


def _describe(reference: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in reference.items())


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
