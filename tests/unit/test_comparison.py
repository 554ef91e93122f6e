"""Ranking runs for selection, on a real MLflow store: validation decides, test stays hidden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow import MlflowClient

from imdb_sentiment.tracking.experiments import (
    ComparisonError,
    compare,
    reference_val_set,
    write_report,
)
from imdb_sentiment.tracking.names import EXPERIMENT

PARAMS: dict[str, Any] = {
    "base": {"seed": 42},
    "prepare": {"maxlen": 100, "val_fraction": 0.05, "max_reviews_per_split": None},
    "train": {"model": {"bidirectional": False}, "fit": {"early_stopping_patience": None}},
}


def flat_params(**changes: Any) -> dict[str, str]:
    params = {
        "base.seed": "42",
        "prepare.maxlen": "100",
        "prepare.val_fraction": "0.05",
        "prepare.max_reviews_per_split": "None",
        "train.model.bidirectional": "False",
        "train.fit.early_stopping_patience": "None",
        "validate.max_pad_fraction": "0.25",
    }
    return params | {k: str(v) for k, v in changes.items()}


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, MlflowClient, str]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    return uri, client, client.create_experiment(EXPERIMENT)


def add_run(
    client: MlflowClient,
    experiment_id: str,
    name: str,
    params: dict[str, str],
    val: float,
    test: float | None,
    status: str = "FINISHED",
    epochs: int = 2,
) -> str:
    run = client.create_run(experiment_id, run_name=name, tags={"dvc.exp_name": name})
    run_id = run.info.run_id
    for key, value in params.items():
        client.log_param(run_id, key, value)
    for step in range(1, epochs + 1):
        client.log_metric(run_id, "loss", 0.5 / step, step=step)
        client.log_metric(run_id, "val_accuracy", val - 0.01 * (epochs - step), step=step)
        client.log_metric(run_id, "val_loss", 0.4, step=step)
    if test is not None:
        client.log_metric(run_id, "test_accuracy", test)
    client.set_terminated(run_id, status)
    return run_id


def test_the_best_validation_run_is_selected_and_only_its_test_accuracy_is_shown(
    store: tuple[str, MlflowClient, str], tmp_path: Path
) -> None:
    uri, client, exp = store
    add_run(client, exp, "short", flat_params(), val=0.85, test=0.9911)  # best test, worse val
    best = add_run(client, exp, "long", flat_params(**{"prepare.maxlen": 400}), val=0.89, test=0.88)
    add_run(client, exp, "bi", flat_params(**{"train.model.bidirectional": True}), 0.87, 0.9922)
    add_run(client, exp, "crashed", flat_params(), val=0.99, test=None, status="FAILED")
    out = tmp_path / "reports" / "experiments.md"

    comparison = write_report(uri, PARAMS, out)

    assert [c.name for c in comparison.ranked] == ["long", "bi", "short"]
    assert [c.run_id for c in comparison.selected] == [best]
    assert comparison.test_accuracy == {best: 0.88}
    text = out.read_text()
    assert "0.8800" in text and "0.9911" not in text and "0.9922" not in text
    assert "crashed" not in text  # unfinished runs are not candidates
    assert "dvc exp run -S prepare.maxlen=400`" in text
    # The columns are the params that vary; the validation split's are not among them.
    header = next(line for line in text.splitlines() if line.startswith("| rank"))
    assert "prepare.maxlen" in header and "model.bidirectional" in header
    assert "seed" not in header and "validate" not in header
    # The report travels with the selected run.
    logged = client.download_artifacts(best, "selection/experiments.md", str(tmp_path / "dl"))
    assert Path(logged).read_text() == text
    assert client.get_run(best).data.tags["selection.val_rank"] == "1"


def test_runs_on_another_validation_set_are_left_out_and_counted(
    store: tuple[str, MlflowClient, str],
) -> None:
    _, client, exp = store
    add_run(client, exp, "ref", flat_params(), val=0.85, test=0.85)
    add_run(client, exp, "other-seed", flat_params(**{"base.seed": 7}), val=0.95, test=0.95)
    add_run(client, exp, "capped", flat_params(**{"prepare.max_reviews_per_split": 500}), 0.9, 0.9)
    runs = client.search_runs([exp])
    read: list[str] = []

    comparison = compare(runs, reference_val_set(PARAMS), 1, lambda r: read.append(r) or 0.85)

    assert [c.name for c in comparison.ranked] == ["ref"]
    assert comparison.other_val_sets == 2
    assert read == [comparison.selected[0].run_id]  # test is read for the selected run only


def test_ties_on_val_accuracy_go_to_the_lower_val_loss(
    store: tuple[str, MlflowClient, str],
) -> None:
    _, client, exp = store
    a = add_run(client, exp, "a", flat_params(), val=0.9, test=0.9)
    b = add_run(client, exp, "b", flat_params(**{"prepare.maxlen": 200}), val=0.9, test=0.9)
    client.log_metric(b, "model_val_accuracy", 0.9)
    client.log_metric(b, "model_val_loss", 0.3)  # early stopping's kept epoch: lower loss
    comparison = compare(client.search_runs([exp]), reference_val_set(PARAMS), 2, lambda r: None)
    assert [c.run_id for c in comparison.ranked] == [b, a]
    assert comparison.test_accuracy == {b: None, a: None}


def test_the_saved_epoch_counts_not_the_last(store: tuple[str, MlflowClient, str]) -> None:
    _, client, exp = store
    stopped = add_run(client, exp, "stopped", flat_params(), val=0.80, test=0.9, epochs=4)
    for key, value in {"model_val_accuracy": 0.91, "model_val_loss": 0.3, "model_epoch": 2}.items():
        client.log_metric(stopped, key, value)
    add_run(client, exp, "plain", flat_params(**{"prepare.maxlen": 200}), val=0.9, test=0.9)
    comparison = compare(
        client.search_runs([exp]),
        reference_val_set(PARAMS),
        1,
        lambda r: None,
        lambda r: len(client.get_metric_history(r, "loss")),
    )
    top = comparison.ranked[0]
    assert (top.name, top.val_accuracy, top.model_epoch, top.epochs) == ("stopped", 0.91, 2, 4)


def test_null_params_are_written_as_yaml_null_in_the_reproduce_line(
    store: tuple[str, MlflowClient, str], tmp_path: Path
) -> None:
    uri, client, exp = store
    add_run(client, exp, "es", flat_params(**{"train.fit.early_stopping_patience": 2}), 0.9, 0.9)
    current = {**PARAMS, "train": {**PARAMS["train"], "fit": {"early_stopping_patience": 5}}}
    write_report(uri, current, tmp_path / "e.md")
    assert "-S train.fit.early_stopping_patience=2`" in (tmp_path / "e.md").read_text()
    add_run(client, exp, "seedlike", flat_params(), 0.95, 0.9)
    write_report(uri, current, tmp_path / "e.md")
    assert "-S train.fit.early_stopping_patience=null`" in (tmp_path / "e.md").read_text()


def test_no_comparable_run_is_a_one_line_error(
    store: tuple[str, MlflowClient, str], tmp_path: Path
) -> None:
    uri, client, exp = store
    add_run(client, exp, "other-seed", flat_params(**{"base.seed": 7}), val=0.95, test=0.95)
    out = tmp_path / "experiments.md"
    with pytest.raises(ComparisonError, match=r"no finished run .*base\.seed=42.*1 other runs"):
        write_report(uri, PARAMS, out)
    assert not out.exists()


def test_the_command_writes_the_report_and_names_the_selected_run(
    store: tuple[str, MlflowClient, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from imdb_sentiment.cli import main

    uri, client, exp = store
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(PARAMS))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    out = tmp_path / "experiments.md"
    args = ["experiments", "--params", str(params_file), "--report", str(out)]

    assert main(args) == 1  # an empty store: one line, no report
    assert capsys.readouterr().err.count("\n") == 1 and not out.exists()

    add_run(client, exp, "long", flat_params(**{"prepare.maxlen": 400}), val=0.89, test=0.88)
    add_run(client, exp, "short", flat_params(), val=0.85, test=0.99)
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "2 runs ranked" in printed
    assert "selected long: val accuracy 0.8900, test accuracy 0.8800" in printed
    assert out.is_file()
