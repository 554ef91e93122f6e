"""What a run shows: params flattened to dotted keys, and the run page's description."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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
