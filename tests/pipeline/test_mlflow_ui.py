"""The MLflow UI, in headless Chromium, over runs that the train and evaluate stages logged."""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path

import mlflow
import pytest
import yaml

from benchmarks.ui_screenshots import CHROMIUM, capture_views, chromium
from devtools.servers import mlflow_server
from imdb_sentiment.tracking.names import EXPERIMENT
from tests.conftest import tiny_params
from tests.pipeline.stages import run_evaluate, run_train

pytestmark = pytest.mark.slow

EPOCHS = 3  # points per learning curve
# Run name as `dvc exp run -n` sets it (None: a workspace run), and its train.fit overrides.
RUNS: list[tuple[str | None, dict[str, float]]] = [
    ("batch-4", {"batch_size": 4}),
    ("lr-0.003", {"learning_rate": 0.003}),
    (None, {"batch_size": 16}),
]
CURVES = ("loss", "accuracy", "val_loss", "val_accuracy")  # logged with step = epoch
TEST_METRICS = ("test_accuracy", "test_f1", "test_roc_auc")


def log_runs(
    workspace: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> dict[str, mlflow.entities.Run]:
    """Train and evaluate once per entry of RUNS with the stages; the runs by name, in order."""
    # train only needs validate's verdict (validate has its own tests) and a report to log.
    workspace["validation"].parent.mkdir(parents=True, exist_ok=True)
    workspace["validation"].write_text(json.dumps({"success": True}))
    workspace["docs"].mkdir()
    run_ids = []
    for i, (name, fit) in enumerate(RUNS):
        if name:
            monkeypatch.setenv("DVC_EXP_NAME", name)
        else:
            monkeypatch.delenv("DVC_EXP_NAME", raising=False)
        params = yaml.safe_load(workspace["params"].read_text())
        params["train"]["fit"].update(epochs=EPOCHS, **fit)
        paths = outputs(workspace, Path(f"run{i}"))
        paths["params"].write_text(yaml.safe_dump(params, sort_keys=False))
        assert run_train(paths) == 0
        assert run_evaluate(paths) == 0
        run_ids.append(json.loads(paths["run"].read_text())["run_id"])
    found = [mlflow.get_run(run_id) for run_id in run_ids]
    return {run.info.run_name: run for run in found}


def outputs(workspace: dict[str, Path], folder: Path) -> dict[str, Path]:
    """The workspace's paths, with each run's params and outputs in `folder` (under the cwd)."""
    folder.mkdir()
    owned = ("params", "model", "run", "train_metrics", "history", "metrics", "text_model")
    paths = {**workspace, **{key: folder / workspace[key].name for key in owned}}
    paths["plots"] = folder / "plots"
    return paths


def table_rows(text: str) -> dict[str, list[str]]:
    """The compare page's tab-separated rows (first cell -> the others), from its text."""
    return {cells[0]: cells[1:] for line in text.splitlines() if len(cells := line.split("\t")) > 1}


def _missing_browser() -> str:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed: pip install -e '.[dev]'"
    if not CHROMIUM.exists():
        return f"no {CHROMIUM}: apt-get install chromium"
    return ""


def test_ui_compares_named_runs_by_params_metrics_and_per_epoch_curves(
    workspace: dict[str, Path],
    mlflow_store: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # A developer without a browser may skip it; CI (which installs both) must not.
    missing = _missing_browser()
    if missing:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(missing)
    monkeypatch.chdir(tmp_path)  # the project root: training backups land under it
    # Runs of a few seconds: MLflow's default 10 s sampling would log no system/* metric.
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    mlflow.set_tracking_uri(mlflow_store)
    # The schema first, or the server and the first stage would both create it at once.
    mlflow.MlflowClient().search_experiments()
    with mlflow_server(mlflow_store, tmp_path / "server") as server:  # boots while runs train
        runs = log_runs(workspace, monkeypatch)
        # Named as DVC or the workspace names them, not MLflow's seeded random (repeated) names.
        names = list(runs)
        assert names[:2] == [name for name, _ in RUNS[:2]]
        assert re.fullmatch(r"workspace-\d{8}-\d{6}", names[2]), names[2]
        experiment_id = runs[names[0]].info.experiment_id
        assert mlflow.get_experiment(experiment_id).name == EXPERIMENT
        by_id = {run.info.run_id: name for name, run in runs.items()}
        with chromium() as browser:
            url = server.wait_until_up()
            views = capture_views(browser, url, experiment_id, by_id, tmp_path / "ui")

    for view in views.values():
        assert view.screenshot.stat().st_size > 10_000, f"{view.screenshot} looks blank"
    table = views["runs"].text.splitlines()
    assert all(name in table for name in names), views["runs"].text

    compare = views["compare"].text
    assert f"Comparing {len(runs)} Runs" in compare
    rows = table_rows(compare)
    columns = [by_id[run_id] for run_id in rows["Run ID:"]]  # one column per run
    assert sorted(columns) == sorted(names)
    lines = compare.splitlines()
    assert all(name in lines for name in names), compare
    # Only the params that differ are shown ("Show diff only"), each with every run's value.
    fit = tiny_params()["train"]["fit"]
    for param in ("batch_size", "learning_rate"):
        shown = dict(zip(columns, rows[f"train.fit.{param}"], strict=True))
        overrides = [override for _, override in RUNS]
        logged = {
            name: str({**fit, **override}[param])
            for name, override in zip(names, overrides, strict=True)
        }
        assert shown == logged, param
    assert "base.seed" not in rows
    # The metrics box draws only the ~13 rows in view (react-virtualized), in name order:
    # the first ones are on the page (system/* now sorts before test_*); every metric gets a
    # card in the chart view below.
    first = ("accuracy", "fit_seconds", "loss", "system/cpu_utilization_percentage")
    assert all(metric in lines for metric in first), compare
    chart_lines = views["charts"].text.splitlines()
    assert all(metric in chart_lines for metric in (*CURVES, *TEST_METRICS, "fit_seconds"))

    charts = views["charts"].charts
    for metric in CURVES:
        assert metric in charts, f"no line chart of {metric}: {sorted(charts)}"
        assert charts[metric].steps == {name: [1, 2, 3] for name in names}, metric
        assert charts[metric].drawn_lines >= len(runs), metric
    # Logged once, at step 0: a bar per run, not a line.
    assert not set(TEST_METRICS) & set(charts)

    run_page = views["run"].text
    assert names[0] in run_page
    # The params that tell runs apart come first, not below the 15 in view.
    assert run_page.index("train.fit.batch_size") < run_page.index("validate.min_chars")
    assert "step = epoch" in run_page and "binary cross-entropy" in run_page
    assert "wall-clock seconds" in run_page and "fractions from 0 to 1" in run_page
