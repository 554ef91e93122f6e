"""The Markdown report of an `imdb-sentiment reproduce`, from what the run gathered.

No I/O but the final write: `command` and `steps` gather the facts, this renders them, so
every branch of the report is testable on plain data. Tables and steps as retrain's report.
"""

from __future__ import annotations

from pathlib import Path

from imdb_sentiment.reproduce.outcome import Outcome
from imdb_sentiment.reproduce.rebuild import REBUILD_STEPS
from imdb_sentiment.retrain.report import fenced, steps_table, table_cell

WEIGHTS_NOTE = (
    "The weights md5 is taken over the model's weight arrays in order (dtype, shape, bytes), "
    "not over the .keras file: that is a zip whose entries carry the time they were saved, "
    "so two saves of the same weights differ."
)


def render_report(outcome: Outcome) -> str:
    """The whole report, Markdown."""
    lines = [f"# Reproduce: {headline(outcome)}", "", *_about(outcome)]
    lines += _failure(outcome)
    lines += _comparison(outcome)
    lines += _data(outcome)
    lines += _environment(outcome)
    lines += steps_table(outcome.steps)
    return "\n".join(lines).rstrip() + "\n"


def headline(outcome: Outcome) -> str:
    if outcome.failure is not None:
        return f"could not run, step {outcome.failure.step}"
    version = outcome.recorded.version if outcome.recorded else "?"
    rule = outcome.rule.name if outcome.rule else "?"
    return f"v{version} {outcome.verdict} ({rule} rule)"


def summary_line(outcome: Outcome) -> str:
    """The verdict on the console: the rule and why, or the checks that failed."""
    version = outcome.recorded.version if outcome.recorded else "?"
    rule = outcome.rule.name if outcome.rule else "?"
    failed = [check.item for check in outcome.checks if check.ok is False]
    if not failed:
        reason = outcome.rule.reason if outcome.rule else ""
        return f"reproduce: v{version} {outcome.verdict} ({rule} rule: {reason})"
    return f"reproduce: v{version} {outcome.verdict} ({rule} rule): {', '.join(failed)}"


def write_report(path: Path, text: str) -> None:
    from imdb_sentiment.files import atomic_open  # numpy: not for `--help`

    with atomic_open(path) as fh:
        fh.write(text)


def _about(outcome: Outcome) -> list[str]:
    options, recorded = outcome.options, outcome.recorded
    finished = outcome.finished or outcome.started
    rebuild = sum(s.seconds for s in outcome.steps if s.name in REBUILD_STEPS)
    model = f"`{options.model.uri}`"
    if recorded is not None:
        model += f" → v{recorded.version}, run `{recorded.run_id}`"
    lines = [f"- **Model:** {model}"]
    if recorded is not None:
        lines.append(f"- **Commit:** `{recorded.commit or '-'}`")
    if outcome.rule is not None:
        lines.append(f"- **Rule:** {outcome.rule.name}: {table_cell(outcome.rule.reason)}")
    lines += [
        f"- **Verdict:** {outcome.verdict or 'none'}, exit status {outcome.exit_code}",
        f"- **Started:** {outcome.started.isoformat(timespec='seconds')}, took "
        f"{(finished - outcome.started).total_seconds():.0f} s, of which the pipeline "
        f"(`dvc commit`, `dvc repro`) {rebuild:.0f} s",
    ]
    if outcome.attestation_uri:
        tags = ", ".join(
            f"`{k}={v}`" for k, v in outcome.tags.items() if k != "reproduced.attestation"
        )
        lines.append(f"- **Attestation:** `{outcome.attestation_uri}`; version tags {tags}")
    return [*lines, ""]


def _failure(outcome: Outcome) -> list[str]:
    if outcome.failure is None:
        return []
    lines = ["## What failed", "", f"Step **{outcome.failure.step}**: {outcome.failure.detail}", ""]
    tail = next((s.tail for s in reversed(outcome.steps) if s.outcome == "failed" and s.tail), [])
    if tail:
        lines += ["Last lines of its output:", "", *fenced(tail), ""]
    return [*lines, "Nothing was tagged: the verdict needs a comparison.", ""]


def _comparison(outcome: Outcome) -> list[str]:
    if not outcome.checks:
        return []
    lines = [
        "## Comparison",
        "",
        "| check | original (recorded) | rebuild (found) | result |",
        "|---|---|---|---|",
    ]
    for check in outcome.checks:
        mark = {True: "✅", False: "❌", None: "➖"}[check.ok]
        cells = [check.item, f"`{check.expected}`", f"`{check.found}`", f"{mark} {check.result}"]
        lines.append("| " + " | ".join(table_cell(c) for c in cells) + " |")
    return [*lines, "", WEIGHTS_NOTE, ""]


def _data(outcome: Outcome) -> list[str]:
    recorded = outcome.recorded
    if recorded is None or not outcome.data_sources:
        return []
    lines = ["## Data", "", "| file | md5 | from |", "|---|---|---|"]
    for path, md5 in recorded.data_md5.items():
        lines.append(f"| `{path}` | `{md5}` | {outcome.data_sources.get(path, '-')} |")
    return [*lines, ""]


def _environment(outcome: Outcome) -> list[str]:
    env = outcome.environment
    if not env:
        return []
    packages = env.get("packages", {})
    assert isinstance(packages, dict)
    rows = [
        ("Python", env.get("python")),
        ("platform", env.get("platform")),
        ("CPU", env.get("cpu")),
        *((name, version or "not installed") for name, version in packages.items()),
        (
            "installed distributions",
            f"{env.get('installed_distributions')}, sha256 `{env.get('installed_sha256')}`",
        ),
    ]
    lines = ["## Environment of the rebuild", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {table_cell(value)} |" for name, value in rows]
    return [*lines, ""]
