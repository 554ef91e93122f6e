"""`imdb-sentiment retrain`: the checks on its command line, before any step runs.

The command end to end, with real dvc and MLflow: tests/pipeline/test_retrain.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from imdb_sentiment.cli import main
from imdb_sentiment.retrain.command import check_overrides, check_report_path, resolve_base
from imdb_sentiment.retrain.outcome import UsageError
from tests.conftest import REPO, committed_params

PARAMS = committed_params()


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
