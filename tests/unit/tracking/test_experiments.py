"""The `experiments` report on a real MLflow store: written, logged to the selected run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from imdb_sentiment.tracking.experiments import write_ranking_report
from imdb_sentiment.tracking.ranking import RankingError
from tests.unit.tracking.fake_runs import PARAMS, add_reference_run, add_run, flat_params


def test_the_best_validation_run_is_selected_and_only_its_test_accuracy_is_shown(
    runs_store: tuple[str, MlflowClient, str], tmp_path: Path
) -> None:
    uri, client, exp = runs_store
    # params.yaml's configuration: its test accuracy is shown too, beside the selected one.
    short = add_run(client, exp, "short", flat_params(), val=0.85, test=0.9911)
    best = add_run(client, exp, "long", flat_params(**{"prepare.maxlen": 400}), val=0.89, test=0.88)
    add_run(client, exp, "bi", flat_params(**{"train.model.bidirectional": True}), 0.87, 0.9922)
    add_run(client, exp, "crashed", flat_params(), val=0.99, test=None, status="FAILED")
    out = tmp_path / "reports" / "experiments.md"

    ranking = write_ranking_report(uri, PARAMS, out)

    assert [c.name for c in ranking.ranked] == ["long", "bi", "short"]
    assert [c.best.run_id for c in ranking.selected] == [best]
    assert ranking.test_accuracy == {best: 0.88, short: 0.9911}
    text = out.read_text()
    assert "0.8800" in text and "0.9922" not in text  # neither selected nor params.yaml's
    assert "| short (params.yaml) |" in text and "**0.9911**" in text
    assert "Beside it, params.yaml's configuration **short**" in text
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


def test_null_params_are_written_as_yaml_null_in_the_reproduce_line(
    runs_store: tuple[str, MlflowClient, str], tmp_path: Path
) -> None:
    uri, client, exp = runs_store
    add_run(client, exp, "es", flat_params(**{"train.fit.early_stopping_patience": 2}), 0.9, 0.9)
    current = {**PARAMS, "train": {**PARAMS["train"], "fit": {"early_stopping_patience": 5}}}
    write_ranking_report(uri, current, tmp_path / "e.md")
    assert "-S train.fit.early_stopping_patience=2`" in (tmp_path / "e.md").read_text()
    add_run(client, exp, "seedlike", flat_params(), 0.95, 0.9)
    write_ranking_report(uri, current, tmp_path / "e.md")
    assert "-S train.fit.early_stopping_patience=null`" in (tmp_path / "e.md").read_text()


def test_no_comparable_run_is_a_one_line_error(
    runs_store: tuple[str, MlflowClient, str], tmp_path: Path
) -> None:
    uri, client, exp = runs_store
    add_run(client, exp, "other-seed", flat_params(**{"base.seed": 7}), val=0.95, test=0.95)
    out = tmp_path / "experiments.md"
    with pytest.raises(RankingError, match=r"no finished run .*base\.seed=42.*1 other runs"):
        write_ranking_report(uri, PARAMS, out)
    assert not out.exists()


def test_the_command_writes_the_report_and_names_the_selected_run(
    runs_store: tuple[str, MlflowClient, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from imdb_sentiment.cli import main

    uri, client, exp = runs_store
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


def test_seeds_are_summarized_and_the_baseline_is_a_reference_line(
    runs_store: tuple[str, MlflowClient, str], tmp_path: Path
) -> None:
    uri, client, exp = runs_store
    long = flat_params(**{"prepare.maxlen": 400})
    picked = [
        add_run(client, exp, "long", long, val=0.90, test=0.89),
        add_run(client, exp, "long-s1", long | {"train.seed": "1"}, val=0.88, test=0.87),
    ]
    add_run(client, exp, "short", flat_params(), val=0.86, test=0.85)
    add_run(client, exp, "short-s1", flat_params(**{"train.seed": 1}), val=0.84, test=0.83)
    add_run(client, exp, "bi", flat_params(**{"train.model.bidirectional": True}), 0.87, 0.9922)
    nbsvm = add_reference_run(client, exp, "nbsvm-ws", val=0.9876, test=0.9123)
    out = tmp_path / "experiments.md"

    ranking = write_ranking_report(uri, PARAMS, out)

    assert [c.best.name for c in ranking.configurations] == ["long", "bi", "short"]
    text = out.read_text()
    header = next(line for line in text.splitlines() if line.startswith("| rank"))
    assert "| seeds |" in header and "train.seed" not in header and "| seed |" not in header
    assert "| long | False | 400 | 2 | 2/2 | 0.8900 ± 0.0141 |" in text
    assert "**0.8800 ± 0.0141**" in text  # test mean ± sd of the selected configuration
    assert "| short (params.yaml) |" in text and "**0.8400 ± 0.0141**" in text
    assert "0.9922" not in text  # neither selected nor params.yaml's
    assert "once per `-S train.seed=` null, 1" in text
    assert "-S prepare.maxlen=400`" in text and "-S train.seed=1 " not in text
    # The baseline: a reference line with its test accuracy, never ranked or selected.
    assert "## Reference baselines" in text and "| nbsvm-ws | nbsvm | 0.9876 | 0.9123 |" in text
    assert nbsvm not in [c.run_id for c in ranking.ranked]
    assert "selection.val_rank" not in client.get_run(nbsvm).data.tags
    for run_id in picked:  # every seed of the selected configuration carries the report
        assert client.get_run(run_id).data.tags["selection.val_rank"] == "1"
