"""The GitHub Actions workflows: valid for GitHub, clean for zizmor, and shaped as we rely on."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
RETRAIN = WORKFLOWS / "retrain.yml"
REPRODUCE = WORKFLOWS / "reproduce.yml"
RETRAIN_PATHS = {"params.yaml", "dvc.yaml", "pipeline/**", "src/**", "**/*.dvc"}
# Findings of medium or high severity fail; low and informational ones pass. Without
# --strict-collection zizmor skips, with a mere warning, a file that is not a valid workflow.
ZIZMOR_ARGS = [
    "--offline",
    "--strict-collection",
    "--min-severity",
    "medium",
    "--format",
    "json",
    "--color",
    "never",
]
TOOL_TIMEOUT_S = 60  # offline, both answer in well under a second; a hang is a failure

# Not a workflow: `stepz` is no key of a job, and the job has no `runs-on`.
INVALID_WORKFLOW = """\
name: invalid
on: push
jobs:
  broken:
    stepz:
      - run: echo hi
"""
# A valid workflow that zizmor must refuse: the issue title, anyone's text, is pasted into a
# shell script, and the action is pinned to a tag that can be moved to other code.
UNSAFE_WORKFLOW = """\
name: unsafe
on: issues
permissions: {}
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - run: echo ${{ github.event.issue.title }}
"""


def tool(name: str) -> str:
    """The console script `name` of this interpreter's environment, else one on PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]'")
    return found


def run_tool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )


def check_schema(*paths: Path) -> subprocess.CompletedProcess[str]:
    return run_tool(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *paths)


def zizmor(directory: Path) -> subprocess.CompletedProcess[str]:
    return run_tool(tool("zizmor"), *ZIZMOR_ARGS, directory)


def zizmor_findings(directory: Path) -> tuple[int, list[dict[str, Any]]]:
    """zizmor's exit status and its findings of medium severity or more in `directory`."""
    done = zizmor(directory)
    # 1 to 9: zizmor failed (an input it could not load, bad arguments); 10 and up: findings.
    assert done.returncode == 0 or done.returncode >= 10, done.stderr
    return done.returncode, json.loads(done.stdout)


def load(path: Path) -> dict[Any, Any]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean True.
    workflow["on"] = workflow.pop(True)
    return workflow


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    (step,) = [step for step in job["steps"] if step.get("uses", "").startswith(f"{action}@")]
    return step


def named_step(path: Path, job: str, name: str) -> dict[str, Any]:
    (step,) = [s for s in load(path)["jobs"][job]["steps"] if s.get("name") == name]
    return step


def retrain_step() -> dict[str, Any]:
    return named_step(RETRAIN, "retrain", "Retrain")


def reproduce_step() -> dict[str, Any]:
    return named_step(REPRODUCE, "reproduce", "Reproduce")


def workflows_folder(root: Path, text: str) -> Path:
    folder = root / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "bad.yml").write_text(text, encoding="utf-8")
    return folder


# --- the tools ---


