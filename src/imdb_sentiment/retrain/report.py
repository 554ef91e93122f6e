"""The Markdown report of an `imdb-sentiment retrain`, from what the run recorded.

No I/O here: `command` and `context` gather the facts (steps, diffs, the gate's JSON,
MLflow links) and this renders them, so every branch of the report is testable on plain data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from imdb_sentiment.redact import redact_urls
from imdb_sentiment.retrain.outcome import (
    EXIT_PIPELINE_FAILED,
    EXIT_PUSH_FAILED,
    Context,
    Outcome,
    Step,
)


def render_report(outcome: Outcome, context: Context) -> str:
    """The whole report, Markdown; every URL in it redacted (CI publishes the report)."""
    lines = [f"# Retrain: {headline(outcome, context.promotion)}", ""]
    lines += _about(outcome, context)
    lines += steps_table(outcome.steps)
    lines += _failure(outcome)
    lines += _unpushed(outcome)
    lines += _gate(outcome, context.promotion)
    if any("`pull_request`" in line for line in context.trigger):
        # retrain.yml gives pull requests no MLflow secrets: their registry dies with the runner.
        lines += [
            "A pull request's run tracks to a throwaway store on the runner: this decision is "
            "against that store's champion, not the team's.",
            "",
        ]
    base = outcome.options.base or "base"
    lines += _diff_section(f"Metrics vs `{base}`", context.metrics, metrics=True)
    lines += _diff_section(f"Params vs `{base}`", context.params, metrics=False)
    lines += ["## MLflow", ""]
    lines += [f"- {line}" for line in context.mlflow] or ["- no run: the pipeline failed"]
    # DVC's output (an IMDB_URL, a remote's URL) and params diffs may carry credentials.
    return redact_urls("\n".join(lines).rstrip() + "\n")


def headline(outcome: Outcome, promotion: dict[str, Any] | None) -> str:
    """The outcome in a few words, for the report's title."""
    if outcome.exit_code == EXIT_PIPELINE_FAILED:
        failed = next((s.name for s in outcome.steps if s.outcome == "failed"), "pipeline")
        if failed == "pipeline" and outcome.failed_stage:
            return f"failed at stage {outcome.failed_stage}"
        return f"{failed} failed"
    gate = gate_summary(promotion, "promote" in outcome.stages_run)
    return f"{gate}; push failed" if outcome.exit_code == EXIT_PUSH_FAILED else gate


def gate_summary(promotion: dict[str, Any] | None, gate_ran: bool) -> str:
    if not promotion:
        return "no gate decision"
    if not gate_ran:  # the report on disk is an earlier run's: no news about the champion
        return f"gate not rerun (inputs unchanged), champion v{promotion.get('champion_after')}"
    decision = promotion.get("decision", "?")
    version = promotion.get("challenger", {}).get("version", "?")
    champion = promotion.get("champion_after", "?")
    if decision == "promoted":
        return f"v{version} promoted to champion"
    return f"v{version} {decision}, champion stays v{champion}"


def _about(outcome: Outcome, context: Context) -> list[str]:
    options = outcome.options
    overrides = " ".join(f"`-S {o}`" for o in options.overrides) or "none (`dvc repro`)"
    finished = outcome.finished or outcome.started
    return [
        f"- **Trigger:** {', '.join(context.trigger)}",
        f"- **Commit:** `{context.commit}`",
        f"- **Overrides:** {overrides}",
        f"- **Compared with:** `{options.base}`" if options.base else "- **Compared with:** -",
        f"- **Exit status:** {outcome.exit_code}",
        f"- **Started:** {outcome.started.isoformat(timespec='seconds')}, "
        f"took {(finished - outcome.started).total_seconds():.0f} s",
        "",
    ]


def steps_table(steps: list[Step]) -> list[str]:
    lines = ["## Steps", "", "| step | command | result | seconds |", "|---|---|---|---:|"]
    for step in steps:
        result = table_cell(step.outcome + (f": {step.note}" if step.note else ""))
        command = table_cell(step.command)
        lines.append(f"| {step.name} | `{command}` | {result} | {step.seconds:.1f} |")
    return [*lines, ""]


