"""What a retrain report shows beyond its steps: the trigger, the diffs, the gate, MLflow links.

Gathered once the run is over, from the environment, git, DVC and the files the stages wrote.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imdb_sentiment.checkout import git_output
from imdb_sentiment.errors import first_line
from imdb_sentiment.retrain.dvc import dvc_diff
from imdb_sentiment.retrain.outcome import EXIT_PIPELINE_FAILED, Context, Outcome
from imdb_sentiment.tracking.names import REGISTERED_MODEL
from imdb_sentiment.tracking.preflight import (
    check_tracking_server,
    is_tracking_server,
    printable_uri,
)
from imdb_sentiment.tracking.store import run_experiment_id

LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves a local store


def gather_context(outcome: Outcome) -> Context:
    root, base = outcome.root, outcome.options.base
    succeeded = outcome.exit_code != EXIT_PIPELINE_FAILED
    promotion = _read_json(root / "reports" / "promotion.json") if succeeded else None
    stale = "not compared: the pipeline failed, so the workspace metrics are an earlier run's"
    return Context(
        trigger=trigger_lines(os.environ),
        commit=git_output(["rev-parse", "--short", "HEAD"], root) or "(no commit)",
        metrics=dvc_diff("metrics", base, root) if succeeded else stale,
        params=dvc_diff("params", base, root),
        promotion=promotion,
        mlflow=mlflow_links(root, promotion, outcome.options.tracking_uri) if succeeded else [],
    )


def trigger_lines(env: Mapping[str, str]) -> list[str]:
    """What started the run: the GitHub Actions event and run, or `local`."""
    event = env.get("GITHUB_EVENT_NAME")
    if not event:
        return ["local"]
    lines = [f"GitHub Actions `{event}`"]
    if env.get("GITHUB_SHA"):
        lines.append(f"commit `{env['GITHUB_SHA']}`")
    run_id = env.get("GITHUB_RUN_ID")
    if run_id:
        server, repository = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY")
        link = f"{server}/{repository}/actions/runs/{run_id}" if server and repository else ""
        lines.append(f"run [{run_id}]({link})" if link else f"run {run_id}")
    return lines


def mlflow_links(root: Path, promotion: dict[str, Any] | None, uri: str) -> list[str]:
    """Markdown lines pointing at the run and the model version in MLflow.

    `uri` is the store the retrain's stages logged to, resolved once at its start (the
    stages inherit the same environment); models/run.json names only the run.
    """
    run = _read_json(root / "models" / "run.json")
    if not run:
        return ["no models/run.json: no run to link to"]
    run_id = run.get("run_id", "")
    try:
        experiment_id = _experiment_of(uri, run_id)
    except Exception as exc:  # links are a convenience: the report goes out without them
        return [f"run `{run_id}` in `{printable_uri(uri)}` (cannot look it up: {first_line(exc)})"]
    version = (promotion or {}).get("challenger", {}).get("version")
    if is_tracking_server(uri):
        ui = printable_uri(uri).rstrip("/")
        lines = [f"run: [{run_id}]({ui}/#/experiments/{experiment_id}/runs/{run_id})"]
        if version:
            lines.append(
                f"model version: [{REGISTERED_MODEL} v{version}]({model_url(ui, version)})"
            )
        return lines
    shown = printable_uri(uri)
    lines = [
        f"run `{run_id}` in `{shown}`; to browse it: `mlflow ui --backend-store-uri {shown}`, "
        f"then {LOCAL_UI}/#/experiments/{experiment_id}/runs/{run_id}"
    ]
    if version:
        lines.append(
            f"model version: {REGISTERED_MODEL} v{version}, {model_url(LOCAL_UI, version)}"
        )
    return lines


def model_url(ui: str, version: str) -> str:
    return f"{ui}/#/models/{REGISTERED_MODEL}/versions/{version}"


def _experiment_of(uri: str, run_id: str) -> str:
    check_tracking_server(uri)  # fails in seconds, where MLflow's client retries for minutes
    return run_experiment_id(uri, run_id)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
