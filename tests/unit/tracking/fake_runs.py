"""A real MLflow store with made-up runs, for the ranking and the experiments report."""

from __future__ import annotations

from typing import Any

from mlflow import MlflowClient

PARAMS: dict[str, Any] = {
    "base": {"seed": 42},
    "prepare": {"maxlen": 100, "val_fraction": 0.05, "max_reviews_per_split": None},
    "train": {"model": {"bidirectional": False}, "fit": {"early_stopping_patience": None}},
}


def flat_params(**changes: Any) -> dict[str, str]:
    params = {
        "base.seed": "42",
        "prepare.maxlen": "100",
        "prepare.val_fraction": "0.05",
        "prepare.max_reviews_per_split": "None",
        "train.model.bidirectional": "False",
        "train.fit.early_stopping_patience": "None",
        "validate.max_pad_fraction": "0.25",
    }
    return params | {k: str(v) for k, v in changes.items()}


def add_run(
    client: MlflowClient,
    experiment_id: str,
    name: str,
    params: dict[str, str],
    val: float,
    test: float | None,
    status: str = "FINISHED",
    epochs: int = 2,
) -> str:
    run = client.create_run(experiment_id, run_name=name, tags={"dvc.exp_name": name})
    run_id = run.info.run_id
    for key, value in params.items():
        client.log_param(run_id, key, value)
    for step in range(1, epochs + 1):
        client.log_metric(run_id, "loss", 0.5 / step, step=step)
        client.log_metric(run_id, "val_accuracy", val - 0.01 * (epochs - step), step=step)
        client.log_metric(run_id, "val_loss", 0.4, step=step)
    if test is not None:
        client.log_metric(run_id, "test_accuracy", test)
    client.set_terminated(run_id, status)
    return run_id


def add_reference_run(
    client: MlflowClient, experiment_id: str, name: str, val: float, test: float, **params: Any
) -> str:
    """A finished NBSVM-like run: tagged a reference, on the default validation set."""
    tags = {"reference_baseline": "true", "model_family": "nbsvm"}
    run_id = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
    logged = {"base.seed": "42", "prepare.val_fraction": "0.05"}
    logged |= {"prepare.max_reviews_per_split": "None", "baseline.c": "1.0"}
    for key, value in (logged | {k: str(v) for k, v in params.items()}).items():
        client.log_param(run_id, key, value)
    for key, value in {"val_accuracy": val, "val_loss": 0.1, "test_accuracy": test}.items():
        client.log_metric(run_id, key, value)
    client.set_terminated(run_id, "FINISHED")
    return run_id
