"""Running suites: one result per suite, one line per failed expectation, one Data Docs site."""

from __future__ import annotations

from pathlib import Path

import great_expectations as gx
import pandas as pd
from great_expectations.expectations.row_conditions import Column

from imdb_sentiment.checks.expectations import run_suites


def test_each_suite_gets_a_result_and_all_share_one_data_docs_site(tmp_path: Path) -> None:
    frame = pd.DataFrame({"split": ["a", "a", "b"], "n": [1, 2, 3]})
    e = gx.expectations
    results = run_suites(
        {
            "passes": (frame, [e.ExpectColumnValuesToBeBetween(column="n", min_value=1)]),
            "fails": (frame, [e.ExpectColumnValuesToBeBetween(column="n", max_value=2)]),
        },
        tmp_path / "docs",
    )
    assert [(r.suite, r.success) for r in results] == [("passes", True), ("fails", False)]
    assert results[0].failures == []
    assert results[1].details["success"] is False
    index = (tmp_path / "docs" / "index.html").read_text()
    assert "passes" in index and "fails" in index


def test_a_failure_is_one_line_naming_the_column_condition_and_values(tmp_path: Path) -> None:
    frame = pd.DataFrame({"split": ["a", "a", "b"], "n": [1, 5, 9]})
    where_a = Column("split") == "a"
    expectations = [
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="n", max_value=2, row_condition=where_a
        ),
        gx.expectations.ExpectColumnMeanToBeBetween(column="n", min_value=6),
    ]
    [result] = run_suites({"suite": (frame, expectations)}, tmp_path / "docs")
    assert not result.success
    assert result.failures == [
        "expect_column_values_to_be_between({'column': 'n', 'max_value': 2.0}) where split == 'a'"
        " failed; unexpected [5]",
        "expect_column_mean_to_be_between({'column': 'n', 'min_value': 6.0}) failed; observed 5.0",
    ]
