"""What a registered version records about how it was made, and whether that can be rebuilt.

Pure: the tags and metrics come in as mappings (the version's tags, its run's tags and
metrics), so every refusal is testable on plain data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

COMMIT_TAG = "mlflow.source.git.commit"
DIRTY_TAG = "git.dirty"
BACKEND_TAG = "keras.backend"
MD5_TAG_PREFIX = "dvc.md5."  # + the path, as dvc.lock names it (see tracking/lineage.py)
MODEL_FILE = "models/model.keras"
TEST_METRIC_PREFIX = "test_"

_MODEL_URI = re.compile(
    r"models:/(?P<name>[A-Za-z0-9_.-]+)(?:/(?P<version>[0-9]+)|@(?P<alias>[A-Za-z0-9_-]+))"
)


class ModelUriError(ValueError):
    """Not a `models:/NAME/VERSION` or `models:/NAME@ALIAS` URI."""


@dataclass(frozen=True)
class ModelRef:
    """A registered version, by number or by alias."""

    uri: str
    name: str
    version: str | None
    alias: str | None


def parse_model_uri(uri: str) -> ModelRef:
    match = _MODEL_URI.fullmatch(uri.strip())
    if match is None:
        raise ModelUriError(
            f"{uri!r} is not a registered version; give models:/NAME/VERSION or "
            "models:/NAME@ALIAS, e.g. models:/imdb-sentiment@champion"
        )
    return ModelRef(uri.strip(), match["name"], match["version"], match["alias"])


@dataclass(frozen=True)
class Recorded:
    """A version's lineage: the commit, the data and model md5s, the backend, the results."""

    version: str
    run_id: str
    commit: str  # "" when not recorded
    dirty: str  # the git.dirty tag: "False", "True", or "" when not recorded
    data_md5: dict[str, str]  # path -> md5 of every recorded input file (not the model)
    model_md5: str  # of models/model.keras, "" when not recorded
    backend: str
    device: str  # cpu, gpu, tpu; "" when the run did not record it
    test_metrics: dict[str, float]


def read_lineage(
    version: str,
    run_id: str,
    version_tags: Mapping[str, str],
    run_tags: Mapping[str, str],
    run_metrics: Mapping[str, float],
    device_tag: str,
) -> Recorded:
    """The lineage of a version: its own tags first, its run's where the version has none."""
    tags = {**run_tags, **version_tags}
    md5s = {
        key.removeprefix(MD5_TAG_PREFIX): value
        for key, value in sorted(tags.items())
        if key.startswith(MD5_TAG_PREFIX)
    }
    return Recorded(
        version=version,
        run_id=run_id,
        commit=tags.get(COMMIT_TAG, ""),
        dirty=tags.get(DIRTY_TAG, ""),
        data_md5={path: md5 for path, md5 in md5s.items() if path != MODEL_FILE},
        model_md5=md5s.get(MODEL_FILE, ""),
        backend=tags.get(BACKEND_TAG, ""),
        device=tags.get(device_tag, ""),
        test_metrics={k: v for k, v in run_metrics.items() if k.startswith(TEST_METRIC_PREFIX)},
    )


def refusal(recorded: Recorded) -> str | None:
    """Why this version cannot be rebuilt from what it records, or None if it can."""
    who = f"v{recorded.version} (run {recorded.run_id})"
    if not recorded.commit:
        return (
            f"{who} records no git commit ({COMMIT_TAG}): it was not trained in a git "
            "checkout, so no commit holds its code and params"
        )
    if recorded.dirty != "False":
        state = "uncommitted changes" if recorded.dirty == "True" else "no git.dirty flag"
        return (
            f"{who} was trained from a checkout with {state} at {recorded.commit[:12]}: "
            "its code and params are in no commit; retrain from a clean checkout"
        )
    if not recorded.data_md5:
        return f"{who} records no data md5s ({MD5_TAG_PREFIX}* tags): nothing to rebuild from"
    if not recorded.model_md5:
        return f"{who} records no md5 of {MODEL_FILE}: nothing to check its model file against"
    if not recorded.backend:
        return f"{who} records no Keras backend ({BACKEND_TAG})"
    if not recorded.test_metrics:
        return f"{who} has no test metrics: evaluate never ran for it"
    return None
