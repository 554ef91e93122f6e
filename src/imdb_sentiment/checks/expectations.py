"""Run Great Expectations 1.x suites and render their HTML Data Docs.

Each run uses an ephemeral GX context (nothing to commit under gx/) and renders Data Docs
into a folder the caller chooses; each failed expectation becomes one readable line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    success: bool
    failures: list[str]  # one line per failed expectation
    details: dict[str, Any]  # the GX result as JSON


def run_suites(
    suites: dict[str, tuple[pd.DataFrame, list[Any]]], docs_dir: Path
) -> list[SuiteResult]:
    """Validate each named (frame, expectations) pair; render all into one Data Docs site."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        site_name="reports",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir.resolve()),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    source = context.data_sources.add_pandas(name="pipeline")
    results = []
    for name, (frame, expectations) in suites.items():
        batch = source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe(name)
        suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=name,
                validation_definitions=[definition],
                # Each run re-renders the site's index, so it lists every suite run so far.
                actions=[gx.checkpoint.UpdateDataDocsAction(name="docs")],
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
            )
        )
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        details = next(iter(outcome.run_results.values())).to_json_dict()
        failures = [_describe_failure(r) for r in details["results"] if not r["success"]]
        log.info("suite %s: %s", name, f"{len(failures)} failed" if failures else "passed")
        results.append(SuiteResult(name, bool(outcome.success), failures, details))
    return results


def _describe_failure(result: dict[str, Any]) -> str:
    config = result["expectation_config"]
    kwargs = {k: v for k, v in config["kwargs"].items() if k not in ("batch_id", "row_condition")}
    condition = config["kwargs"].get("row_condition")
    where = f" where {_describe_condition(condition)}" if condition else ""
    observed = result.get("result", {})
    seen = [
        f"{label} {observed[key]}"
        for label, key in (
            ("observed", "observed_value"),
            ("unexpected", "partial_unexpected_list"),
            ("missing", "partial_missing_list"),
        )
        if observed.get(key) is not None and not _is_empty_list(observed[key])
    ]
    return f"{config['type']}({kwargs}){where} failed; {', '.join(seen) or 'no details'}"


def _is_empty_list(value: Any) -> bool:
    return isinstance(value, list) and not value


def _describe_condition(condition: Any) -> str:
    if isinstance(condition, dict) and {"column", "operator", "parameter"} <= set(condition):
        return f"{condition['column']['name']} {condition['operator']} {condition['parameter']!r}"
    return str(condition)
