"""A git + DVC copy of this project under tmp_path, and the real `dvc`/`git` CLIs run in it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, tiny_params

PROJECT_FILES = ["dvc.yaml", ".gitignore", "pipeline", "src"]


def sh(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def user_env(archive: tuple[Path, str]) -> dict[str, str]:
    """A user's shell: this venv first, the tiny archive as the mirror, no MLflow/DVC settings."""
    path, sha = archive
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        IMDB_URL=str(path),
        IMDB_SHA256=sha,
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.invalid",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.invalid",
        DVC_NO_ANALYTICS="1",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    return env


def make_repo(root: Path, env: dict[str, str]) -> Path:
    """This project's pipeline and tiny params in `root`, committed to a new git + DVC repo."""
    root.mkdir()
    for name in PROJECT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, root / name)
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    sh(["git", "init", "-q", "-b", "main"], root, env)
    sh(["dvc", "init", "-q"], root, env)
    commit(root, env, "project")
    return root


def commit(root: Path, env: dict[str, str], message: str) -> None:
    sh(["git", "add", "-A"], root, env)
    sh(["git", "commit", "-qm", message], root, env)


@pytest.fixture
def repo(tmp_path: Path, archives: dict) -> tuple[Path, dict[str, str]]:
    """A git + DVC repository holding this project's pipeline and tiny params."""
    env = user_env(archives["labeled"])
    return make_repo(tmp_path / "repo", env), env
