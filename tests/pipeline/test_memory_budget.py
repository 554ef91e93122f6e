"""Params that cannot fit in memory stop `prepare` and `train` at start-up in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline import prepare
from tests.pipeline.stages import argv, run_train, run_validate

pytestmark = pytest.mark.slow


def set_param(path: Path, section: str, key: str, value: object) -> None:
    params = yaml.safe_load(path.read_text())
    node = params
    for part in section.split("."):
        node = node[part]
    node[key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def files_in(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_huge_maxlen_is_refused_before_padding(
    workspace: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_param(workspace["params"], "prepare", "maxlen", 10**9)  # 384 GB for 96 reviews
    before = files_in(tmp_path)
    capsys.readouterr()
    assert prepare.main(argv(workspace, params="params", reviews="reviews", out="prepared")) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("prepare: error: these params need at least 384.0 GB of memory"), line
    assert line.endswith(
        "(the most: 96 reviews x 1,000,000,000 tokens (int32), 384.0 GB); lower prepare.maxlen "
        "(or cap prepare.max_reviews_per_split)"
    ), line
    assert files_in(tmp_path) == before


def test_a_huge_embedding_is_refused_before_keras_builds_it(
    workspace: dict[str, Path],
    tmp_path: Path,
    mlflow_store: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_validate(workspace) == 0
    set_param(workspace["params"], "train.model", "embedding_dim", 10**9)
    before = files_in(tmp_path)
    capsys.readouterr()
    assert run_train(workspace) == 1
    (line,) = capsys.readouterr().err.splitlines()
    # The embedding's 320 GB, and a batch's activations: 8 x 24 x 1e9 floats, 3 copies.
    assert line.startswith("train: error: these params need at least 2.6 TB of memory"), line
    assert "(the most: a batch of 8 x 24 tokens x 1,000,000,008 floats, 2.3 TB)" in line
    assert files_in(tmp_path) == before
