"""Fixtures shared by the stage tests."""

from __future__ import annotations

import pytest

from imdb_sentiment.tracking.store import TrackingStore, connect


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TrackingStore:
    folder = tmp_path_factory.mktemp("store")
    return connect(f"sqlite:///{folder / 'mlflow.db'}", cwd=folder)
