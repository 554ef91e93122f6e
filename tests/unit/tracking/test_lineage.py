"""Lineage tags: file digests, the commit and its dirty flag, readable run names."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from imdb_sentiment.tracking.lineage import file_md5, lineage_tags, run_tags, workspace_run_name


def test_file_md5_matches_known_digest(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert file_md5(path) == "900150983cd24fb0d6963f7d28e17f72"


def test_lineage_tags_name_each_file_as_the_stage_was_given_it(tmp_path: Path) -> None:
    path = tmp_path / "data" / "f"
    path.parent.mkdir()
    path.write_bytes(b"abc")
    assert lineage_tags([path]) == {f"dvc.md5.{path.as_posix()}": file_md5(path)}


def test_workspace_runs_get_distinct_readable_names() -> None:
    assert re.fullmatch(r"workspace-abcdef1-\d{8}-\d{6}", workspace_run_name("abcdef1234"))
    assert re.fullmatch(r"workspace-\d{8}-\d{6}", workspace_run_name(""))


def test_dirty_means_code_or_params_changed_not_dvcs_own_outputs(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    for name in ("params.yaml", "dvc.lock", "reports/metrics.json", "models/run.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("a: 1\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    data = {"train": tmp_path / "params.yaml"}

    # What `dvc repro` rewrites before train runs does not make the source dirty.
    for name in ("dvc.lock", "reports/metrics.json", "models/run.json"):
        (tmp_path / name).write_text("a: 2\n")
    tags = run_tags(data, cwd=tmp_path)
    assert tags["git.dirty"] == "False" and len(tags["mlflow.source.git.commit"]) == 40

    (tmp_path / "params.yaml").write_text("a: 3\n")  # as `dvc exp run -S` does
    assert run_tags(data, cwd=tmp_path)["git.dirty"] == "True"
