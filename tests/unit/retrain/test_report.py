"""The retrain report's content, rendered from plain data."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

from imdb_sentiment.retrain.outcome import (
    EXIT_PIPELINE_FAILED,
    EXIT_PUSH_FAILED,
    Context,
    Options,
    Outcome,
    Step,
)
from imdb_sentiment.retrain.report import render_report


def outcome(exit_code: int, steps: list[Step], **fields: object) -> Outcome:
    options = Options(["train.fit.epochs=1"], Path("r.md"), "main", True, True, "sqlite:///m.db")
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
    text = render_report(outcome(0, steps, stages_run=["train", "promote"]), CONTEXT)
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
    assert "throwaway store" not in render_report(done, CONTEXT)
    pr = dataclasses.replace(CONTEXT, trigger=["GitHub Actions `pull_request`"])
    assert "not the team's" in render_report(done, pr)


def test_report_of_a_failed_stage_quotes_its_output_safely() -> None:
    tail = ["Running stage 'validate':", "```not a fence```", "validate: error: 3 check(s)"]
    steps = [Step("pipeline", "dvc repro", "failed", tail=tail)]
    failed = outcome(EXIT_PIPELINE_FAILED, steps, failed_stage="validate")
    text = render_report(failed, Context(["local"], "abc", "not compared", {}, None, []))
    assert text.startswith("# Retrain: failed at stage validate\n")
    assert "The gate did not run: the champion is unchanged." in text
    block = text[text.index("````\n") : text.rindex("````")]
    assert "validate: error: 3 check(s)" in block and "```not a fence```" in block


def test_report_of_a_failed_push_lists_what_the_remote_lacks() -> None:
    steps = [Step("push", "dvc push", "failed", note="ERROR: no space left")]
    text = render_report(
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


def test_credentials_in_dvc_output_and_params_never_reach_the_report() -> None:
    secret = "https://ci:s3cret@mirror.example.invalid/imdb.tar.gz?X-Amz-Signature=abc"
    tail = [f"download: error: cannot fetch {secret}", f"ERROR: remote 's3' ('{secret}')"]
    steps = [Step("pipeline", "dvc repro", "failed", tail=tail)]
    params = {"params.yaml": {"download.url": {"old": secret, "new": "https://ok.invalid/a"}}}
    context = Context(["local"], "abc", "not compared", params, None, [])
    text = render_report(outcome(EXIT_PIPELINE_FAILED, steps, failed_stage="download"), context)
    assert "s3cret" not in text and "abc\n" not in text.split("X-Amz-Signature=")[1]
    assert "https://***@mirror.example.invalid/imdb.tar.gz?X-Amz-Signature=***" in text
