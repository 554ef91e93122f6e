"""scripts/screen_seeds.py: configurations x seeds in worker processes, validation only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from imdb_sentiment.data.archive import read_reviews
from imdb_sentiment.data.reviews_table import write_reviews
from scripts.screen_seeds import fit_one, main, summarize
from tests.conftest import tiny_params


@pytest.fixture
def inputs(tmp_path: Path, archives: dict) -> dict[str, Path]:
    reviews = tmp_path / "reviews.parquet"
    write_reviews(read_reviews(archives["labeled"][0]), reviews)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    return {"reviews": reviews, "params": params, "cache": tmp_path / "cache"}


def args(inputs: dict[str, Path], arms: Path, out: Path, *extra: str) -> list[str]:
    paths = [f"--{name}={path}" for name, path in inputs.items()]
    return [*paths, f"--arms={arms}", f"--out={out}", *extra]


def test_every_arm_runs_at_every_seed_and_the_rows_repeat(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arms = tmp_path / "arms.yaml"
    arms.write_text("plain: {}\naveraged: {train.fit.ema_momentum: 0.5}\n")
    out = tmp_path / "runs.jsonl"
    main(args(inputs, arms, out, "--seeds", "1", "2", "--workers", "2", "-S", "train.fit.epochs=1"))

    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["arm"], r["seed"]) for r in rows) == [
        ("averaged", 1),
        ("averaged", 2),
        ("plain", 1),
        ("plain", 2),
    ]
    assert all(r["epoch"] == 1 and 0 <= r["val_accuracy"] <= 1 for r in rows)
    summary = capsys.readouterr().out.strip().splitlines()[-2:]
    assert [line.split()[:2] for line in summary] == [["plain", "n=2"], ["averaged", "n=2"]]
    # Prepare's train and val rows only: the test split is never read.
    (cached,) = inputs["cache"].iterdir()
    with np.load(cached) as data:
        assert sorted(data.files) == ["x_train", "x_val", "y_train", "y_val"]
    # A fit in this process repeats the worker's figures: same seed, same rows.
    params = yaml.safe_load(inputs["params"].read_text())
    params["train"]["fit"]["epochs"] = 1
    again = fit_one(("plain", 2, params), cached)
    (worker_row,) = [r for r in rows if (r["arm"], r["seed"]) == ("plain", 2)]
    assert again["val_loss"] == pytest.approx(worker_row["val_loss"], rel=1e-6)
    # An ensemble arm averages its members (seeds 2 and 1002): log-loss is convex, so the
    # average's loss is at most the members' mean loss, and differs from member 1's.
    member = fit_one(("plain", 1002, params), cached)
    params["train"]["members"] = 2
    pair = fit_one(("pair", 2, params), cached)
    # Here the gap is about 6e-5; float32 rounding of Keras' loss is about 1e-7.
    assert pair["val_loss"] <= (again["val_loss"] + member["val_loss"]) / 2 + 1e-6
    assert pair["val_loss"] != pytest.approx(again["val_loss"])


def test_a_bad_arm_ends_in_one_line_before_any_fit(inputs: dict[str, Path], tmp_path: Path) -> None:
    arms = tmp_path / "arms.yaml"
    arms.write_text("plain: {}\nbroken: {train.fit.ema_momentum: 1.5}\n")
    out = tmp_path / "runs.jsonl"
    with pytest.raises(SystemExit, match=r"'train\.fit\.ema_momentum' must be null or in"):
        main(args(inputs, arms, out, "--seeds", "1"))
    arms.write_text("typo: {train.fit.ema_momentumm: 0.9}\n")
    with pytest.raises(SystemExit, match=r"no such param train\.fit\.ema_momentumm"):
        main(args(inputs, arms, out, "--seeds", "1"))
    assert not out.exists() and not inputs["cache"].exists()


def test_the_summary_follows_the_arms_file_not_the_order_fits_end() -> None:
    # Two workers: the second arm's fit may end first; the summary keeps the file's order.
    rows = [
        {"arm": "b", "seed": 1, "val_accuracy": 0.8, "val_loss": 0.4},
        {"arm": "a", "seed": 1, "val_accuracy": 0.7, "val_loss": 0.5},
        {"arm": "a", "seed": 2, "error": "ValueError: boom"},
    ]
    lines = summarize(rows, ["a", "b", "c"])
    assert [line.split()[:2] for line in lines] == [["a", "n=1"], ["b", "n=1"]]
    assert "seeds 1" in lines[0] and "0.7000" in lines[0]
