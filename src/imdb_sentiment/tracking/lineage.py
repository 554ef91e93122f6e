"""Lineage tags: the commit, the DVC experiment and the md5 of each file a run used."""

from __future__ import annotations

import datetime
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from imdb_sentiment.checkout import git_output


def file_md5(path: Path) -> str:
    """The same digest DVC records for a file in dvc.lock."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def lineage_tags(paths: list[Path]) -> dict[str, str]:
    """`dvc.md5.<path>`: each file's md5, the digest dvc.lock records for that output.

    Paths are as the stages name them (relative to the repository root), so a tag reads
    like the dvc.lock line it matches.
    """
    return {f"dvc.md5.{path.as_posix()}": file_md5(path) for path in paths}


def run_tags(data_files: Mapping[str, Path], cwd: Path | None = None) -> dict[str, str]:
    """Lineage: the commit, whether the tree was dirty, the DVC experiment, the data digests."""
    tags = {f"data.md5.{name}": file_md5(path) for name, path in data_files.items()}
    commit = git_output(["rev-parse", "HEAD"], cwd)
    if commit:
        tags["mlflow.source.git.commit"] = commit
        tags["git.dirty"] = str(bool(git_output(["status", "--porcelain", *_SOURCE_CHANGES], cwd)))
    exp_name = os.environ.get("DVC_EXP_NAME")
    if exp_name:
        tags["dvc.exp_name"] = exp_name
    # MLflow's generated names come from `random`, which training seeds: every run would be
    # called the same. The DVC experiment's name, or the commit and time, tell runs apart.
    tags["mlflow.runName"] = exp_name or workspace_run_name(commit)
    baseline = os.environ.get("DVC_EXP_BASELINE_REV")
    if baseline:
        tags["dvc.baseline_rev"] = baseline
    return tags


# "Dirty" means code or params differ from the commit. `dvc repro` itself rewrites dvc.lock
# and the git-tracked outputs (reports/, models/*.json) before `train` runs: not counted.
_SOURCE_CHANGES = [
    "--untracked-files=no",
    "--",
    ".",
    ":(exclude)dvc.lock",
    ":(exclude)reports",
    ":(exclude)models",
]


def workspace_run_name(commit: str) -> str:
    """`workspace-<short commit>-<UTC time>` for runs outside `dvc exp run`."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    return "-".join(part for part in ("workspace", commit[:7], stamp) if part)
