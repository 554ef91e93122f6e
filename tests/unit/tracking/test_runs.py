"""What a run shows: flattened params and the run page's description."""

from __future__ import annotations

import pytest

from imdb_sentiment.tracking.runs import flatten, run_description


def test_flatten_joins_nested_keys() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": None}}, "e": "x"}) == {
        "a.b": 1,
        "a.c.d": None,
        "e": "x",
    }


def test_run_description_gives_split_sizes_units_and_steps_as_epochs() -> None:
    text = run_description({"train": 23750, "val": 1250, "test": 25000})
    assert "23,750 reviews" in text and "1,250 held out" in text and "25,000 test" in text
    for unit in ("step = epoch", "nats", "fractions from 0 to 1", "wall-clock seconds"):
        assert unit in text
    with pytest.raises(KeyError, match="test"):
        run_description({"train": 23750, "val": 1250})
