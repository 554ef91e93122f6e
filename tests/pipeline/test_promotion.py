"""The gate on real tiny runs: register, compare with McNemar, move `champion` only on a win."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from imdb_sentiment.registry.text_model import SENTIMENT_LABELS
from imdb_sentiment.stages.promote import load_test_reviews
from imdb_sentiment.tracking.lineage import file_md5
from imdb_sentiment.tracking.names import CHAMPION, REGISTERED_MODEL
from tests.conftest import tiny_params
from tests.pipeline.stages import run_evaluate, run_promote, run_train, run_validate

# A learning rate this small leaves the model near chance after one epoch; six epochs at the
# tiny params' 0.01 learn the tiny reviews' cue words (measured: 0.54 vs 1.0 test accuracy).
WEAK = {"learning_rate": 1e-6, "epochs": 1}
STRONG = {"learning_rate": 0.01, "epochs": 6}


def train_evaluate_promote(p: dict[str, Path], **fit: float) -> dict:
    params = yaml.safe_load(p["params"].read_text())
    params["train"]["fit"].update(fit)
    p["params"].write_text(yaml.safe_dump(params, sort_keys=False))
    assert run_train(p) == 0
    assert run_evaluate(p) == 0
    assert run_promote(p) == 0
    return json.loads(p["promotion"].read_text())


def champion_version() -> str:
    client = mlflow.MlflowClient()
    return str(client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION).version)


@pytest.mark.slow
def test_first_model_becomes_champion_then_only_a_significantly_better_one_replaces_it(
    workspace: dict[str, Path], mlflow_store: str
) -> None:
    assert run_validate(workspace) == 0
    mlflow.set_tracking_uri(mlflow_store)
    client = mlflow.MlflowClient()

    weak = train_evaluate_promote(workspace, **WEAK)
    assert weak["decision"] == "promoted" and "no champion yet" in weak["reason"]
    assert "comparison" not in weak and champion_version() == weak["challenger"]["version"] == "1"
    # Serving scores the test reviews exactly as evaluate did from the encoded split.
    evaluated = json.loads(workspace["metrics"].read_text())["test"]["accuracy"]
    assert weak["challenger"]["accuracy"] == pytest.approx(evaluated)

    strong = train_evaluate_promote(workspace, **STRONG)
    comparison = strong["comparison"]
    assert strong["decision"] == "promoted", strong["reason"]
    assert champion_version() == strong["champion_after"] == strong["challenger"]["version"] == "2"
    assert comparison["challenger_only"] > comparison["champion_only"]
    assert comparison["p_value"] < 0.05 and comparison["accuracy_gain"] > 0.002
    assert strong["champion"]["version"] == "1" and strong["test_reviews"] == 48

    weak_again = train_evaluate_promote(workspace, **WEAK)
    assert weak_again["decision"] == "rejected", weak_again["reason"]
    assert "below promote.min_accuracy_gain" in weak_again["reason"]
    assert weak_again["comparison"]["accuracy_gain"] < 0
    assert champion_version() == weak_again["champion_after"] == "2"

    found = client.search_model_versions(f"name='{REGISTERED_MODEL}'")
    versions = {str(v.version): v for v in found}
    assert sorted(versions) == ["1", "2", "3"]
    assert versions["3"].tags["promotion.decision"] == "rejected"
    assert versions["3"].tags["promotion.compared_with"] == "2"
    assert versions["2"].tags["promotion.vs_v3"].startswith("kept")
    assert versions["1"].tags["promotion.vs_v2"].startswith("replaced")
    # Lineage: from a version to its commit and data; from the DVC side to the run.
    run_id = json.loads(workspace["run"].read_text())["run_id"]
    assert versions["3"].run_id == run_id == weak_again["challenger"]["run_id"]
    tags = versions["3"].tags
    for name in ("reviews", "model", "test"):  # tagged by the paths the stages were given
        assert tags[f"dvc.md5.{workspace[name].as_posix()}"] == file_md5(workspace[name])
    assert len(tags["mlflow.source.git.commit"]) == 40 and tags["git.dirty"] in ("True", "False")
    run = client.get_run(run_id)
    assert run.data.tags["model.version"] == "3" and run.data.tags["promotion.decision"] == (
        "rejected"
    )
    logged = {a.path for a in client.list_artifacts(run_id, "promotion")}
    assert logged == {"promotion/promotion.json"}
    # The version's model card: its description, and model_card.md in its run.
    card = versions["3"].description
    assert card == mlflow.artifacts.load_text(f"runs:/{run_id}/model_card.md")
    assert "English movie reviews" in card and "**rejected**" in card
    assert "against champion version 2 on 48 test reviews" in card.lower()
    assert f"McNemar exact p-value {weak_again['comparison']['p_value']:.4g}" in card
    assert f"| train | 36 | `{(workspace['prepared'] / 'train.npz').as_posix()}`" in card
    assert f"`{file_md5(workspace['test'])}`" in card and "| accuracy |" in card
    assert "last 24 tokens" in card and "Out-of-vocabulary share" in card
    assert "no p-value" in versions["1"].description


@pytest.mark.slow
def test_rerunning_the_gate_for_the_same_run_adds_no_version(
    workspace: dict[str, Path], mlflow_store: str
) -> None:
    assert run_validate(workspace) == 0
    first = train_evaluate_promote(workspace)
    assert run_promote(workspace) == 0
    again = json.loads(workspace["promotion"].read_text())
    mlflow.set_tracking_uri(mlflow_store)
    versions = mlflow.MlflowClient().search_model_versions(f"name='{REGISTERED_MODEL}'")
    assert [str(v.version) for v in versions] == ["1"]
    assert again["challenger"]["version"] == first["challenger"]["version"] == "1"
    assert again["reason"] == "this version already is the champion"


@pytest.mark.slow
def test_a_queued_experiment_does_not_touch_the_registry(
    workspace: dict[str, Path], mlflow_store: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert run_validate(workspace) == 0
    assert run_train(workspace) == 0
    assert run_evaluate(workspace) == 0
    temp_copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc123"
    temp_copy.mkdir(parents=True)
    monkeypatch.chdir(temp_copy)  # where `dvc exp run --queue` runs the stages
    assert run_promote(workspace) == 0
    report = json.loads(workspace["promotion"].read_text())
    assert report["decision"] == "skipped" and "dvc exp apply" in report["reason"]
    mlflow.set_tracking_uri(mlflow_store)
    assert mlflow.MlflowClient().search_model_versions(f"name='{REGISTERED_MODEL}'") == []


@pytest.mark.slow
def test_raw_text_model_gives_the_probabilities_of_prepare_plus_the_keras_model(
    workspace: dict[str, Path], mlflow_store: str
) -> None:
    """No training/serving skew: the same reviews, two paths, identical numbers."""
    import keras

    assert run_validate(workspace) == 0
    assert run_train(workspace) == 0
    assert run_evaluate(workspace) == 0
    texts, labels = load_test_reviews(workspace["reviews"], workspace["test"])
    with np.load(workspace["test"]) as npz:
        x, y = npz["x"], npz["y"]
    np.testing.assert_array_equal(labels, y)
    expected = keras.saving.load_model(workspace["model"]).predict(x, verbose=0).ravel()

    model_uri = json.loads(workspace["text_model"].read_text())["model_uri"]
    mlflow.set_tracking_uri(mlflow_store)
    served = mlflow.pyfunc.load_model(model_uri)
    cap = tiny_params()["serve"]["max_reviews_per_request"]  # fewer than the test reviews
    assert len(texts) > cap
    for given in (texts, pd.DataFrame({"text": texts})):
        answers = [a for i in range(0, len(texts), cap) for a in served.predict(given[i : i + cap])]
        probabilities = np.array([answer.probability for answer in answers])
        np.testing.assert_array_equal(probabilities, expected.astype(np.float64))
        assert [a.label for a in answers] == [SENTIMENT_LABELS[int(p >= 0.5)] for p in expected]
