"""evaluate's slices and behaviour checks, and the gate's guards, on real tiny runs.

The challenger that regresses on one slice is a real model served through the real gate: the
trained tiny model wrapped, with Keras' own layers, so that it answers the opposite on the
reviews whose row is full (truncated at maxlen). The champion is the same model answering
the opposite on the other reviews: the challenger wins overall and loses the truncated slice.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
import yaml

from imdb_sentiment.tracking.names import CHAMPION, REGISTERED_MODEL
from pipeline import prepare
from tests.pipeline.stages import argv, run_evaluate, run_promote, run_train, run_validate

STRONG = {"learning_rate": 0.01, "epochs": 6}  # learns the tiny reviews' cue words


def set_params(path: Path, section: str, **values: object) -> None:
    params = yaml.safe_load(path.read_text())
    target = params
    for key in section.split("."):
        target = target[key]
    target.update(values)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def flipped(model: keras.Model, maxlen: int, max_features: int, full_rows: bool) -> keras.Model:
    """`model`, answering 1 - p on full rows (a token in the first position), or on the others.

    Built-in layers only, so the .keras file loads in evaluate and in the served model.
    """
    ids = keras.Input(shape=(maxlen,), dtype="int32")
    p = model(ids)  # (batch, 1)
    marks, combine = keras.layers.Embedding(max_features, 1), keras.layers.Dense(1)
    first = keras.layers.Cropping1D((0, maxlen - 1))(marks(ids))  # (batch, 1, 1)
    full = keras.layers.Flatten()(first)  # (batch, 1): 1.0 where the row is full
    wrapped = keras.Model(
        ids, combine(keras.layers.Concatenate()([full, p, keras.layers.Multiply()([full, p])]))
    )
    ones = np.ones((max_features, 1), dtype="float32")
    ones[0] = 0.0  # padding
    marks.set_weights([ones])
    # full_rows: f + p - 2fp; else, with g = 1 - f: 1 - f - p + 2fp.
    w, b = ([1.0, 1.0, -2.0], 0.0) if full_rows else ([-1.0, -1.0, 2.0], 1.0)
    combine.set_weights([np.array(w, "float32")[:, None], np.array([b], "float32")])
    return wrapped


def train_flipped_evaluate_promote(p: dict[str, Path], full_rows: bool) -> dict:
    assert run_train(p) == 0
    params = yaml.safe_load(p["params"].read_text())["prepare"]
    model = keras.saving.load_model(p["model"])
    flipped(model, params["maxlen"], params["max_features"], full_rows).save(p["model"])
    assert run_evaluate(p) == 0
    assert run_promote(p) == 0
    return json.loads(p["promotion"].read_text())


@pytest.mark.slow
def test_evaluate_writes_and_logs_slices_and_behaviour(
    workspace: dict[str, Path], mlflow_store: str
) -> None:
    assert run_validate(workspace) == 0
    set_params(workspace["params"], "train.fit", **STRONG)
    assert run_train(workspace) == 0
    assert run_evaluate(workspace) == 0
    slices = json.loads(workspace["slices"].read_text())
    behaviour = json.loads(workspace["behaviour"].read_text())["checks"]
    test = json.loads(workspace["metrics"].read_text())["test"]
    rows = slices["slices"]
    assert slices["maxlen"] == 24
    assert rows["length.fits"]["count"] + rows["length.truncated"]["count"] == 48
    assert sum(rows[f"length.q{q}"]["count"] for q in (1, 2, 3, 4)) == 48
    assert sum(rows[name]["count"] for name in rows if name.startswith("rating.")) == 48
    # Accuracy over the two length slices is the overall accuracy.
    right = sum(rows[n]["count"] * rows[n]["accuracy"] for n in ("length.fits", "length.truncated"))
    assert right / 48 == pytest.approx(test["accuracy"])
    assert set(behaviour) == {"negation", "intensifier", "noise", "typo", "names", "truncation"}
    assert behaviour["noise"]["pass_rate"] == 1.0  # the tokenizer drops <br /> and spaces
    mlflow.set_tracking_uri(mlflow_store)
    client = mlflow.MlflowClient()
    run_id = json.loads(workspace["run"].read_text())["run_id"]
    metrics = client.get_run(run_id).data.metrics
    truncated = rows["length.truncated"]["accuracy"]
    assert metrics["test_slice/length.truncated.accuracy"] == truncated
    assert metrics["test_behaviour/negation.pass_rate"] == behaviour["negation"]["pass_rate"]
    logged = {a.path for a in client.list_artifacts(run_id, "evaluation")}
    assert {"evaluation/slices.json", "evaluation/behaviour.json"} <= logged


@pytest.mark.slow
def test_a_challenger_that_wins_overall_but_loses_a_slice_or_a_behaviour_is_refused(
    workspace: dict[str, Path], mlflow_store: str
) -> None:
    # Rows of 27: 12 of the 48 test reviews fill their row, 11 of them are cut. The challenger
    # gets 36 right and those 12 wrong, the champion exactly the opposite: significant overall
    # (McNemar p = 7e-4) and on the truncated slice (p = 2**-11, times 11 slices after Holm).
    set_params(workspace["params"], "prepare", maxlen=27)
    flags = {"params": "params", "reviews": "reviews", "out": "prepared"}
    assert prepare.main(argv(workspace, **flags)) == 0
    assert run_validate(workspace) == 0
    set_params(workspace["params"], "train.fit", **STRONG)
    champion = train_flipped_evaluate_promote(workspace, full_rows=False)
    assert champion["decision"] == "promoted" and champion["decided_by"] == "overall"

    report = train_flipped_evaluate_promote(workspace, full_rows=True)
    assert report["comparison"]["accuracy_gain"] > 0.4, report["comparison"]
    assert report["comparison"]["p_value"] < 0.05
    assert report["decision"] == "rejected", report["reason"]
    # The 11 longer reviews are also the top length quartile: the two slices tie.
    decided_by = report["decided_by"]
    assert decided_by in ("slice length.truncated", "slice length.q4"), report["reason"]
    assert report["reason"].startswith(f"{decided_by}: significantly worse")
    truncated = report["guards"]["slices"]["length.truncated"]
    assert truncated["challenger_accuracy"] < truncated["champion_accuracy"]
    assert truncated["p_holm"] < 0.05
    mlflow.set_tracking_uri(mlflow_store)
    client = mlflow.MlflowClient()
    version = client.get_model_version(REGISTERED_MODEL, report["challenger"]["version"])
    assert version.tags["promotion.decided_by"] == decided_by
    assert version.tags["promotion.reason"] == report["reason"]
    assert str(client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION).version) == "1"

    # With the slice rule out of reach, a behaviour check decides: the two models answer
    # opposite ways on every template review, short ones and long ones (truncation).
    set_params(workspace["params"], "promote", slice_alpha=1e-300, max_behaviour_drop=0.1)
    assert run_promote(workspace) == 0
    report = json.loads(workspace["promotion"].read_text())
    checks = report["guards"]["behaviour"]
    worst = max(checks, key=lambda check: checks[check]["drop"])
    assert report["decision"] == "rejected"
    assert report["decided_by"] == f"behaviour {worst}", (report["reason"], checks)
    assert checks[worst]["drop"] > 0.1 and report["reason"].startswith(f"behaviour {worst}: ")
    assert checks["noise"]["drop"] == 0.0  # both models ignore markup alike

    # With both guards relaxed, the overall win stands.
    set_params(workspace["params"], "promote", max_behaviour_drop=1.0)
    assert run_promote(workspace) == 0
    report = json.loads(workspace["promotion"].read_text())
    assert report["decision"] == "promoted" and report["decided_by"] == "overall"
    assert "no slice and no behaviour check lost" in report["reason"]
    assert str(client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION).version) == "2"
