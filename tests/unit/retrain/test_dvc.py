"""Retrain's DVC adapter: streaming a step's output, reading DVC's output and files."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import yaml

from imdb_sentiment.retrain.dvc import (
    cached_outputs,
    dvc_outputs,
    failed_stage,
    last_error,
    reproduce_command,
    run_step,
    started_stage,
    stream,
)
from tests.conftest import REPO


def test_stream_copies_every_line_and_keeps_the_tail(tmp_path: Path) -> None:
    script = "import sys\nfor i in range(100): print(i)\nprint('oops', file=sys.stderr)\n"
    out = io.StringIO()
    seen: list[str] = []
    returncode, tail = stream(
        [sys.executable, "-c", script + "sys.exit(3)"], tmp_path, out, seen.append, keep=5
    )
    assert returncode == 3
    assert out.getvalue().splitlines() == [*map(str, range(100)), "oops"]
    assert tail == ["96", "97", "98", "99", "oops"]
    assert len(seen) == 101


def test_stream_redacts_credentials_in_what_it_shows_and_keeps(tmp_path: Path) -> None:
    script = "print('fetching https://user:pa55@host.invalid/a.tgz?token=t0k&v=1')"
    out = io.StringIO()
    _, tail = stream([sys.executable, "-c", script], tmp_path, out)
    shown = "fetching https://***@host.invalid/a.tgz?token=***&v=1"
    assert out.getvalue() == shown + "\n" and tail == [shown]


def test_stream_reports_a_missing_program(tmp_path: Path) -> None:
    returncode, tail = stream(["no-such-program-here"], tmp_path, io.StringIO())
    assert returncode != 0 and "cannot run no-such-program-here" in tail[0]


def test_a_failed_step_keeps_its_tail_and_a_good_one_does_not(tmp_path: Path) -> None:
    out = io.StringIO()
    bad = run_step(
        "pull", [sys.executable, "-c", "print('ERROR: no remote'); exit(1)"], tmp_path, out
    )
    good = run_step("push", [sys.executable, "-c", "print('done')"], tmp_path, out)
    assert (bad.outcome, bad.tail) == ("failed", ["ERROR: no remote"])
    assert (good.outcome, good.tail) == ("ok", [])
    assert "retrain: pull failed (exit status 1)" in out.getvalue()


def test_overrides_turn_repro_into_a_workspace_experiment() -> None:
    assert reproduce_command([]) == ["dvc", "repro"]
    assert reproduce_command(["a.b=1", "c=x y"]) == [
        "dvc", "exp", "run", "-S", "a.b=1", "-S", "c=x y"
    ]  # fmt: skip


def test_stages_are_read_from_dvc_output() -> None:
    assert started_stage("Running stage 'train':\n") == "train"
    assert started_stage("  Running stage 'train':") is None  # only at a line's start
    assert failed_stage("ERROR: failed to reproduce 'validate': exit 1") == "validate"
    assert failed_stage("Stage 'prepare' didn't change, skipping") is None


def test_the_last_error_line_is_the_telling_one() -> None:
    lines = ["Collecting", "ERROR: first", "ERROR: second", "done", ""]
    assert last_error(lines) == "ERROR: second"
    assert last_error(["one", "two  "]) == "two"
    assert last_error(["", " "]) == "no output"


def test_dvc_outputs_and_what_the_lock_says_of_the_cached_ones(tmp_path: Path) -> None:
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    outputs = dvc_outputs(tmp_path)
    assert tmp_path / "models" / "model.keras" in outputs
    uncached = dvc_outputs(tmp_path, cached=False)
    assert tmp_path / "reports" / "metrics.json" in uncached
    assert tmp_path / "models" / "model.keras" not in uncached
    lock = {
        "stages": {
            "train": {"outs": [{"path": "models/model.keras", "md5": "abc"}]},
            "evaluate": {"outs": [{"path": "reports/metrics.json", "md5": "def"}]},
        }
    }
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    assert cached_outputs(tmp_path) == [("models/model.keras", "md5 abc")]


def test_missing_dvc_files_mean_no_outputs(tmp_path: Path) -> None:
    assert dvc_outputs(tmp_path) == []
    assert cached_outputs(tmp_path) == []
