"""The model card, rendered from the plain facts a run records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from imdb_sentiment.registry.model_card import (
    CARD_FILE,
    NOT_FOR,
    CardFacts,
    fit_description,
    render_card,
)

GATE = {
    "decision": "promoted",
    "reason": "accuracy gain +0.0120 >= 0.002 with p=0.0031 < 0.05",
    "champion": {"version": "2"},
    "comparison": {
        "n": 25000,
        "challenger_accuracy": 0.8626,
        "champion_accuracy": 0.8506,
        "p_value": 0.003125,
    },
    "champion_after": "3",
    "decided_at": "2026-11-26T13:34:30+00:00",
}


def facts(**changes: object) -> CardFacts:
    base = dict(
        model_name="imdb-sentiment",
        version="3",
        run_id="abc123",
        params={"prepare.maxlen": "100", "data.vocab_size": "20000", "evaluate.threshold": "0.5"},
        metrics={"test_accuracy": 0.8626, "test_tp": 10981.0, "fit_seconds": 500.0},
        datasets=[
            {"name": "test", "digest": "c" * 32, "source": "data/prepared/test.npz", "rows": 25000},
            {
                "name": "train",
                "digest": "a" * 32,
                "source": "data/prepared/train.npz",
                "rows": 23750,
            },
            {"name": "val", "digest": "b" * 32, "source": "data/prepared/val.npz", "rows": 1250},
        ],
        meta={"maxlen": 100, "vocab_size": 20000, "oov_rate": {"train": 0.024, "test": 0.03}},
        gate=GATE,
    )
    return CardFacts(**{**base, **changes})


def test_card_holds_use_data_metrics_limits_and_the_gates_decision() -> None:
    card = render_card(facts())
    assert card.startswith("# imdb-sentiment version 3\n") and "`abc123`" in card
    assert "English movie reviews" in card and NOT_FOR in card
    # Each split with its rows, DVC path and md5, train first.
    train = "| train | 23750 | `data/prepared/train.npz` | `" + "a" * 32 + "` |"
    assert train in card and card.index(train) < card.index("| test | 25000 |")
    assert "| accuracy | 0.8626 |" in card and "| tp | 10981 |" in card
    assert "fit_seconds" not in card  # only test metrics
    assert "last 100 tokens" in card and "cut at the front" in card
    assert "20000 token ids" in card and "train 0.024, test 0.030" in card
    assert "probability >= 0.5" in card
    assert "**promoted**" in card and "McNemar exact p-value 0.003125" in card
    assert "champion version 2 on 25000 test reviews" in card
    # Sections for facts the run lacks are left out.
    for absent in ("## Slices", "## Behavioural checks", "## Spread over seeds"):
        assert absent not in card


def test_slices_behaviour_and_seed_spread_appear_when_the_run_has_them() -> None:
    metrics = {
        "test_accuracy": 0.85,
        "test_slice/length.long.accuracy": 0.81,
        "test_slice/length.long.count": 4000.0,
        "test_behaviour/negation.pass_rate": 0.7,
    }
    spread = {"test accuracy": "0.8900 ± 0.0031 (3 seeds)"}
    card = render_card(facts(metrics=metrics, seed_spread=spread))
    assert "## Slices (test set)" in card
    assert "| length.long | accuracy 0.8100, count 4000 |" in card
    assert "| negation | pass_rate 0.7000 |" in card
    assert "## Spread over seeds" in card
    assert "| test accuracy | 0.8900 ± 0.0031 (3 seeds) |" in card
    overall = card.split("## Test metrics")[1].split("## ")[0]
    assert "| accuracy | 0.8500 |" in overall and "slice" not in overall  # the whole set only


def test_a_first_version_has_no_p_value_and_counts_fall_back_to_params() -> None:
    gate = {"decision": "promoted", "reason": "no champion yet", "champion_after": "1"}
    params = {"data.n_train": "36", "data.n_val": "12", "data.n_test": "48"}
    card = render_card(facts(gate=gate, datasets=[], meta={}, params=params))
    assert "no p-value" in card and "McNemar" not in card
    assert "| train | 36 | | |" in card and "| test | 48 | | |" in card
    assert "## Known limits" not in card  # neither meta nor params say maxlen or vocabulary


def test_a_long_card_is_shortened_at_a_section_for_the_description() -> None:
    metrics = {f"test_slice/genre{i}.accuracy": 0.5 for i in range(400)}
    card = render_card(facts(metrics={"test_accuracy": 0.85, **metrics}))
    assert len(card) > 5000
    description = fit_description(card)
    assert len(description) <= 5000 and CARD_FILE in description
    assert "## Test metrics" in description and "genre1" not in description
    short = render_card(facts())
    assert fit_description(short) == short


def test_the_seed_spread_is_read_from_the_runs_of_the_same_configuration(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from imdb_sentiment.registry.model_card import seed_spread

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("e", artifact_location=str(tmp_path / "artifacts"))

    def finished_run(seed: str, maxlen: str, val: float, test: float | None, **more: str) -> Any:
        run_id = client.create_run(experiment).info.run_id
        params = {"train.seed": seed, "prepare.maxlen": maxlen, "base.seed": "42", **more}
        for key, value in params.items():
            client.log_param(run_id, key, value)
        client.log_metric(run_id, "val_accuracy", val)
        if test is not None:
            client.log_metric(run_id, "test_accuracy", test)
        client.set_terminated(run_id)
        return client.get_run(run_id)

    # Params that do not set the model (serve.*), or that an older run lacks, set no run apart.
    finished_run("1", "800", 0.50, 0.50)  # seed 1 again, before: the newest run counts
    mine = finished_run("1", "800", 0.90, 0.89, **{"serve.max_chars_per_review": "100"})
    finished_run("2", "800", 0.92, 0.91, **{"train.model.spatial_dropout": "0.0"})
    finished_run("3", "800", 0.91, None)  # not evaluated: counts for validation only
    finished_run("1", "100", 0.85, 0.85)  # another configuration
    reference = finished_run("5", "800", 0.91, 0.91)
    client.set_tag(reference.info.run_id, "reference_baseline", "true")  # NBSVM: not a seed
    finished_run("4", "800", 0.99, 0.99, **{"base.seed": "7"})  # another validation set
    spread = seed_spread(client, mine)
    assert spread["seeds"] == "1, 2, 3"
    assert spread["validation accuracy"] == "0.9100 ± 0.0100 (3 seeds)"
    assert spread["test accuracy"] == "0.9000 ± 0.0141 (2 seeds)"
    alone = finished_run("1", "400", 0.88, 0.87)
    assert seed_spread(client, alone) == {}  # one run is no spread
