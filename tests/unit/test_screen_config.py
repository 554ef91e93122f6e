"""scripts/screen_config.py: a configuration's validation curve without touching test."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from imdb_sentiment.config import load_params, override_params
from imdb_sentiment.data.archive import read_reviews
from imdb_sentiment.data.reviews_table import write_reviews
from scripts.screen_config import main, screen
from tests.conftest import tiny_params


def test_a_missing_table_or_bad_params_end_in_one_line(tmp_path: Path, archives: dict) -> None:
    with pytest.raises(SystemExit, match=r"no reviews table; run `dvc repro download` first"):
        main(["--reviews", str(tmp_path / "missing.parquet")])
    reviews = tmp_path / "reviews.parquet"
    write_reviews(read_reviews(archives["labeled"][0]), reviews)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    bad = ["--params", str(params_file), "--reviews", str(reviews), "-S", "train.fit.epochs=0"]
    with pytest.raises(SystemExit, match=r"'train\.fit\.epochs' must be a positive integer"):
        main(bad)
    with pytest.raises(SystemExit, match=r"no such param train\.model\.bigram_bucket;"):
        main([*bad[:4], "-S", "train.model.bigram_bucket=64"])


def test_screening_prints_each_evaluation_of_every_epoch(
    tmp_path: Path, archives: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    reviews = tmp_path / "reviews.parquet"
    write_reviews(read_reviews(archives["labeled"][0]), reviews)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    main(
        [
            "--params",
            str(params_file),
            "--reviews",
            str(reviews),
            "--evaluations",
            "3",
            "-S",
            "train.model.bigram_buckets=32",
            "-S",
            "train.fit.lr_schedule=linear",
        ]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    epochs = [float(line.split()[1]) for line in lines]
    # Tiny params train 2 epochs: 3 evaluations each, printed to 4 decimals.
    assert epochs == pytest.approx([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2], abs=1e-4)
    # The same seed and rows give the same curve: screening is repeatable.
    sets = ["train.model.bigram_buckets=32", "train.fit.lr_schedule=linear"]
    again = screen(override_params(load_params(params_file), sets), reviews, 3)
    assert [f"{row['val_accuracy']:.4f}" for row in again] == [line.split()[5] for line in lines]
    assert all(math.isfinite(row["val_loss"]) for row in again)
