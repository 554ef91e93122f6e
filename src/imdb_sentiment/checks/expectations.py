"""Great Expectations 1.x suites over the raw reviews and the prepared sequences.

Each suite runs in an ephemeral GX context (nothing to commit under gx/), and every
run renders HTML Data Docs into a directory the caller chooses. Expectations read derived
columns (one value per row, or a per-split aggregate repeated on each row of the split), so
each failure names a column and shows the offending values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imdb_sentiment.checks.train_test_drift import Drift, drift_failures
from imdb_sentiment.config import ValidateParams
from imdb_sentiment.data.sequences import EncodedSplit, PreparedDataError
from imdb_sentiment.data.tokenizer import OOV, PAD, START

log = logging.getLogger(__name__)

RAW_COLUMNS = ["split", "label", "rating", "review_id", "text"]
DERIVED_COLUMNS = [
    "split_label",
    "group_size",
    "chars",
    "stripped_chars",
    "review_key",
    "labels_per_text",
    "cross_split_duplicate",
]
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
    frame["chars"] = frame["text"].str.len()
    frame["stripped_chars"] = frame["text"].str.strip().str.len()
    # aclImdb numbers reviews per split *and label* folder (train/neg/0_3 and train/pos/0_9 both
    # exist), so the id is unique within a split/label pair, not within a split.
    frame["review_key"] = frame["split_label"] + ":" + frame["review_id"].astype(str)
    # GX's compound-uniqueness expectation misfires on pandas 3 string columns, so the
    # "one label per text" rule is a derived count instead.
    frame["labels_per_text"] = frame.groupby("text")["label"].transform("nunique")
    in_train = frame["text"].isin(frame.loc[frame["split"] == "train", "text"])
    in_test = frame["text"].isin(frame.loc[frame["split"] == "test", "text"])
    frame["cross_split_duplicate"] = (in_train & in_test).astype(np.int64)
    return frame


def raw_review_expectations(cfg: ValidateParams) -> list[Any]:
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    e = gx.expectations
    n = cfg.reviews_per_split_label
    return [
        # A renamed, missing or extra column means download changed the table's contract.
        e.ExpectTableColumnsToMatchSet(
            column_set=[*RAW_COLUMNS, *DERIVED_COLUMNS], exact_match=True
        ),
        # Members from outside train/ and test/ (unsup/, a stray folder) were read as reviews.
        e.ExpectColumnValuesToBeInSet(column="split", value_set=["train", "test"]),
        e.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
        # A lost label folder, or a partial read: the raw table is never capped (prepare caps),
        # so every split holds both labels with exactly the published count. ("Contain", with
        # the two set checks above, says "equal": GX's Data Docs fail to render a failed
        # "equal set" that saw unexpected values.)
        e.ExpectColumnDistinctValuesToContainSet(
            column="split_label", value_set=sorted(SPLIT_LABELS)
        ),
        e.ExpectColumnValuesToBeBetween(column="group_size", min_value=n, max_value=n),
        # Labels parsed from the wrong folder or file name: aclImdb labels by rating,
        # negative <= 4 stars, positive >= 7; 5 and 6 were left out.
        e.ExpectColumnValuesToBeBetween(
            column="rating", min_value=1, max_value=4, row_condition=Column("label") == 0
        ),
        e.ExpectColumnValuesToBeBetween(
            column="rating", min_value=7, max_value=10, row_condition=Column("label") == 1
        ),
        # Empty or whitespace-only files (a failed decode, a zero-byte member) carry no signal.
        e.ExpectColumnValuesToNotBeNull(column="text"),
        e.ExpectColumnValuesToBeBetween(column="stripped_chars", min_value=1),
        # Too short: a truncated read; too long: reviews run together or a non-review read in.
        e.ExpectColumnValuesToBeBetween(
            column="chars", min_value=cfg.min_chars, max_value=cfg.max_chars
        ),
        # The same file read twice (ids repeat only across label folders, never within one).
        e.ExpectColumnValuesToBeUnique(column="review_key"),
        # One text with two labels teaches the model both answers: the labels are unreliable.
        e.ExpectColumnValuesToBeBetween(column="labels_per_text", max_value=1),
        # aclImdb has a few hundred reviews posted verbatim in both splits; many more mean test
        # reviews leaked into train, and test accuracy would overstate the model.
        e.ExpectColumnSumToBeBetween(
            column="cross_split_duplicate", max_value=cfg.max_cross_split_duplicates
        ),
    ]


def load_encoded_splits(directory: Path, names: Iterable[str]) -> dict[str, EncodedSplit]:
    """The arrays prepare wrote, `directory/<name>.npz` for each name."""
    splits = {}
    for name in names:
        with np.load(directory / f"{name}.npz") as npz:
            splits[name] = EncodedSplit(npz["x"], npz["y"], npz["review_id"])
    return splits


def sequence_frame(splits: Mapping[str, EncodedSplit]) -> pd.DataFrame:
    """One row per sequence with the statistics the expectations read."""
    frame = pd.concat([_sequence_rows(n, s) for n, s in splits.items()], ignore_index=True)
    by_split = frame.groupby("split")
    frame["split_size"] = by_split["label"].transform("size")
    # A rate over all word positions of the split, not a mean of per-row rates.
    frame["split_oov_rate"] = by_split["oov"].transform("sum") / by_split["words"].transform(
        "sum"
    ).clip(lower=1)
    return frame


def _sequence_rows(name: str, split: EncodedSplit) -> pd.DataFrame:
    x = split.x
    if x.ndim != 2 or x.shape[1] == 0 or not len(x) == len(split.y) == len(split.review_id):
        raise PreparedDataError(
            f"{name}: x {x.shape}, y {split.y.shape}, review_id {split.review_id.shape}; "
            "expected (n, maxlen), (n,), (n,): rerun prepare"
        )
    n, width = x.shape
    is_pad = x == PAD
    non_pad = width - is_pad.sum(axis=1)
    first = (~is_pad).argmax(axis=1)  # first non-pad position; 0 for an all-padding row
    first_id = x[np.arange(n), first]
    labels = split.y.astype(np.int64)
    return pd.DataFrame(
        {
            "split": name,
            "label": labels,
            "review_key": [
                f"{label}:{rid}" for label, rid in zip(labels, split.review_id, strict=True)
            ],
            "width": np.full(n, width),
            "min_id": x.min(axis=1),
            "max_id": x.max(axis=1),
            "non_pad": non_pad,
            "pad_fraction": 1 - non_pad / width,
            "first_id": first_id,
            "misplaced_starts": (x == START).sum(axis=1) - (first_id == START),
            "inner_pads": np.where(non_pad > 0, width - non_pad - first, 0),
            "oov": (x == OOV).sum(axis=1),
            "words": (x >= OOV).sum(axis=1),  # positions holding a word: not pad, not start
        }
    )


def sequence_expectations(meta: dict[str, Any], cfg: ValidateParams) -> list[Any]:
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    e = gx.expectations
    tolerance = cfg.label_balance_tolerance
    per_split = []
    for name, count in meta["counts"].items():
        in_split = Column("split") == name
        per_split += [
            # Rows lost or duplicated between prepare's bookkeeping and its arrays.
            e.ExpectColumnValuesToBeBetween(
                column="split_size", min_value=count, max_value=count, row_condition=in_split
            ),
            # Mostly padding: the tokenizer lost words, or maxlen far exceeds the reviews.
            e.ExpectColumnMeanToBeBetween(
                column="pad_fraction", max_value=cfg.max_pad_fraction, row_condition=in_split
            ),
            # Many unknown words: the vocabulary does not match the tokenizer or the text.
            e.ExpectColumnMeanToBeBetween(
                column="split_oov_rate", max_value=cfg.max_oov_rate, row_condition=in_split
            ),
            # A cap or split that favoured one label: accuracy would no longer mean much.
            e.ExpectColumnMeanToBeBetween(
                column="label",
                min_value=0.5 - tolerance,
                max_value=0.5 + tolerance,
                row_condition=in_split,
            ),
        ]
    return [
        e.ExpectColumnDistinctValuesToEqualSet(column="split", value_set=sorted(meta["counts"])),
        *per_split,
        e.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
        # Sequences of another maxlen than the model's input.
        e.ExpectColumnValuesToBeBetween(
            column="width", min_value=meta["maxlen"], max_value=meta["maxlen"]
        ),
        # Ids outside [0, max_features) would index past the Embedding table.
        e.ExpectColumnValuesToBeBetween(column="min_id", min_value=0),
        e.ExpectColumnValuesToBeBetween(column="max_id", max_value=meta["max_features"] - 1),
        e.ExpectColumnValuesToBeBetween(column="non_pad", min_value=1),
        # Encoding as keras.datasets.imdb: a padded row holds the whole review, so it starts
        # with START; a row without padding was truncated at the front and may not. START
        # anywhere else means words numbered from 1 (the index_from mistake).
        e.ExpectColumnValuesToBeInSet(
            column="first_id", value_set=[START], row_condition=Column("pad_fraction") > 0
        ),
        e.ExpectColumnValuesToBeBetween(column="misplaced_starts", max_value=0),
        # Padding after a word: padded at the end, though the model expects "pre" padding.
        e.ExpectColumnValuesToBeBetween(column="inner_pads", max_value=0),
        # A review in both train and val (or twice in train) makes validation scores optimistic.
        # Keyed by label too: aclImdb ids repeat across label folders.
        e.ExpectColumnValuesToBeUnique(
            column="review_key", row_condition=Column("split").is_in(["train", "val"])
        ),
    ]


def summarize_sequences(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per-split figures the sequence suite checks, as plain numbers for a metrics file."""
    by_split = frame.groupby("split", sort=False)
    stats = {
        "oov_rate": by_split["oov"].sum() / by_split["words"].sum().clip(lower=1),
        "pad_fraction": by_split["pad_fraction"].mean(),
        "positive_share": by_split["label"].mean(),
    }
    return {key: {str(k): float(v) for k, v in s.items()} for key, s in stats.items()}


def collect_failures(results: list[SuiteResult], drift: Drift, cfg: ValidateParams) -> list[str]:
    """Every failed expectation and every divergence over its limit, one line each."""
    failures = [f"{r.suite}: {line}" for r in results for line in r.failures]
    return failures + [f"drift: {line}" for line in drift_failures(drift, cfg)]


def validation_report(results: list[SuiteResult], failures: list[str]) -> dict[str, Any]:
    """What train checks before it starts ("success"), with the full GX results."""
    return {
        "success": not failures,
        "failures": failures,
        "suites": {r.suite: {"success": r.success, "failures": r.failures} for r in results},
        "results": {r.suite: r.details for r in results},
    }


def drift_metrics(drift: Drift, raw: pd.DataFrame, sequences: pd.DataFrame) -> dict[str, Any]:
    """Plain numbers for a DVC metrics file: drift and the per-split figures the suites check."""
    return {
        "js_tokens": drift.js_tokens,
        "js_lengths": drift.js_lengths,
        "cross_split_duplicates": int(raw["cross_split_duplicate"].sum()),
        "mean_review_tokens": drift.mean_review_tokens,
        **summarize_sequences(sequences),
    }


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
