"""A failed or killed `train`, `evaluate` or `promote` under the real `dvc` leaves the workspace
as it was: the same `dvc status`, the same `git status --ignored` and the same output bytes.

The MLflow store is left out of the comparison: recording failed runs is its job.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.pipeline.dvc_repo import commit, sh

pytestmark = pytest.mark.slow

# Where the stages write: every file under them is compared byte for byte.
OUTPUT_DIRS = ("data", "models", "reports")
# DVC's own locks and indexes (.dvc), and the MLflow store, change on every call.
UNCOMPARED = (":!.dvc", ":!mlflow.db", ":!mlartifacts")


def snapshot(root: Path, env: dict[str, str]) -> tuple[str, str, dict[str, bytes]]:
    status = sh(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], root, env)
    outputs = {
        str(path.relative_to(root)): path.read_bytes()
        for folder in OUTPUT_DIRS
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }
    return dvc_status(root, env), _without_store(status), outputs


def dvc_status(root: Path, env: dict[str, str]) -> str:
    """What `dvc status` says (its stderr notes locks that a killed dvc left: not state)."""
    proc = subprocess.run(
        ["dvc", "status", "--json"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _without_store(status: str) -> str:
    # `-- . :!x` pathspecs would hide ignored files too; drop the store's lines instead.
    skipped = tuple(p.removeprefix(":!") for p in UNCOMPARED)
    return "\n".join(line for line in status.splitlines() if not line[3:].startswith(skipped))


def set_param(root: Path, dotted: str, value: object) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    *parents, key = dotted.split(".")
    node = params
    for parent in parents:
        node = node[parent]
    node[key] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def is_temporary(path: str) -> bool:
    """A temporary name of the stages' writers, or inside one (see imdb_sentiment.files)."""
    return any(
        part.startswith(".staging.") or (part.startswith(".") and ".tmp" in part)
        for part in Path(path).parts
    )


def leftovers(root: Path) -> list[str]:
    return sorted(
        str(path.relative_to(root))
        for folder in OUTPUT_DIRS
        for path in (root / folder).rglob("*")
        if path.is_file() and is_temporary(str(path.relative_to(root)))
    )


def model_versions(root: Path) -> int:
    try:
        with sqlite3.connect(f"file:{root / 'mlflow.db'}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT count(*) FROM model_versions").fetchone()[0])
    except sqlite3.OperationalError:  # locked by the stage's write: ask again
        return -1


def kill_when(
    root: Path, env: dict[str, str], stage: str, ready: Callable[[], bool]
) -> subprocess.CompletedProcess[str] | None:
    """Run `dvc repro --force` of `stage`; SIGKILL dvc and the stage once `ready()` holds."""
    proc = subprocess.Popen(
        ["dvc", "repro", "--force", "--single-item", stage],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the stage dies with dvc
    )
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    pytest.fail(f"{stage} ended (or hung) before the moment to kill it:\n{out}")


FAILURES = [
    ("train", "train.fit.batch_size", -5, "'train.fit.batch_size' must be a positive integer"),
    ("evaluate", "evaluate.threshold", 1.5, "'evaluate.threshold' must be a number in (0, 1)"),
    ("promote", "promote.alpha", 0, "'promote.alpha' must be a number in (0, 1)"),
]


def test_failed_and_killed_stages_leave_the_workspace_as_it_was(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, env = repo
    sh(["dvc", "repro"], root, env)
    commit(root, env, "first run")
    clean = snapshot(root, env)
    assert leftovers(root) == []

    # A bad value: DVC runs the stage, which refuses at start-up.
    for stage, key, value, message in FAILURES:
        set_param(root, key, value)
        before = snapshot(root, env)
        proc = subprocess.run(
            ["dvc", "repro"], cwd=root, env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode != 0 and f"{stage}: error: params.yaml: {message}" in proc.stderr
        assert snapshot(root, env) == before, stage
        sh(["git", "checkout", "--", "params.yaml"], root, env)
    assert snapshot(root, env) == clean

    # SIGKILL at the worst moments: train and evaluate once their new outputs are half in
    # place (written, not yet moved in), promote once it has registered the challenger.
    def staged(folder: str, pattern: str) -> Callable[[], bool]:
        return lambda: any((root / folder).glob(pattern))

    versions = model_versions(root)
    kills = {
        "train": staged("models", ".model.keras.*.tmp.keras"),
        "evaluate": staged("reports/plots", ".staging.*/*.png"),
        "promote": lambda: model_versions(root) > versions,
    }
    for stage, ready in kills.items():
        kill_when(root, env, stage, ready)
        status, git_status, outputs = snapshot(root, env)
        assert status == clean[0], stage
        assert {k: v for k, v in outputs.items() if not is_temporary(k)} == clean[2], stage
        kept = [line for line in git_status.splitlines() if not is_temporary(line[3:])]
        assert kept == clean[1].splitlines(), stage
        # The next run of the stage clears what the killed one left, and completes.
        sh(["dvc", "repro", "--force", "--single-item", stage], root, env)
        assert leftovers(root) == [], stage
        sh(["dvc", "repro"], root, env)  # the stages downstream of it
        assert dvc_status(root, env) == clean[0], stage
        sh(["git", "add", "-A"], root, env)
        sh(["git", "commit", "--allow-empty", "-qm", f"{stage} again"], root, env)
        clean = snapshot(root, env)
