"""A version's lineage from its tags, and the reasons a version cannot be rebuilt."""

from __future__ import annotations

import pytest

from imdb_sentiment.reproduce.recorded import (
    ModelUriError,
    Recorded,
    parse_model_uri,
    read_lineage,
    refusal,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"
RUN_TAGS = {
    "mlflow.source.git.commit": COMMIT,
    "git.dirty": "False",
    "keras.backend": "tensorflow",
    "train.device": "cpu",
    "dvc.md5.data/prepared/train.npz": "a" * 32,
    "dvc.md5.models/model.keras": "b" * 32,
    "data.md5.train": "a" * 32,
}
METRICS = {"test_accuracy": 0.85, "test_tp": 10.0, "val_accuracy": 0.9, "loss": 0.3}


def lineage(**changes: str) -> Recorded:
    return read_lineage("3", "run-1", {}, {**RUN_TAGS, **changes}, METRICS, "train.device")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/imdb-sentiment/12", ("imdb-sentiment", "12", None)),
        ("models:/imdb-sentiment@champion", ("imdb-sentiment", None, "champion")),
        (" models:/my_model.v2@best-1 ", ("my_model.v2", None, "best-1")),
    ],
)
def test_model_uris_name_a_version_or_an_alias(uri: str, expected: tuple) -> None:
    ref = parse_model_uri(uri)
    assert (ref.name, ref.version, ref.alias) == expected
    assert ref.uri == uri.strip()


@pytest.mark.parametrize(
    "uri",
    ["runs:/abc/model", "models:/imdb-sentiment", "models:/imdb-sentiment/latest", "m-123", ""],
)
def test_anything_but_a_registered_version_is_refused(uri: str) -> None:
    with pytest.raises(ModelUriError, match="give models:/NAME/VERSION or models:/NAME@ALIAS"):
        parse_model_uri(uri)


def test_lineage_splits_data_from_model_and_keeps_test_metrics() -> None:
    recorded = lineage()
    assert recorded.commit == COMMIT and recorded.dirty == "False"
    assert recorded.data_md5 == {"data/prepared/train.npz": "a" * 32}
    assert recorded.model_md5 == "b" * 32
    assert (recorded.backend, recorded.device) == ("tensorflow", "cpu")
    assert recorded.test_metrics == {"test_accuracy": 0.85, "test_tp": 10.0}


def test_the_versions_own_tags_win_over_its_runs() -> None:
    recorded = read_lineage("3", "run-1", {"git.dirty": "True"}, RUN_TAGS, METRICS, "train.device")
    assert recorded.dirty == "True"


def test_a_clean_complete_lineage_is_not_refused() -> None:
    assert refusal(lineage()) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"mlflow.source.git.commit": ""}, "records no git commit"),
        ({"git.dirty": "True"}, "trained from a checkout with uncommitted changes at 0123456789ab"),
        ({"git.dirty": ""}, "trained from a checkout with no git.dirty flag"),
        ({"dvc.md5.models/model.keras": ""}, "records no md5 of models/model.keras"),
        ({"keras.backend": ""}, "records no Keras backend"),
    ],
)
def test_each_gap_in_the_lineage_is_named(changes: dict[str, str], reason: str) -> None:
    tags = {k: v for k, v in {**RUN_TAGS, **changes}.items() if v}
    recorded = read_lineage("3", "run-1", {}, tags, METRICS, "train.device")
    message = refusal(recorded)
    assert message is not None and message.startswith("v3 (run run-1) ")
    assert reason in message


def test_no_data_md5s_or_no_test_metrics_are_refused() -> None:
    model_only = {k: v for k, v in RUN_TAGS.items() if k != "dvc.md5.data/prepared/train.npz"}
    bare = read_lineage("3", "run-1", {}, model_only, METRICS, "train.device")
    assert "records no data md5s" in (refusal(bare) or "")
    untested = read_lineage("3", "run-1", {}, RUN_TAGS, {"loss": 0.3}, "train.device")
    assert "has no test metrics: evaluate never ran" in (refusal(untested) or "")
