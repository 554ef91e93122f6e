"""Ranking runs for selection, on a real MLflow store: validation decides, test stays hidden."""

from __future__ import annotations

from mlflow import MlflowClient

from imdb_sentiment.tracking.ranking import rank_runs, reference_val_set
from tests.unit.tracking.fake_runs import PARAMS, add_run, flat_params


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
    assert read == [ranking.selected[0].run_id]  # test is read for the selected run only


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
