"""Outcomes of `reproduce` written inline: a reproduction, a difference, a failed step."""

from __future__ import annotations

import datetime
from pathlib import Path

from imdb_sentiment.reproduce.compare import EXACT, Check, Rule
from imdb_sentiment.reproduce.outcome import (
    CouldNotRunError,
    Options,
    OriginalModel,
    Outcome,
    Rebuilt,
)
from imdb_sentiment.reproduce.recorded import Recorded, parse_model_uri
from imdb_sentiment.retrain.outcome import Step

COMMIT = "0123456789abcdef0123456789abcdef01234567"
STARTED = datetime.datetime(2026, 1, 5, 4, 23, tzinfo=datetime.UTC)
DATA = {"data/raw/reviews.parquet": "1" * 32, "data/prepared/train.npz": "2" * 32}
ENVIRONMENT = {
    "python": "3.11.7",
    "platform": "Linux-x86_64",
    "cpu": "Some CPU",
    "packages": {"keras": "3.15.1", "tensorflow": "2.21.0", "torch": None},
    "installed_distributions": 3,
    "installed_sha256": "f" * 64,
}


def options(tmp_path: Path) -> Options:
    model = parse_model_uri("models:/imdb-sentiment@champion")
    return Options(model, tmp_path, tmp_path / "reproduce.md", "sqlite:///x.db", 0.005)


def recorded() -> Recorded:
    return Recorded(
        version="4",
        run_id="run-4",
        commit=COMMIT,
        dirty="False",
        data_md5=dict(DATA),
        model_md5="a" * 32,
        backend="tensorflow",
        device="cpu",
        test_metrics={"test_accuracy": 0.85064},
    )


def compared(tmp_path: Path, same: bool = True) -> Outcome:
    """A finished comparison: reproduced, or (same=False) weights that differ."""
    outcome = Outcome(options(tmp_path), STARTED)
    outcome.steps = [
        Step("resolve", "find", seconds=0.5),
        Step("train, evaluate", "dvc repro --force --single-item train evaluate", seconds=120.0),
    ]
    outcome.recorded = recorded()
    packages = {"keras": "3.15.1", "tensorflow": "2.21.0", "numpy": "2.4.6"}
    outcome.original = OriginalModel("a" * 32, "w" * 32, packages)
    outcome.data_sources = {
        "data/raw/reviews.parquet": "DVC cache",
        "data/prepared/train.npz": "DVC remote s3",
    }
    rebuilt_weights = "w" * 32 if same else "v" * 32
    outcome.rebuilt = Rebuilt(
        "run-9",
        rebuilt_weights,
        {"test_accuracy": 0.85064},
        dict(DATA),
        "tensorflow",
        "cpu",
        ["validate", "train", "evaluate"],
    )
    outcome.rule = Rule(EXACT, "same backend (tensorflow), CPU on both", None)
    outcome.checks = [
        Check(
            "weights md5 (the weight arrays in order)",
            "w" * 32,
            rebuilt_weights,
            same,
            "identical" if same else "differs",
        ),
        Check("test_accuracy", "0.85064", "0.85064", True, "identical"),
    ]
    outcome.verdict = "reproduced" if same else "differs"
    outcome.environment = dict(ENVIRONMENT)
    outcome.finished = STARTED + datetime.timedelta(seconds=150)
    return outcome


def failed(tmp_path: Path) -> Outcome:
    outcome = Outcome(options(tmp_path), STARTED)
    outcome.recorded = recorded()
    outcome.steps = [Step("fetch data", "by md5", outcome="failed", tail=["ERROR: `x` not found"])]
    outcome.failure = CouldNotRunError(
        "fetch data", "data/prepared/train.npz (md5 2222) is missing"
    )
    return outcome
