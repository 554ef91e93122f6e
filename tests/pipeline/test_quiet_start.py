"""On a machine without an NVIDIA driver, a stage's output holds no CUDA probing errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.pipeline.stages import argv, run_validate

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        Path("/proc/driver/nvidia/version").exists(), reason="a GPU machine: CUDA errors are news"
    ),
]


def test_train_on_a_cpu_machine_prints_no_cuinit_error(workspace: dict[str, Path]) -> None:
    assert run_validate(workspace) == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP_", "MLFLOW_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{workspace['model'].parent.parent / 'mlflow.db'}"
    flags = dict(params="params", prepared="prepared", validation="validation", model="model")
    flags.update(run="run", metrics="train_metrics", history="history")
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.train", *argv(workspace, **flags)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "cuInit" not in proc.stderr, proc.stderr
    assert not [line for line in proc.stderr.splitlines() if line.startswith("E0000")]
