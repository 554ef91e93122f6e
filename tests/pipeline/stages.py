"""Run the stages' `main`s in a tiny workspace under tmp_path: the pieces pipeline tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import download, evaluate, prepare, promote, train, validate


def run_download(params: Path, out: Path) -> int:
    """The stage as dvc.yaml runs it: the table at `out`, the source record beside it."""
    source = out.with_name("source.json")
    return download.main(["--params", str(params), "--out", str(out), "--source", str(source)])


@pytest.fixture
def workspace(tmp_path: Path, mirror: Path, params_file: Path) -> dict[str, Path]:
    """download + prepare done: the inputs validate and train need."""
    return make_workspace(tmp_path, params_file)


def make_workspace(tmp_path: Path, params_file: Path) -> dict[str, Path]:
    """Run download (from IMDB_URL) and prepare under `tmp_path`; return every stage path."""
    paths = {
        "params": params_file,
        "reviews": tmp_path / "data" / "raw" / "reviews.parquet",
        "prepared": tmp_path / "data" / "prepared",
        "validation": tmp_path / "reports" / "validation.json",
        "docs": tmp_path / "reports" / "data_docs",
        "drift": tmp_path / "reports" / "drift.json",
        "drift_tokens": tmp_path / "reports" / "drift_top_tokens.json",
        "model": tmp_path / "models" / "model.keras",
        "run": tmp_path / "models" / "run.json",
        "train_metrics": tmp_path / "reports" / "train_metrics.json",
        "history": tmp_path / "reports" / "plots" / "history.json",
        "metrics": tmp_path / "reports" / "metrics.json",
        "plots": tmp_path / "reports" / "plots",
        "test": tmp_path / "data" / "prepared" / "test.npz",
        "vocab": tmp_path / "data" / "prepared" / "vocab.json",
        "text_model": tmp_path / "models" / "text_model.json",
        "promotion": tmp_path / "reports" / "promotion.json",
        "slices": tmp_path / "reports" / "slices.json",
        "behaviour": tmp_path / "reports" / "behaviour.json",
    }
    assert run_download(params_file, paths["reviews"]) == 0
    assert prepare.main(argv(paths, params="params", reviews="reviews", out="prepared")) == 0
    return paths


def argv(paths: dict[str, Path], **flags: str) -> list[str]:
    """`--flag value` pairs, each value looked up in `paths` by name."""
    return [item for flag, key in flags.items() for item in (f"--{flag}", str(paths[key]))]


def run_validate(p: dict[str, Path]) -> int:
    return validate.main(
        argv(
            p,
            params="params",
            reviews="reviews",
            prepared="prepared",
            report="validation",
            docs="docs",
            drift="drift",
            **{"drift-tokens": "drift_tokens"},
        )
    )


def run_train(p: dict[str, Path]) -> int:
    return train.main(
        argv(
            p,
            params="params",
            prepared="prepared",
            validation="validation",
            model="model",
            run="run",
            metrics="train_metrics",
            history="history",
            **{"data-report": "docs"},
        )
    )


def run_evaluate(p: dict[str, Path]) -> int:
    flags = dict(params="params", test="test", model="model", run="run", metrics="metrics")
    flags.update(plots="plots", vocab="vocab", lineage="reviews", reviews="reviews")
    flags.update(slices="slices", behaviour="behaviour")
    return evaluate.main(argv(p, **flags, **{"text-model": "text_model"}))


def run_promote(p: dict[str, Path]) -> int:
    flags = dict(params="params", reviews="reviews", test="test", report="promotion")
    return promote.main(argv(p, **flags, **{"text-model": "text_model"}))
