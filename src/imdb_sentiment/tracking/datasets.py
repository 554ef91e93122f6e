"""The prepared splits as MLflow datasets, and metrics tied to a dataset and a model.

MLflow shows a run's inputs in the run page's Datasets section and the runs table's Datasets
column. Each split file is one dataset: named after the split, its digest the md5 DVC records
for the file in dvc.lock, its source the path the stage was given (the path dvc.yaml names,
such as `data/prepared/train.npz`), with MLflow's tensor schema and a profile holding the row
count, and the input tag `mlflow.data.context` (training, validation or testing).

MLflow 3 keeps a metric's dataset only together with a model (`logged_model_metrics`):
`log_linked_metrics` logs metrics with both, so a logged model's page lists its test metrics
with the test set's name and digest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imdb_sentiment.data.prepared import load_split
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.tracking.lineage import file_md5
from imdb_sentiment.tracking.store import TrackingStore, store_errors

if TYPE_CHECKING:
    from mlflow.entities import Dataset

# The value of the `mlflow.data.context` input tag for each split.
SPLIT_CONTEXTS = {"train": "training", "val": "validation", "test": "testing"}
_CONTEXT_TAG = "mlflow.data.context"  # mlflow.utils.mlflow_tags.MLFLOW_DATASET_CONTEXT
_MODELS_SCHEME = "models:/"


@dataclass(frozen=True)
class DatasetRef:
    """How a metric names the dataset it was measured on: MLflow matches name and digest."""

    name: str
    digest: str  # the file's md5, as dvc.lock records it


def split_dataset(name: str, path: Path) -> tuple[Dataset, DatasetRef]:
    """The MLflow dataset entity for split `name` stored at `path`, and its reference."""
    import mlflow.data
    from mlflow.data.dataset_source_registry import get_dataset_source_from_json
    from mlflow.entities import Dataset

    x, y = load_split(path)
    digest = file_md5(path)
    # Resolving a plain path would warn that two sources match; name the local source outright.
    source = get_dataset_source_from_json(json.dumps({"uri": path.as_posix()}), "local")
    dataset = mlflow.data.from_numpy(x, source=source, targets=y, name=name, digest=digest)
    config = dataset.to_dict()
    profile = {"num_rows": len(y), **json.loads(config["profile"])}
    config["profile"] = json.dumps(profile)
    return Dataset(**config), DatasetRef(name, digest)


def log_split_datasets(
    store: TrackingStore, run_id: str, splits: Mapping[str, Path]
) -> dict[str, DatasetRef]:
    """Log each split file (`train`, `val`, `test` -> path) as an input of run `run_id`."""
    from mlflow.entities import DatasetInput, InputTag

    inputs, refs = [], {}
    for name, path in splits.items():
        entity, refs[name] = split_dataset(name, Path(path))
        tags = [InputTag(_CONTEXT_TAG, SPLIT_CONTEXTS.get(name, name))]
        inputs.append(DatasetInput(entity, tags))
    with store_errors():
        store.client.log_inputs(run_id, datasets=inputs)
    return refs


def model_id_of(model_uri: str) -> str:
    """The logged model's id in a `models:/<model_id>` URI, as `log_model` returns it."""
    model_id = model_uri.removeprefix(_MODELS_SCHEME)
    if not model_uri.startswith(_MODELS_SCHEME) or not model_id or "/" in model_id:
        raise PipelineError(f"expected a logged model's URI models:/<model_id>, got {model_uri}")
    return model_id


def log_linked_metrics(
    store: TrackingStore,
    run_id: str,
    metrics: Mapping[str, float],
    dataset: DatasetRef,
    model_id: str,
) -> None:
    """`metrics` (step 0) into the run, recorded as `model_id`'s measurements on `dataset`."""
    from mlflow.entities import Metric
    from mlflow.utils.time import get_current_time_millis

    now = get_current_time_millis()
    entries = [
        Metric(key, float(value), now, 0, model_id, dataset.name, dataset.digest)
        for key, value in metrics.items()
    ]
    with store_errors():
        for start in range(0, len(entries), 100):  # MLflow's limit per log_batch
            store.client.log_batch(run_id, metrics=entries[start : start + 100])
