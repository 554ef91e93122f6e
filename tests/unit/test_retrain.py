"""`imdb-sentiment retrain`: argument checks, output streaming, the report's content.

The command end to end, with real dvc and MLflow: tests/pipeline/test_retrain.py.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from imdb_sentiment.cli import main
from imdb_sentiment.retrain.command import (
    UsageError,
    check_overrides,
    check_report_path,
    resolve_base,
    stream,
)
from imdb_sentiment.retrain.report import (
    EXIT_PIPELINE_FAILED,
    EXIT_PUSH_FAILED,
    Context,
    Options,
    Outcome,
    Step,
    render,
    trigger_lines,
)
from tests.conftest import REPO

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def test_overrides_of_existing_values_pass() -> None:
    given = ["train.fit.epochs=1", "prepare.max_reviews_per_split=null", "base.seed=7"]
    assert check_overrides(given, PARAMS) == given


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.fit.epochs", "expected KEY=VALUE"),
        ("=3", "expected KEY=VALUE"),
        ("train.fit.epoch=1", "no value train.fit.epoch; did you mean train.fit.epochs"),
        ("train.fit=1", "no value train.fit;"),  # a section, not a value
        ("train.fit.epochs=", "no value given"),
    ],
)
def test_bad_overrides_are_usage_errors(override: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_overrides([override], PARAMS)


def checkout(tmp_path: Path) -> Path:
    """A folder that `retrain` takes for the project: dvc.yaml, params.yaml and .dvc/."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, root / name)
    (root / ".dvc").mkdir()
    return root


