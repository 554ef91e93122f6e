"""benchmarks/gpu_stages.py, the GPU check's stage runner, on a tiny archive with JAX on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, tiny_params


@pytest.mark.slow
def test_gpu_stages_run_dvc_yamls_commands_and_describe_the_store(
    tmp_path: Path, archives: dict[str, tuple[Path, str]]
) -> None:
    archive, sha = archives["labeled"]
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    env = {**os.environ, "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "0.2"}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, str(REPO / "benchmarks" / "gpu_stages.py")]
    command += ["--archive", str(archive), "--sha256", sha, "--params", str(params)]
    command += ["--workdir", str(tmp_path / "work"), "--out", str(tmp_path / "out")]
    # As on the GPU machine: JAX, no Great Expectations (validate's committed reports).
    command += ["--set", "train.runtime.backend=jax", "--skip-validate"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "validate: SKIPPED" in done.stdout

    summary = json.loads((tmp_path / "out" / "stages_summary.json").read_text())
    stages = ["download", "prepare", "baseline", "train", "evaluate", "promote"]  # dvc.yaml order
    assert list(summary["stage_seconds"]) == stages
    assert summary["status"] == "FINISHED" and summary["tags"]["keras.backend"] == "jax"
    assert summary["runtime_params"]["train.runtime.backend"] == "jax"
    assert (
        summary["per_epoch"]["loss"].startswith("1: ") and ", 2: " in summary["per_epoch"]["loss"]
    )
    assert "system/cpu_utilization_percentage" in summary["system_metrics"]
    assert summary["logged_models"] == ["model (READY)", "text_model (READY)"]
    assert summary["promotion"]["decision"] == "promoted" and summary["aliases"] == {"champion": 1}
    assert (tmp_path / "out" / "mlflow.db").stat().st_size > 0