def test_workflows_match_githubs_schema() -> None:
    done = check_schema(CI, RETRAIN, REPRODUCE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_check_rejects_an_invalid_workflow(tmp_path: Path) -> None:
    done = check_schema(workflows_folder(tmp_path, INVALID_WORKFLOW) / "bad.yml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "bad.yml" in done.stdout


def test_schema_check_accepts_the_unsafe_workflow(tmp_path: Path) -> None:
    # So that zizmor, below, audits it rather than refusing to load it.
    done = check_schema(workflows_folder(tmp_path, UNSAFE_WORKFLOW) / "bad.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing_above_low() -> None:
    status, findings = zizmor_findings(WORKFLOWS)
    assert (status, findings) == (0, []), json.dumps(findings, indent=1)


def test_zizmor_fails_on_a_file_that_is_not_a_workflow(tmp_path: Path) -> None:
    done = zizmor(workflows_folder(tmp_path, INVALID_WORKFLOW))
    assert done.returncode != 0
    assert "bad.yml" in done.stderr


def test_zizmor_rejects_template_injection_and_a_tag_pin(tmp_path: Path) -> None:
    status, findings = zizmor_findings(workflows_folder(tmp_path, UNSAFE_WORKFLOW))
    assert status != 0
    found = {finding["ident"]: finding["determinations"]["severity"] for finding in findings}
    assert found.get("template-injection") in {"Medium", "High"}, found
    assert found.get("unpinned-uses") in {"Medium", "High"}, found


# --- what we rely on, beyond what the tools know ---


def test_no_expression_is_pasted_into_a_script() -> None:
    # zizmor flags the dangerous contexts; none at all is simpler to review.
    for path in (CI, RETRAIN, REPRODUCE):
        for step in steps(load(path)):
            assert "${{" not in step.get("run", ""), (path.name, step.get("name"))


def test_actions_are_pinned_to_commits_and_checkouts_keep_no_token() -> None:
    for path in (CI, RETRAIN, REPRODUCE):
        for step in steps(load(path)):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, path.name


def test_ci_lints_and_runs_the_readme_test_command_on_pushes_and_pull_requests() -> None:
    workflow = load(CI)
    assert {"push", "pull_request"} <= set(workflow["on"])
    assert workflow["permissions"] == {"contents": "read"}
    scripts = "\n".join(step.get("run", "") for step in steps(workflow))
    assert "ruff check ." in scripts
    assert "python -m pytest" in scripts
    assert re.search(r'pip install .*-e "\.\[dev\]"', scripts), scripts
    (apt_install,) = [line for line in scripts.splitlines() if "apt-get install" in line]
    assert {"chromium", "postgresql"} <= set(apt_install.split()), apt_install
    assert "3.11" in workflow["jobs"]["test"]["container"]["image"]


def test_retrain_triggers() -> None:
    triggers = load(RETRAIN)["on"]
    assert triggers["push"]["branches"] == ["main"]
    assert set(triggers["push"]["paths"]) == RETRAIN_PATHS
    assert set(triggers["pull_request"]["paths"]) == RETRAIN_PATHS
    assert triggers["schedule"][0]["cron"]
    inputs = triggers["workflow_dispatch"]["inputs"]
    assert inputs["overrides"]["type"] == "string"
    assert inputs["runner"]["options"] == ["cpu", "gpu"]
    assert inputs["runner"]["default"] == "cpu"
    assert "new-data" in triggers["repository_dispatch"]["types"]


def test_retrain_runs_one_at_a_time_and_is_never_cancelled() -> None:
    concurrency = load(RETRAIN)["concurrency"]
    assert concurrency["group"].startswith("retrain-")
    assert concurrency["cancel-in-progress"] is False


def test_retrain_permissions_are_least_privilege() -> None:
    workflow = load(RETRAIN)
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert jobs["retrain"]["permissions"] == {"contents": "read"}
    # Only the job that comments may write, and it runs none of the pipeline's code.
    assert jobs["comment"]["permissions"] == {"pull-requests": "write"}
    assert not any("imdb-sentiment" in step.get("run", "") for step in jobs["comment"]["steps"])


def test_retrain_job_runs_the_retrain_command_and_always_publishes_the_report() -> None:
    job = load(RETRAIN)["jobs"]["retrain"]
    assert "imdb-sentiment retrain" in retrain_step()["run"]
    assert "'ubuntu-latest'" in job["runs-on"]
    assert '"self-hosted", "gpu"' in job["runs-on"]
    (install,) = [step for step in job["steps"] if step.get("name") == "Install"]
    assert "[gpu]" in install["env"]["EXTRAS"]
    (summary,) = [step for step in job["steps"] if "GITHUB_STEP_SUMMARY" in step.get("run", "")]
    assert summary["if"] == "always()"
    upload = step_using(job, "actions/upload-artifact")
    assert upload["if"] == "always()"
    assert "reports/" in upload["with"]["path"].split()


def test_retrain_reads_secrets_only_from_the_secrets_context() -> None:
    env = retrain_step()["env"]
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
    ):
        assert f"secrets.{name} " in env[name] + " ", name


# --- the retrain step's script, run by bash as GitHub runs it, on a stand-in command ---

STAND_IN = """\
#!/usr/bin/env bash
printf '%s\\n' "$@" > "$RECORD/args"
printf '%s\\n' "${MLFLOW_TRACKING_URI-<unset>}" "${AWS_ACCESS_KEY_ID-<unset>}" > "$RECORD/env"
exit "${STAND_IN_STATUS:-0}"
"""


def run_retrain_step(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The step's `run` script under `bash --noprofile --norc -eo pipefail`, with `env`."""
    return run_step_script(tmp_path, retrain_step(), {"IS_PULL_REQUEST": "false", **env})


def run_step_script(
    tmp_path: Path, step: dict[str, Any], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """A step's `run` script as GitHub runs it, its env empty but for `env`, on the stand-in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stand_in = bin_dir / "imdb-sentiment"
    stand_in.write_text(STAND_IN, encoding="utf-8")
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IXUSR)
    script = tmp_path / "step.sh"
    script.write_text(step["run"], encoding="utf-8")
    step_env = {name: "" for name in step["env"]}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=tmp_path,
        env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "RECORD": str(tmp_path)}
        | step_env
        | env,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )


def recorded_args(tmp_path: Path) -> list[str]:
    return (tmp_path / "args").read_text(encoding="utf-8").splitlines()


def test_overrides_become_literal_set_arguments(tmp_path: Path) -> None:
    (tmp_path / "a_file").touch()
    overrides = "train.fit.epochs=3  prepare.maxlen=200\tx=$(touch${IFS}pwned) y=`id` z=*"
    done = run_retrain_step(tmp_path, OVERRIDES=overrides)
    assert done.returncode == 0, done.stderr
    assert recorded_args(tmp_path) == [
        "retrain",
        "--report",
        "reports/retrain.md",
        *("-S", "train.fit.epochs=3", "-S", "prepare.maxlen=200"),
        *("-S", "x=$(touch${IFS}pwned)", "-S", "y=`id`", "-S", "z=*"),
    ]
    assert not (tmp_path / "pwned").exists()


def test_without_overrides_retrain_gets_only_the_report_path(tmp_path: Path) -> None:
    done = run_retrain_step(tmp_path)
    assert done.returncode == 0, done.stderr
    assert recorded_args(tmp_path) == ["retrain", "--report", "reports/retrain.md"]


@pytest.mark.parametrize("override", ["train.fit.epochs", "--no-pull", "-S=x"])
def test_an_override_that_is_not_key_value_stops_the_step(tmp_path: Path, override: str) -> None:
    done = run_retrain_step(tmp_path, OVERRIDES=f"train.fit.epochs=3 {override}")
    assert done.returncode == 2
    assert "KEY=VALUE" in done.stdout
    assert not (tmp_path / "args").exists()


def test_a_pull_request_diffs_against_its_base_and_pushes_nothing(tmp_path: Path) -> None:
    done = run_retrain_step(tmp_path, IS_PULL_REQUEST="true", BASE_REV="0123abc")
    assert done.returncode == 0, done.stderr
    assert recorded_args(tmp_path)[3:] == ["--base", "0123abc", "--no-push"]


def test_unset_secrets_reach_retrain_unset_not_empty(tmp_path: Path) -> None:
    run_retrain_step(tmp_path, MLFLOW_TRACKING_URI="", AWS_ACCESS_KEY_ID="key")
    assert (tmp_path / "env").read_text(encoding="utf-8").splitlines() == ["<unset>", "key"]


@pytest.mark.parametrize(("status", "message"), [(1, "the pipeline failed"), (3, "dvc push")])
def test_the_step_fails_with_retrains_status_and_says_why(
    tmp_path: Path, status: int, message: str
) -> None:
    done = run_retrain_step(tmp_path, STAND_IN_STATUS=str(status))
    assert done.returncode == status
    assert "::error" in done.stdout
    assert message in done.stdout


# --- reproduce.yml ---


def test_reproduce_runs_weekly_and_by_hand_on_the_champion_by_default() -> None:
    triggers = load(REPRODUCE)["on"]
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert triggers["schedule"][0]["cron"] != load(RETRAIN)["on"]["schedule"][0]["cron"]
    model = triggers["workflow_dispatch"]["inputs"]["model"]
    assert (model["type"], model["default"]) == ("string", "models:/imdb-sentiment@champion")


def test_reproduce_is_least_privilege_one_at_a_time_and_never_cancelled() -> None:
    workflow = load(REPRODUCE)
    assert workflow["permissions"] == {}
    assert workflow["jobs"]["reproduce"]["permissions"] == {"contents": "read"}
    # Its own group: in retrain's, a waiting reproduction could displace a waiting retrain.
    assert workflow["concurrency"] == {"group": "reproduce", "cancel-in-progress": False}


def test_reproduce_uses_the_actions_retrain_pins() -> None:
    pinned = {step["uses"] for step in steps(load(RETRAIN)) if "uses" in step}
    used = {step["uses"] for step in steps(load(REPRODUCE)) if "uses" in step}
    assert used <= pinned
    job = load(REPRODUCE)["jobs"]["reproduce"]
    assert step_using(job, "actions/checkout")["with"]["fetch-depth"] == 0  # any commit


def test_reproduce_always_publishes_its_report() -> None:
    job = load(REPRODUCE)["jobs"]["reproduce"]
    assert "imdb-sentiment reproduce --report reports/reproduce.md" in reproduce_step()["run"]
    (summary,) = [step for step in job["steps"] if "GITHUB_STEP_SUMMARY" in step.get("run", "")]
    assert summary["if"] == "always()" and "reports/reproduce.md" in summary["run"]
    upload = step_using(job, "actions/upload-artifact")
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "reports/reproduce.md"


def test_reproduce_reads_secrets_only_from_the_secrets_context() -> None:
    env = reproduce_step()["env"]
    for name in ("AWS_ACCESS_KEY_ID", "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_PASSWORD"):
        assert env[name] == f"${{{{ secrets.{name} }}}}", name


def test_the_model_uri_reaches_reproduce_as_one_literal_argument(tmp_path: Path) -> None:
    uri = "models:/x@$(touch${IFS}pwned) *"
    done = run_step_script(tmp_path, reproduce_step(), {"MODEL_URI": uri})
    assert done.returncode == 0, done.stderr
    assert recorded_args(tmp_path) == ["reproduce", "--report", "reports/reproduce.md", "--", uri]
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(("status", "message"), [(1, "differs"), (2, "names the step")])
def test_the_reproduce_step_fails_with_its_status_and_says_why(
    tmp_path: Path, status: int, message: str
) -> None:
    env = {"MODEL_URI": "models:/imdb-sentiment@champion", "STAND_IN_STATUS": str(status)}
    done = run_step_script(tmp_path, reproduce_step(), env)
    assert done.returncode == status
    assert "::error title=reproduce::" in done.stdout and message in done.stdout
