"""Where runs go: the tracking URI, resolved once per process, and the experiment in it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from imdb_sentiment.checkout import project_root
from imdb_sentiment.tracking.names import EXPERIMENT

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


def tracking_uri(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> str:
    """MLFLOW_TRACKING_URI if set, else an absolute sqlite store at the project root."""
    env = os.environ if environ is None else environ
    if env.get(TRACKING_URI_ENV):
        return env[TRACKING_URI_ENV]
    return f"sqlite:///{project_root(cwd) / 'mlflow.db'}"


def setup_experiment(uri: str, cwd: Path | None = None) -> str:
    """Point MLflow at `uri` and return the experiment id, creating the experiment if needed."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        # MLflow's default (./mlruns) follows the cwd: a temp-copy run would lose its artifacts.
        # They go beside the database instead, so a store is one folder, wherever it is.
        database = project_root(cwd) / uri.removeprefix("sqlite:///")  # absolute stays as is
        location = (database.parent / "mlartifacts").as_uri()
    return mlflow.create_experiment(EXPERIMENT, artifact_location=location)
