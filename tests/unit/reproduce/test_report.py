"""The Markdown report of a reproduction: verdict, rule, checks, data, environment, steps."""

from __future__ import annotations

from pathlib import Path

from imdb_sentiment.reproduce.report import WEIGHTS_NOTE, render_report, summary_line
from tests.unit.reproduce.outcomes import COMMIT, compared, failed


def test_a_reproduction_reports_verdict_rule_checks_data_and_environment(tmp_path: Path) -> None:
    report = render_report(compared(tmp_path))
    assert report.startswith("# Reproduce: v4 reproduced (exact rule)\n")
    assert "- **Model:** `models:/imdb-sentiment@champion` → v4, run `run-4`" in report
    assert f"- **Commit:** `{COMMIT}`" in report
    assert "- **Rule:** exact: same backend (tensorflow), CPU on both" in report
    assert "- **Verdict:** reproduced, exit status 0" in report
    assert "took 150 s, of which the pipeline (`dvc commit`, `dvc repro`) 120 s" in report
    assert "| test_accuracy | `0.85064` | `0.85064` | ✅ identical |" in report
    assert WEIGHTS_NOTE in report
    assert (
        "| `data/prepared/train.npz` | `22222222222222222222222222222222` | DVC remote s3 |"
        in report
    )
    assert "| torch | not installed |" in report
    assert (
        "| train, evaluate | `dvc repro --force --single-item train evaluate` | ok | 120.0 |"
        in report
    )
    assert "## What failed" not in report


def test_a_difference_is_marked_on_its_row(tmp_path: Path) -> None:
    report = render_report(compared(tmp_path, same=False))
    assert report.startswith("# Reproduce: v4 differs (exact rule)\n")
    assert "- **Verdict:** differs, exit status 1" in report
    (row,) = [line for line in report.splitlines() if line.startswith("| weights md5")]
    assert "❌ differs" in row


def test_a_step_that_could_not_run_is_named_with_its_output(tmp_path: Path) -> None:
    report = render_report(failed(tmp_path))
    assert report.startswith("# Reproduce: could not run, step fetch data\n")
    assert "- **Verdict:** none, exit status 2" in report
    assert "Step **fetch data**: data/prepared/train.npz (md5 2222) is missing" in report
    assert "```\nERROR: `x` not found\n```" in report
    assert "Nothing was tagged" in report
    assert "## Comparison" not in report


def test_the_console_line_gives_the_rule_or_the_checks_that_failed(tmp_path: Path) -> None:
    assert summary_line(compared(tmp_path)) == (
        "reproduce: v4 reproduced (exact rule: same backend (tensorflow), CPU on both)"
    )
    assert summary_line(compared(tmp_path, same=False)) == (
        "reproduce: v4 differs (exact rule): weights md5 (the weight arrays in order)"
    )
