"""Ranking runs for selection, on a real MLflow store: validation decides, test stays hidden."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from imdb_sentiment.tracking.ranking import rank_runs, reference_val_set
from tests.unit.tracking.fake_runs import PARAMS, add_reference_run, add_run, flat_params


def test_runs_on_another_validation_set_are_left_out_and_counted(
    runs_store: tuple[str, MlflowClient, str],
) -> None:
    _, client, exp = runs_store
    add_run(client, exp, "ref", flat_params(), val=0.85, test=0.85)
    add_run(client, exp, "other-seed", flat_params(**{"base.seed": 7}), val=0.95, test=0.95)
    add_run(client, exp, "capped", flat_params(**{"prepare.max_reviews_per_split": 500}), 0.9, 0.9)
    runs = client.search_runs([exp])
    read: list[str] = []

    ranking = rank_runs(runs, reference_val_set(PARAMS), 1, lambda r: read.append(r) or 0.85)

    assert [c.name for c in ranking.ranked] == ["ref"]
    assert ranking.other_val_sets == 2
    assert read == [ranking.selected[0].best.run_id]  # test is read for the selected run only


def test_ties_on_val_accuracy_go_to_the_lower_val_loss(
    runs_store: tuple[str, MlflowClient, str],
) -> None:
    _, client, exp = runs_store
    a = add_run(client, exp, "a", flat_params(), val=0.9, test=0.9)
    b = add_run(client, exp, "b", flat_params(**{"prepare.maxlen": 200}), val=0.9, test=0.9)
    client.log_metric(b, "model_val_accuracy", 0.9)
    client.log_metric(b, "model_val_loss", 0.3)  # early stopping's kept epoch: lower loss
    ranking = rank_runs(client.search_runs([exp]), reference_val_set(PARAMS), 2, lambda r: None)
    assert [c.run_id for c in ranking.ranked] == [b, a]
    assert ranking.test_accuracy == {b: None, a: None}


def test_the_saved_epoch_counts_not_the_last(runs_store: tuple[str, MlflowClient, str]) -> None:
    _, client, exp = runs_store
    stopped = add_run(client, exp, "stopped", flat_params(), val=0.80, test=0.9, epochs=4)
    for key, value in {"model_val_accuracy": 0.91, "model_val_loss": 0.3, "model_epoch": 2}.items():
        client.log_metric(stopped, key, value)
    add_run(client, exp, "plain", flat_params(**{"prepare.maxlen": 200}), val=0.9, test=0.9)
    ranking = rank_runs(
        client.search_runs([exp]),
        reference_val_set(PARAMS),
        1,
        lambda r: None,
        lambda r: len(client.get_metric_history(r, "loss")),
    )
    top = ranking.ranked[0]
    assert (top.name, top.val_accuracy, top.model_epoch, top.epochs) == ("stopped", 0.91, 2, 4)


def test_runs_that_differ_only_in_their_seed_are_one_configuration_ranked_by_mean(
    runs_store: tuple[str, MlflowClient, str],
) -> None:
    _, client, exp = runs_store
    # Earlier runs of seeds 2 and 42 (predating the train.seed param): a rerun of a seed is
    # the same sample again, so only the newest run of each seed counts.
    add_run(client, exp, "d2-before", flat_params(**{"train.seed": 2}), val=0.5, test=0.5)
    add_run(client, exp, "d0-before", flat_params(), val=0.5, test=0.5)
    # The defaults over three seeds; train logs a null train.seed as the base.seed it used.
    seeded = [
        add_run(client, exp, "d0", flat_params(**{"train.seed": 42}), val=0.88, test=0.86),
        add_run(client, exp, "d1", flat_params(**{"train.seed": 1}), val=0.86, test=0.85),
        add_run(client, exp, "d2", flat_params(**{"train.seed": 2}), val=0.87, test=0.87),
    ]
    single = add_run(client, exp, "long", flat_params(**{"prepare.maxlen": 400}), 0.875, 0.9)
    read: list[str] = []

    def read_test(run_id: str) -> float:
        read.append(run_id)
        return client.get_run(run_id).data.metrics["test_accuracy"]

    runs = client.search_runs([exp])
    ranking = rank_runs(runs, reference_val_set(PARAMS), 1, read_test)

    # 0.875 beats the defaults' mean of 0.87, though not their best seed (0.88).
    assert [[c.run_id for c in config.runs] for config in ranking.configurations] == [
        [single],
        [seeded[0], seeded[2], seeded[1]],  # best seed first
    ]
    defaults = ranking.configurations[1]
    assert defaults.val_accuracy.mean == pytest.approx(0.87)
    assert defaults.val_accuracy.sd == pytest.approx(0.01)
    assert defaults.seeds == ["42", "2", "1"]
    assert read == [single]  # nothing of the defaults' test set is read without `current`

    ranking = rank_runs(runs, reference_val_set(PARAMS), 1, read_test, current=PARAMS)
    assert ranking.current is ranking.configurations[1]
    test = ranking.current.test_accuracy(ranking.test_accuracy)
    assert (test.mean, test.n) == (pytest.approx(0.86), 3)


def test_a_reference_run_is_never_a_candidate(runs_store: tuple[str, MlflowClient, str]) -> None:
    _, client, exp = runs_store
    add_reference_run(client, exp, "nbsvm-old", val=0.95, test=0.90)
    newest = add_reference_run(client, exp, "nbsvm", val=0.96, test=0.91)
    add_reference_run(client, exp, "nbsvm-capped", 0.97, 0.5, **{"base.seed": 7})
    lstm = add_run(client, exp, "lstm", flat_params(), val=0.85, test=0.85)

    ranking = rank_runs(client.search_runs([exp]), reference_val_set(PARAMS), 3, lambda r: 0.8)

    assert [c.run_id for c in ranking.ranked] == [lstm]
    assert ranking.other_val_sets == 0  # references are not counted as candidates at all
    # The newest of each reference configuration on the same validation set, test included.
    assert [(r.run_id, r.model_family, r.test_accuracy) for r in ranking.references] == [
        (newest, "nbsvm", 0.91)
    ]
