"""The prepared folder (`data/prepared/`): its format, its writer and its readers.

`prepare` writes one `<split>.npz` per split (arrays `x`, `y`, `review_id`), `vocab.json`
(word -> id, the reserved ids included) and `meta.json` (facts about the data that `train`
and `evaluate` read instead of re-reading prepare's params). Everything else reads them here.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imdb_sentiment.config import PrepareParams
from imdb_sentiment.data.tokenizer import SPECIAL_TOKENS
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.files import read_json, staged_files, write_json

META_FILE = "meta.json"
VOCAB_FILE = "vocab.json"
SPLIT_ARRAYS = ("x", "y", "review_id")  # the keys of each split's .npz, in the order written
_RERUN = "rerun prepare (`dvc repro --force prepare`)"


@dataclass(frozen=True)
class EncodedSplit:
    x: np.ndarray  # (n, maxlen) int32 token ids
    y: np.ndarray  # (n,) int8 labels
    review_id: np.ndarray  # (n,) int32, to trace a row back to its review


@dataclass(frozen=True)
class PreparedData:
    splits: dict[str, EncodedSplit]  # "train", "val", "test"
    vocabulary: dict[str, int]  # words only: the reserved ids are added when written
    distinct_train_words: int
    oov_rate: dict[str, float]


class PreparedDataError(PipelineError):
    """The prepared arrays cannot be read as sequences of the reviews table."""


def split_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.npz"


def build_meta(cfg: PrepareParams, data: PreparedData) -> dict[str, Any]:
    """Facts later stages read instead of re-reading prepare's params."""
    return {
        "max_features": cfg.max_features,
        "maxlen": cfg.maxlen,
        "vocab_size": len(SPECIAL_TOKENS) + len(data.vocabulary),
        "distinct_train_words": data.distinct_train_words,
        "counts": {name: len(s.y) for name, s in data.splits.items()},
        "positives": {name: int(s.y.sum()) for name, s in data.splits.items()},
        "oov_rate": data.oov_rate,
        "max_reviews_per_split": cfg.max_reviews_per_split,
        "val_fraction": cfg.val_fraction,
        "padding": "pre",
        "truncating": "pre",
    }


def write_prepared(directory: Path, data: PreparedData, cfg: PrepareParams) -> None:
    """Write every file of the prepared folder; all appear together or none do."""
    with staged_files(directory) as staging:
        for name, split in data.splits.items():
            np.savez(split_path(staging, name), x=split.x, y=split.y, review_id=split.review_id)
        write_json(staging / VOCAB_FILE, {**SPECIAL_TOKENS, **data.vocabulary})
        write_json(staging / META_FILE, build_meta(cfg, data))


def load_split(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (n, maxlen) and labels (n,) of one prepared split."""
    x, y = _read_arrays(Path(path), ("x", "y"))
    return x, y


def load_encoded_splits(directory: Path, names: Iterable[str]) -> dict[str, EncodedSplit]:
    """Every array of the splits `names`, `directory/<name>.npz` for each name."""
    return {
        name: EncodedSplit(*_read_arrays(split_path(directory, name), SPLIT_ARRAYS))
        for name in names
    }


def read_meta(directory: Path) -> dict[str, Any]:
    return read_json(directory / META_FILE)


def read_vocabulary(directory: Path) -> dict[str, int]:
    """Word -> id, `SPECIAL_TOKENS` included."""
    return read_json(directory / VOCAB_FILE)


def _read_arrays(path: Path, keys: Sequence[str]) -> list[np.ndarray]:
    try:
        loaded = np.load(path)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise PreparedDataError(
                f"{path} holds one array, not the arrays {list(keys)}; {_RERUN}"
            )
        with loaded as npz:
            missing = [key for key in keys if key not in npz.files]
            if missing:
                raise PreparedDataError(
                    f"{path} lacks the arrays {missing} (it has {npz.files}); {_RERUN}"
                )
            return [npz[key] for key in keys]
    except FileNotFoundError:
        raise
    # np.load takes a file that is no .npz for a pickle, and refuses it with a ValueError.
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise PreparedDataError(
            f"{path} is not a readable .npz ({exc.__class__.__name__}); {_RERUN}"
        ) from exc
