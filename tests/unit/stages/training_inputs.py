"""What the train stage's steps read, built small: a prepared folder, params and a store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from imdb_sentiment.config import PipelineParams, PrepareParams, load_pipeline_params
from imdb_sentiment.data.prepared import EncodedSplit, PreparedData, write_prepared
from tests.conftest import tiny_params

MAX_FEATURES, MAXLEN = 20, 24  # as tests.conftest.tiny_params sets prepare
ROWS = {"train": 40, "val": 16, "test": 16}


def write_prepared_folder(directory: Path) -> Path:
    """`directory` as prepare writes it: random token ids after the start mark, both labels."""
    rng = np.random.default_rng(0)
    splits = {}
    for name, n in ROWS.items():
        x = rng.integers(3, MAX_FEATURES, size=(n, MAXLEN)).astype(np.int32)
        x[:, 0] = 1
        y = (np.arange(n) % 2).astype(np.int8)
        splits[name] = EncodedSplit(x, y, np.arange(n, dtype=np.int32))
    vocabulary = {f"w{i}": i for i in range(3, MAX_FEATURES)}
    data = PreparedData(splits, vocabulary, len(vocabulary), dict.fromkeys(ROWS, 0.0))
    cfg = PrepareParams(MAX_FEATURES, MAXLEN, val_fraction=0.25, max_reviews_per_split=None)
    write_prepared(directory, data, cfg)
    return directory


def tiny_pipeline_params(directory: Path, **fit: object) -> PipelineParams:
    """tiny_params(), with `fit` changes to train.fit, through the typed loader."""
    params = tiny_params()
    params["train"]["fit"].update(fit)
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return load_pipeline_params(path)
