"""Shared fixtures: tiny real archives and params sized for them."""

from __future__ import annotations

import copy
import functools
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from imdb_sentiment.config import FitParams, ModelParams
from imdb_sentiment.typed_mapping import read_yaml_value
from tests.factory import build_archive

REPO = Path(__file__).resolve().parents[1]
PER_LABEL = 24  # reviews per split and label in the tiny archives

# A conv-LSTM small enough to fit in a second: for tests that build and fit models in-process.
TINY_MODEL = ModelParams(
    embedding_dim=8,
    bigram_buckets=0,
    bigram_init="uniform",
    dropout=0.25,
    spatial_dropout=0.0,
    filters=4,
    kernel_size=3,
    pool_size=2,
    lstm_units=4,
    unroll=False,
    bidirectional=False,
    pooling="last",
)
TINY_FIT = FitParams(
    batch_size=8,
    epochs=3,
    learning_rate=0.01,
    lr_decay=1.0,
    lr_schedule="constant",
    schedule_epochs=None,
    adam_epsilon=1e-7,
    embedding_weight_decay=0.0,
    ema_momentum=None,
    early_stopping_patience=None,
)


def committed_params() -> dict[str, Any]:
    """params.yaml as committed (or staged), never the working copy's edits.

    `dvc exp run -S ...` and `imdb-sentiment retrain -S ...` leave their values in the
    working copy: a test must not take them for the project's defaults.
    """
    return copy.deepcopy(_committed_params())


@functools.cache
def _committed_params() -> dict[str, Any]:
    try:  # `:params.yaml` is the index: HEAD's file unless a change to it is staged
        text = subprocess.run(
            ["git", "show", ":params.yaml"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (e.g. an sdist)
        text = (REPO / "params.yaml").read_text()
    return read_yaml_value(text)  # as load_params reads the file


def committed_params_file(directory: Path) -> Path:
    """`committed_params()` written to `directory`/params.yaml, for code that reads a file."""
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(committed_params(), sort_keys=False))
    return path


def tiny_params() -> dict[str, Any]:
    """The repository's params.yaml, shrunk so a whole pipeline runs in seconds."""
    params = committed_params()
    # 27 distinct words for 17 vocabulary slots: about a quarter of the words are OOV; reviews
    # of 8-30 words in rows of 24 leave about a fifth of the positions padded.
    params["validate"].update(
        reviews_per_split_label=PER_LABEL, max_oov_rate=0.4, max_pad_fraction=0.5
    )
    params["prepare"].update(max_features=20, maxlen=24, val_fraction=0.25)
    params["train"]["model"].update(
        embedding_dim=8, filters=4, kernel_size=3, pool_size=2, lstm_units=4
    )
    params["train"]["fit"].update(batch_size=8, epochs=2, learning_rate=0.01)
    params["evaluate"]["batch_size"] = 16
    # Fewer than the 48 test reviews: the gate must score them in requests within the cap.
    params["serve"]["max_reviews_per_request"] = 20
    # The behaviour templates' words are mostly outside a 20-word vocabulary: their pass rates
    # say little about a tiny model, so the gate ignores them unless a test asks.
    params["promote"]["max_behaviour_drop"] = 1.0
    return params


@pytest.fixture(scope="session")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Two tiny archives with the same labeled reviews: a labeled-only and a full layout."""
    root = tmp_path_factory.mktemp("archives")
    return {
        layout: (
            root / f"{layout}.tar.gz",
            build_archive(root / f"{layout}.tar.gz", per_label=PER_LABEL, layout=layout),
        )
        for layout in ("labeled", "full")
    }


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    return path


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch, archives: dict[str, tuple[Path, str]]) -> Path:
    """Point the download stage at the labeled tiny archive, as a user with a mirror would."""
    path, sha = archives["labeled"]
    monkeypatch.setenv("IMDB_URL", str(path))
    monkeypatch.setenv("IMDB_SHA256", sha)
    return path


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    return uri
