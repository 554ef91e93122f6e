"""The pipeline's stages as `dvc repro` runs them, on a machine without DVC; then the MLflow store.

For the lent GPU machine (no DVC, TensorFlow or Great Expectations there): each stage's command
is read from dvc.yaml and run, in DAG order, in a scratch folder that holds params.yaml and
dvc.yaml, with MLflow in a sqlite store there. `validate` runs if Great Expectations can be
imported (and no --skip-validate); otherwise train reads the committed reports/validation.json
and drift reports instead (it says so). Then it prints what the store holds: the train run's
status, backend, versions and devices, params, per-epoch metrics, system metrics (GPU ones
included), artifacts and models, the registered versions and the champion gate's decision.

    python3 benchmarks/gpu_stages.py --archive .gpu_data/aclImdb_v1-labeled.tar.gz \
        --workdir /tmp/gpu-stages --out "$OUT"

`benchmarks/gpu_check.sh` runs it, then the stage-vs-bare comparison, in one device call.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from imdb_sentiment.config import load_params, override_params

REPO = Path(__file__).resolve().parents[1]
# What train reads from validate when validate cannot run: the committed full-data reports.
VALIDATE_REPORTS = ("validation.json", "drift.json", "drift_top_tokens.json")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def set_up_workdir(args: argparse.Namespace) -> dict[str, str]:
    """The scratch checkout, and the environment the stages run in."""
    work = args.workdir
    if work.exists():
        shutil.rmtree(work)
    (work / ".dvc").mkdir(parents=True)
    shutil.copy(REPO / "dvc.yaml", work / "dvc.yaml")
    params = override_params(load_params(args.params), args.set)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    python_path = [str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in python_path if p),
        "PYTHONUNBUFFERED": "1",
        "IMDB_URL": str(args.archive.resolve()),
        "IMDB_SHA256": args.sha256 or sha256(args.archive),
        "MLFLOW_TRACKING_URI": f"sqlite:///{work.resolve() / 'mlflow.db'}",
    }


def skip_validate(work: Path) -> None:
    reports = work / "reports"
    (reports / "data_docs").mkdir(parents=True, exist_ok=True)
    for name in VALIDATE_REPORTS:
        shutil.copy(REPO / "reports" / name, reports / name)
    (reports / "data_docs" / "index.html").write_text(
        "<p>validate was skipped on this machine (no Great Expectations)</p>\n"
    )
    print(
        "validate: SKIPPED (no Great Expectations); train reads the committed "
        f"reports/{', reports/'.join(VALIDATE_REPORTS)}",
        flush=True,
    )


def run_stages(work: Path, env: dict[str, str], without_gx: bool) -> dict[str, float]:
    """Each dvc.yaml stage's command in order; their wall times. Stops at the first failure."""
    stages = yaml.safe_load((work / "dvc.yaml").read_text())["stages"]
    without_gx = without_gx or importlib.util.find_spec("great_expectations") is None
    seconds: dict[str, float] = {}
    for name, stage in stages.items():
        if name == "validate" and without_gx:
            skip_validate(work)
            continue
        if name == "promote":  # serving loads models with the backend that trained them
            backend = json.loads((work / "models" / "run.json").read_text())["backend"]
            env = {**env, "KERAS_BACKEND": backend}
        command = shlex.split(stage["cmd"])
        assert command[0] == "python", command
        print(f"\n=== {name}: {stage['cmd']}", flush=True)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, *command[1:]], cwd=work, env=env, check=False)
        seconds[name] = time.perf_counter() - start
        print(f"=== {name}: exit {done.returncode} in {seconds[name]:.1f} s", flush=True)
        if done.returncode != 0:
            raise SystemExit(f"stage {name} failed")
    return seconds


def describe_store(work: Path, env: dict[str, str]) -> dict[str, Any]:
    """What the train run and the registry hold, as a JSON-able summary."""
    from mlflow import MlflowClient

    client = MlflowClient(env["MLFLOW_TRACKING_URI"], env["MLFLOW_TRACKING_URI"])
    run_id = json.loads((work / "models" / "run.json").read_text())["run_id"]
    run = client.get_run(run_id)
    metrics = run.data.metrics
    per_epoch = {
        key: ", ".join(
            f"{m.step}: {m.value:.4f}"
            for m in sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
        )
        for key in ("loss", "val_loss", "val_accuracy", "epoch_seconds")
    }
    models = client.search_logged_models(
        [run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    system = {key: value for key, value in sorted(metrics.items()) if key.startswith("system/")}
    samples = len(client.get_metric_history(run_id, "system/cpu_utilization_percentage"))
    versions = client.search_model_versions("name = 'imdb-sentiment'")
    registered = client.get_registered_model("imdb-sentiment") if versions else None
    return {
        "run_id": run_id,
        "status": run.info.status,
        "tags": {k: v for k, v in run.data.tags.items() if k.startswith("keras.")},
        "params": len(run.data.params),
        "runtime_params": {
            k: v for k, v in run.data.params.items() if k.startswith("train.runtime.")
        },
        "per_epoch": per_epoch,
        "fit_seconds": metrics.get("fit_seconds"),
        "test_accuracy": metrics.get("test_accuracy"),
        "system_metrics": system,
        "system_metric_samples": samples,
        "artifacts": sorted(a.path for a in client.list_artifacts(run_id)),
        "logged_models": sorted(f"{m.name} ({m.status})" for m in models),
        "model_versions": sorted(int(v.version) for v in versions),
        "aliases": dict(registered.aliases) if registered else {},
        "promotion": json.loads((work / "reports" / "promotion.json").read_text()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--archive", type=Path, required=True, help="the labeled mirror")
    parser.add_argument("--sha256", help="the archive's; computed if left out")
    parser.add_argument("--workdir", type=Path, required=True, help="scratch; emptied first")
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a params override"
    )
    parser.add_argument("--out", type=Path, help="where to copy mlflow.db and the summary")
    parser.add_argument(
        "--skip-validate", action="store_true", help="as if Great Expectations were missing"
    )
    args = parser.parse_args()
    env = set_up_workdir(args)
    try:
        seconds = run_stages(args.workdir, env, args.skip_validate)
    finally:
        if args.out and (args.workdir / "mlflow.db").exists():
            args.out.mkdir(parents=True, exist_ok=True)
            shutil.copy(args.workdir / "mlflow.db", args.out / "mlflow.db")
    summary = {"stage_seconds": {k: round(v, 1) for k, v in seconds.items()}}
    summary.update(describe_store(args.workdir, env))
    print("\n=== the MLflow store\n" + json.dumps(summary, indent=1), flush=True)
    if args.out:
        (args.out / "stages_summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
