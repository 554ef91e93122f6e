"""The project checkout: its root (also from DVC's temporary copies) and git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# `dvc exp run --queue/--temp` runs stages in a copy of the repo under .dvc/tmp/exps/.
_DVC_TEMP_EXPS = os.path.join(".dvc", "tmp", "exps")


def project_root(cwd: Path | None = None) -> Path:
    """The user's checkout, also when DVC runs us inside a temporary copy of it."""
    cwd = (cwd or Path.cwd()).resolve()
    parts = cwd.parts
    marker = Path(_DVC_TEMP_EXPS).parts
    for i in range(len(parts) - len(marker) + 1):
        if parts[i : i + len(marker)] == marker:
            return Path(*parts[:i])
    return cwd


def find_checkout(cwd: Path | None = None) -> Path | None:
    """The project checkout holding `cwd` (a folder with dvc.yaml and .dvc/), or None."""
    cwd = (cwd or Path.cwd()).resolve()
    for directory in (cwd, *cwd.parents):
        if (directory / "dvc.yaml").is_file() and (directory / ".dvc").is_dir():
            return directory
    return None


def git_output(args: list[str], cwd: Path | None) -> str:
    """What `git ARGS` prints in `cwd`, stripped; empty if git fails or is missing."""
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()