def _failure(outcome: Outcome) -> list[str]:
    failed = [s for s in outcome.steps if s.outcome == "failed" and s.tail]
    if outcome.exit_code != EXIT_PIPELINE_FAILED or not failed:
        return []
    step = failed[-1]
    where = f", stage `{outcome.failed_stage}`" if outcome.failed_stage else ""
    return [
        "## What failed",
        "",
        f"Step **{step.name}**{where}; the champion alias was not touched (the gate runs "
        "last). Last lines of its output:",
        "",
        *fenced(step.tail),
        "",
    ]


def _unpushed(outcome: Outcome) -> list[str]:
    if outcome.exit_code != EXIT_PUSH_FAILED:
        return []
    return [
        "## Not pushed",
        "",
        f"`dvc push` failed; {outcome.local_cache}. Run `dvc push` again once the remote "
        f"works. {outcome.unpushed_source}:",
        "",
        *[f"- `{path}` ({detail})" for path, detail in outcome.unpushed],
        "",
    ]


def _gate(outcome: Outcome, promotion: dict[str, Any] | None) -> list[str]:
    lines = ["## Champion gate", ""]
    if outcome.exit_code == EXIT_PIPELINE_FAILED:
        return [*lines, "The gate did not run: the champion is unchanged.", ""]
    if not promotion:
        return [*lines, "No gate report (reports/promotion.json).", ""]
    if "promote" not in outcome.stages_run:
        lines += ["The gate did not run this time (its inputs did not change); its last run:", ""]
    challenger = promotion.get("challenger", {})
    champion = promotion.get("champion", {})
    comparison = promotion.get("comparison", {})
    rows = [
        ("decision", f"**{promotion.get('decision', '?')}**"),
        ("reason", promotion.get("reason", "")),
        ("challenger", _version(challenger)),
        ("champion before", _version(champion) if champion else "none"),
        ("champion after", f"v{promotion.get('champion_after', '?')}"),
        ("McNemar p-value", _number(comparison.get("p_value"))),
        ("accuracy gain", _number(comparison.get("accuracy_gain"), signed=True)),
        ("test reviews", str(promotion.get("test_reviews", ""))),
    ]
    lines += ["| | |", "|---|---|", *(f"| {k} | {table_cell(v)} |" for k, v in rows)]
    return [*lines, ""]


def _diff_section(title: str, diff: dict[str, Any] | str, metrics: bool) -> list[str]:
    lines = [f"## {title}", ""]
    if isinstance(diff, str):
        return [*lines, diff, ""]
    rows = [
        (file, key, change)
        for file, values in sorted(diff.items())
        for key, change in sorted((values or {}).items())
    ]
    if not rows:
        return [*lines, "No change.", ""]
    head = "| file | metric | base | now | change |" if metrics else "| file | param | base | now |"
    lines += [head, "|---|---|---:|---:|---:|" if metrics else "|---|---|---|---|"]
    for file, key, change in rows:
        old, new = _number(change.get("old")), _number(change.get("new"))
        cells = [file, key, old, new] + ([_number(change.get("diff"), signed=True)] * metrics)
        lines.append("| " + " | ".join(table_cell(c) for c in cells) + " |")
    return [*lines, ""]


def _version(entry: Mapping[str, Any]) -> str:
    if not entry:
        return ""
    accuracy = _number(entry.get("accuracy"))
    return f"v{entry.get('version', '?')} (run `{entry.get('run_id', '?')}`, accuracy {accuracy})"


def _number(value: Any, signed: bool = False) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:+.4g}" if signed else f"{value:.4g}"
    return f"{value:+}" if signed and isinstance(value, int) else str(value)


def table_cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def fenced(lines: list[str]) -> list[str]:
    """A code block that no backtick run in `lines` can close early."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *lines, fence]
