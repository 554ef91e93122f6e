"""Bad params stop a stage at start-up: one line naming the key and what is allowed, no output."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from pipeline import download, evaluate, prepare, promote, train
from tests.conftest import tiny_params


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def edit(params: dict) -> None:
        *parents, key = path.split(".")
        node = params
        for parent in parents:
            node = node[parent]
        node[key] = value

    return edit


def _drop(path: str) -> Callable[[dict], None]:
    def edit(params: dict) -> None:
        *parents, key = path.split(".")
        node = params
        for parent in parents:
            node = node[parent]
        del node[key]

    return edit


CASES = [
    ("prepare", _drop("prepare.maxlen"), r"missing key 'prepare\.maxlen' \(int\)"),
    (
        "prepare",
        _set("prepare.maxlenn", 100),
        r"unknown key 'prepare\.maxlenn'; allowed keys: max_features, "
        r"max_reviews_per_split, maxlen, val_fraction",
    ),
    (
        "prepare",
        _set("prepare.val_fraction", 1.5),
        r"'prepare\.val_fraction' must be a number in \(0, 1\)",
    ),
    (
        "prepare",
        _set("prepare.val_fraction", 0),
        r"'prepare\.val_fraction' must be a number in \(0, 1\)",
    ),
    ("prepare", _set("prepare.maxlen", -5), r"'prepare\.maxlen' must be a positive integer"),
    (
        "prepare",
        _set("prepare.max_features", "20000"),
        r"'prepare\.max_features' must be int, got '20000'",
    ),
    ("prepare", _set("base.seed", 4.2), r"'base\.seed' must be int, got 4\.2"),
    (
        "download",
        _set("download.mirror", "x"),
        r"unknown key 'download\.mirror'; allowed keys: deadline_seconds, max_bytes, "
        r"min_bytes_per_second, sha256, speed_window_seconds, url",
    ),
    (
        "train",
        _set("train.fit.batch_size", 0),
        r"'train\.fit\.batch_size' must be a positive integer",
    ),
    ("train", _set("train.fit.epochs", "two"), r"'train\.fit\.epochs' must be int, got 'two'"),
    (
        "train",
        _set("train.model.dropout", 1),
        r"'train\.model\.dropout' must be a number in \[0, 1\)",
    ),
    (
        "train",
        _set("train.model.kernel_size", 30),
        r"prepare\.maxlen=24 is too short for train\.model\.kernel_size=30 x pool_size=2; "
        r"allowed: maxlen >= 60",
    ),
    (
        "evaluate",
        _set("evaluate.threshold", 1.5),
        r"'evaluate\.threshold' must be a number in \(0, 1\)",
    ),
    ("promote", _set("promote.alpha", 0), r"'promote\.alpha' must be a number in \(0, 1\)"),
    (
        "promote",
        _drop("promote.min_accuracy_gain"),
        r"missing key 'promote\.min_accuracy_gain' \(float\)",
    ),
]


def tiny_prepared(directory: Path) -> None:
    """Just enough prepared data for `train` to reach model building."""
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("train", "val"):
        np.savez(
            directory / f"{name}.npz",
            x=rng.integers(0, 20, (8, 24)).astype(np.int32),
            y=np.arange(8, dtype=np.int8) % 2,
            review_id=np.arange(8, dtype=np.int32),
        )
    (directory / "meta.json").write_text(
        json.dumps(
            {
                "max_features": 20,
                "maxlen": 24,
                "vocab_size": 20,
                "counts": {"train": 8, "val": 8},
            }
        )
    )
    (directory / "vocab.json").write_text("{}")


def run(stage: str, tmp: Path, params: Path) -> int:
    out = tmp / "out"
    prepared = tmp / "prepared"
    if stage == "download":
        table, source = out / "reviews.parquet", out / "source.json"
        return download.main(
            ["--params", str(params), "--out", str(table), "--source", str(source)]
        )
    if stage == "prepare":
        return prepare.main(
            ["--params", str(params), "--reviews", str(tmp / "missing.parquet"), "--out", str(out)]
        )
    if stage == "train":
        tiny_prepared(prepared)
        report = tmp / "validation.json"
        report.write_text('{"success": true}')
        return train.main(
            [
                "--params",
                str(params),
                "--prepared",
                str(prepared),
                "--validation",
                str(report),
                "--model",
                str(out / "model.keras"),
                "--run",
                str(out / "run.json"),
                "--metrics",
                str(out / "m.json"),
                "--history",
                str(out / "h.json"),
            ]
        )
    if stage == "promote":
        return promote.main(
            [
                "--params",
                str(params),
                "--reviews",
                str(tmp / "reviews.parquet"),
                "--test",
                str(prepared / "test.npz"),
                "--text-model",
                str(tmp / "text_model.json"),
                "--report",
                str(out / "promotion.json"),
            ]
        )
    return evaluate.main(
        [
            "--params",
            str(params),
            "--test",
            str(prepared / "test.npz"),
            "--model",
            str(tmp / "model.keras"),
            "--run",
            str(tmp / "run.json"),
            "--metrics",
            str(out / "metrics.json"),
            "--plots",
            str(out / "plots"),
            "--vocab",
            str(prepared / "vocab.json"),
            "--reviews",
            str(tmp / "reviews.parquet"),
            "--slices",
            str(out / "slices.json"),
            "--behaviour",
            str(out / "behaviour.json"),
            "--text-model",
            str(out / "text_model.json"),
        ]
    )


@pytest.mark.parametrize(("stage", "edit", "message"), CASES)
def test_bad_params_fail_at_start_up(
    stage: str,
    edit: Callable[[dict], None],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    params = tiny_params()
    edit(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    assert run(stage, tmp_path, path) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"{stage}: error: params.yaml: "), err[0]
    assert re.search(message, err[0]), err[0]
    out = tmp_path / "out"
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))
    assert not (tmp_path / "mlflow.db").exists()  # no MLflow run was started either
