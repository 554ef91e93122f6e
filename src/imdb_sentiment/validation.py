"""Great Expectations 1.x suites over the raw reviews table and the prepared sequences.

Each suite runs in an ephemeral GX context (nothing to commit under gx/), and every
run renders HTML Data Docs into a directory the caller chooses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

RAW_COLUMNS = ["split", "label", "rating", "review_id", "text"]
DERIVED_COLUMNS = ["split_label", "group_size", "stripped_chars", "review_key"]
SPLIT_LABELS = {"train/0", "train/1", "test/0", "test/1"}


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    success: bool
    failures: list[str]  # one line per failed expectation
    details: dict[str, Any]  # the GX result as JSON


def raw_review_frame(reviews: pd.DataFrame) -> pd.DataFrame:
    """The reviews plus derived columns that the expectations read."""
    frame = reviews.copy()
    frame["split_label"] = frame["split"] + "/" + frame["label"].astype(str)
    frame["group_size"] = frame.groupby("split_label")["review_id"].transform("size")
    frame["stripped_chars"] = frame["text"].str.strip().str.len()
    # aclImdb numbers reviews per split *and label* folder (train/neg/0_3 and train/pos/0_9 both
    # exist), so the id is unique within a split/label pair, not within a split.
    frame["review_key"] = frame["split_label"] + ":" + frame["review_id"].astype(str)
    return frame


def raw_review_expectations(reviews_per_split_label: int) -> list[Any]:
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    e = gx.expectations
    n = reviews_per_split_label
    return [
        e.ExpectTableColumnsToMatchSet(
            column_set=[*RAW_COLUMNS, *DERIVED_COLUMNS], exact_match=True
        ),
        e.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "test"]),
        e.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
        # Every split holds both labels, each with the expected number of reviews.
        e.ExpectColumnDistinctValuesToEqualSet(
            column="split_label", value_set=sorted(SPLIT_LABELS)
        ),
        e.ExpectColumnValuesToBeBetween(column="group_size", min_value=n, max_value=n),
        # aclImdb labels by rating: negative <= 4 stars, positive >= 7; 5-6 were left out.
        e.ExpectColumnValuesToBeBetween(
            column="rating", min_value=1, max_value=4, row_condition=Column("label") == 0
        ),
        e.ExpectColumnValuesToBeBetween(
            column="rating", min_value=7, max_value=10, row_condition=Column("label") == 1
        ),
        e.ExpectColumnValuesToNotBeNull(column="text"),
        e.ExpectColumnValuesToBeBetween(column="stripped_chars", min_value=1),
        e.ExpectColumnValuesToBeUnique(column="review_key"),
    ]


def sequence_frame(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """One row per sequence with the statistics the expectations read."""
    parts = []
    for name, (x, y) in splits.items():
        parts.append(
            pd.DataFrame(
                {
                    "split": name,
                    "label": y.astype(np.int64),
                    "width": np.full(len(x), x.shape[1] if x.ndim == 2 else 0),
                    "min_id": x.min(axis=1) if x.size else np.zeros(len(x), dtype=np.int64),
                    "max_id": x.max(axis=1) if x.size else np.zeros(len(x), dtype=np.int64),
                    "non_pad": (x != 0).sum(axis=1) if x.ndim == 2 else np.zeros(len(x)),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["split_size"] = frame.groupby("split")["label"].transform("size")
    return frame


def sequence_expectations(meta: dict[str, Any]) -> list[Any]:
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    e = gx.expectations
    expected_sizes = [
        e.ExpectColumnValuesToBeBetween(
            column="split_size",
            min_value=count,
            max_value=count,
            row_condition=Column("split") == name,
        )
        for name, count in meta["counts"].items()
    ]
    return [
        e.ExpectColumnDistinctValuesToEqualSet(column="split", value_set=sorted(meta["counts"])),
        *expected_sizes,
        e.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
        e.ExpectColumnValuesToBeBetween(
            column="width", min_value=meta["maxlen"], max_value=meta["maxlen"]
        ),
        # Ids outside [0, max_features) would index past the Embedding table.
        e.ExpectColumnValuesToBeBetween(column="min_id", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="max_id", max_value=meta["max_features"] - 1),
        e.ExpectColumnValuesToBeBetween(column="non_pad", min_value=1),
    ]


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
    kwargs = {k: v for k, v in config["kwargs"].items() if k != "batch_id"}
    observed = result.get("result", {})
    seen = observed.get("observed_value", observed.get("partial_unexpected_list"))
    return f"{config['type']}({kwargs}) failed; observed {seen}"
