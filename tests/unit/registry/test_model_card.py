"""The model card, rendered from the plain facts a run records."""

from __future__ import annotations

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
        "seed_spread.test_accuracy_std": 0.0013,
    }
    card = render_card(facts(metrics=metrics))
    assert "## Slices (test set)" in card
    assert "| length.long | accuracy 0.8100, count 4000 |" in card
    assert "| negation | pass_rate 0.7000 |" in card
    assert "| test_accuracy_std | 0.0013 |" in card
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
