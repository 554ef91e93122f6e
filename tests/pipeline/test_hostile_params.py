"""A YAML alias bomb or a 10 MB value in params.yaml: one short line from every reader, at once."""

from __future__ import annotations

import resource
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from imdb_sentiment import cli
from pipeline import train
from tests.conftest import REPO, tiny_params

pytestmark = pytest.mark.slow

# Nine levels of nine aliases: 9**9 (387 million) strings once expanded, tens of GB.
LEVELS = 9
BOMB = (
    "l0: &l0 ["
    + ", ".join(['"lol"'] * 9)
    + "]\n"
    + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, LEVELS))
)


def checkout(root: Path, params_text: str) -> Path:
    root.mkdir()
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    (root / ".dvc").mkdir()
    (root / "params.yaml").write_text(params_text)
    return root


def run_train(root: Path) -> int:
    flags = {
        "params": "params.yaml",
        "prepared": "data/prepared",
        "validation": "reports/validation.json",
        "model": "models/model.keras",
        "run": "models/run.json",
        "metrics": "reports/train_metrics.json",
        "history": "reports/plots/history.json",
    }
    return train.main([item for flag, path in flags.items() for item in (f"--{flag}", path)])


READERS: dict[str, tuple[str, Callable[[Path], int], int]] = {
    "train": ("train", run_train, 1),
    "experiments": ("imdb-sentiment", lambda root: cli.main(["experiments"]), 1),
    "retrain": ("imdb-sentiment retrain", lambda root: cli.main(["retrain"]), 2),
}


@pytest.mark.parametrize("reader", READERS)
def test_an_alias_bomb_is_refused_in_one_line_without_expanding_it(
    reader: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name, run, status = READERS[reader]
    root = checkout(tmp_path / "project", yaml.safe_dump(tiny_params(), sort_keys=False) + BOMB)
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    start = time.monotonic()
    assert run(root) == status
    assert time.monotonic() - start < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 200_000
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"{name}: error: "), line
    assert "YAML anchors and aliases (&name, *name) are not allowed; write each value out" in line
    assert sorted(p.name for p in root.iterdir()) == [".dvc", "dvc.yaml", "params.yaml"]


def test_a_10_mb_value_is_quoted_as_a_short_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    params = tiny_params()
    params["train"]["fit"]["epochs"] = "9" * 10_000_000
    root = checkout(tmp_path / "project", yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(root)
    assert run_train(root) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"train: error: params.yaml: 'train.fit.epochs' must be int, got '{'9' * 79}... "
        "(10,000,002 characters)"
    )