def test_bad_override_exits_2_with_one_line_before_any_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = checkout(tmp_path)
    monkeypatch.chdir(root / ".dvc")  # found from a folder inside the checkout too
    assert main(["retrain", "-S", "train.fit.epochs"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("imdb-sentiment retrain: error: -S")
    assert not (root / "reports").exists()


def test_outside_a_checkout_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["retrain"]) == 2
    assert "not inside a checkout" in capsys.readouterr().err


@pytest.mark.parametrize(
    "report", ["reports/metrics.json", "models/model.keras", "reports/data_docs/retrain.md"]
)
def test_the_report_may_not_overwrite_a_dvc_output(tmp_path: Path, report: str) -> None:
    root = checkout(tmp_path)
    with pytest.raises(UsageError, match="that is the DVC output"):
        check_report_path(root / report, root)


def git(root: Path, *args: str) -> None:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def test_the_default_report_is_no_dvc_output_and_git_ignores_it(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    check_report_path(root / "reports" / "retrain.md", root)
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    git(root, "init", "-q")
    git(root, "check-ignore", "-q", "reports/retrain.md")  # raises unless ignored


def test_base_defaults_to_main_then_head_and_must_exist_when_given(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    assert resolve_base(None, root) is None  # no commit yet
    git(root, "commit", "-q", "--allow-empty", "-m", "first")
    assert resolve_base(None, root) == "main"
    git(root, "branch", "-q", "-m", "feature")
    assert resolve_base(None, root) == "HEAD"
    assert resolve_base("feature", root) == "feature"
    with pytest.raises(UsageError, match="--base main: no such git revision"):
        resolve_base("main", root)


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


def test_stream_reports_a_missing_program(tmp_path: Path) -> None:
    returncode, tail = stream(["no-such-program-here"], tmp_path, io.StringIO())
    assert returncode != 0 and "cannot run no-such-program-here" in tail[0]


def test_trigger_names_the_github_run_or_says_local() -> None:
    assert trigger_lines({}) == ["local"]
    env = {
        "GITHUB_EVENT_NAME": "schedule",
        "GITHUB_SHA": "abc123",
        "GITHUB_RUN_ID": "42",
        "GITHUB_SERVER_URL": "https://git.example.invalid",
        "GITHUB_REPOSITORY": "team/imdb",
    }
    assert trigger_lines(env) == [
        "GitHub Actions `schedule`",
        "commit `abc123`",
        "run [42](https://git.example.invalid/team/imdb/actions/runs/42)",
    ]


def outcome(exit_code: int, steps: list[Step], **fields: object) -> Outcome:
    options = Options(["train.fit.epochs=1"], Path("r.md"), "main", pull=True, push=True)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    result = Outcome(Path("/repo"), options, start, steps, exit_code=exit_code)
    for name, value in fields.items():
        setattr(result, name, value)
    return result


CONTEXT = Context(
    trigger=["local"],
    commit="abc1234",
    metrics={"reports/metrics.json": {"test.accuracy": {"old": 0.85, "new": 0.86, "diff": 0.01}}},
    params={"params.yaml": {"train.fit.epochs": {"old": 2, "new": 1}}},
    promotion={
        "decision": "promoted",
        "reason": "accuracy gain +0.0100 >= 0.002 with p=0.001 < 0.05",
        "challenger": {"version": "3", "run_id": "r3", "accuracy": 0.86},
        "champion": {"version": "2", "run_id": "r2", "accuracy": 0.85},
        "champion_after": "3",
        "comparison": {"p_value": 0.001, "accuracy_gain": 0.01},
        "test_reviews": 25000,
    },
    mlflow=["run: [r3](http://mlflow.example.invalid/#/experiments/1/runs/r3)"],
)


def test_report_of_a_promotion_has_gate_diffs_and_links() -> None:
    steps = [Step("pipeline", "dvc exp run -S train.fit.epochs=1", note="stages run: train")]
    text = render(outcome(0, steps, stages_run=["train", "promote"]), CONTEXT)
    assert text.startswith("# Retrain: v3 promoted to champion\n")
    assert "| decision | **promoted** |" in text
    assert "| McNemar p-value | 0.001 |" in text and "| accuracy gain | +0.01 |" in text
    assert "| reports/metrics.json | test.accuracy | 0.85 | 0.86 | +0.01 |" in text
    assert "| params.yaml | train.fit.epochs | 2 | 1 |" in text
    assert "/#/experiments/1/runs/r3" in text
    assert "`-S train.fit.epochs=1`" in text


def test_a_pull_request_report_says_its_gate_ran_on_a_throwaway_registry() -> None:
    steps = [Step("pipeline", "dvc repro", note="stages run: train")]
    done = outcome(0, steps, stages_run=["train", "promote"])
    assert "throwaway store" not in render(done, CONTEXT)
    pr = dataclasses.replace(CONTEXT, trigger=["GitHub Actions `pull_request`"])
    assert "not the team's" in render(done, pr)


def test_report_of_a_failed_stage_quotes_its_output_safely() -> None:
    tail = ["Running stage 'validate':", "```not a fence```", "validate: error: 3 check(s)"]
    steps = [Step("pipeline", "dvc repro", "failed", tail=tail)]
    failed = outcome(EXIT_PIPELINE_FAILED, steps, failed_stage="validate")
    text = render(failed, Context(["local"], "abc", "not compared", {}, None, []))
    assert text.startswith("# Retrain: failed at stage validate\n")
    assert "The gate did not run: the champion is unchanged." in text
    block = text[text.index("````\n") : text.rindex("````")]
    assert "validate: error: 3 check(s)" in block and "```not a fence```" in block


def test_report_of_a_failed_push_lists_what_the_remote_lacks() -> None:
    steps = [Step("push", "dvc push", "failed", note="ERROR: no space left")]
    text = render(
        outcome(
            EXIT_PUSH_FAILED,
            steps,
            stages_run=["train", "evaluate", "promote"],
            unpushed=[("models/model.keras", "new"), ("data/raw/reviews.parquet", "new")],
            unpushed_source="Missing from the remote (`dvc status --cloud`)",
            local_cache="every output is in the local DVC cache",
        ),
        CONTEXT,
    )
    assert text.splitlines()[0] == "# Retrain: v3 promoted to champion; push failed"
    assert "## Not pushed" in text
    assert "- `models/model.keras` (new)" in text and "- `data/raw/reviews.parquet` (new)" in text
