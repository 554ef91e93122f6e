"""Fixtures for the tracking tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from imdb_sentiment.tracking.names import EXPERIMENT


@pytest.fixture
def runs_store(tmp_path: Path) -> tuple[str, MlflowClient, str]:
    """An empty sqlite store with the pipeline's experiment: (URI, client, experiment id)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    # Its own artifact folder: MLflow's default, ./mlruns, is the checkout's when tests run.
    artifacts = (tmp_path / "artifacts").as_uri()
    return uri, client, client.create_experiment(EXPERIMENT, artifact_location=artifacts)
