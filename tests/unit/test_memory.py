"""The start-up memory check: estimates from the params, refused in one line past the machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from imdb_sentiment import memory
from imdb_sentiment.memory import (
    MemoryBudgetError,
    MemoryNeed,
    available_memory,
    check_memory,
    format_bytes,
    padded_sequences,
)


def test_a_configuration_within_the_memory_available_passes() -> None:
    check_memory([padded_sequences(50_000, 100)], "lower it", available=20_000_001)


def test_one_past_it_is_refused_naming_the_largest_need_and_the_fix() -> None:
    needs = [padded_sequences(50_000, 3_000_000), MemoryNeed("a small thing", 10)]
    with pytest.raises(MemoryBudgetError) as caught:
        check_memory(needs, "lower prepare.maxlen", available=8 * 10**9)
    assert str(caught.value) == (
        "these params need at least 600.0 GB of memory, more than the 8.0 GB available (the "
        "most: 50,000 reviews x 3,000,000 tokens (int32), 600.0 GB); lower prepare.maxlen"
    )


def test_this_machine_has_some_memory_available() -> None:
    available = available_memory()
    assert available is not None and available > 10**8


def test_a_container_limit_caps_what_is_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
    limit.write_text("2000000000\n")
    usage.write_text("1500000000\n")
    monkeypatch.setattr(memory, "_CGROUP_LIMITS", ((limit, usage),))
    assert available_memory() == 500_000_000
    limit.write_text("max\n")  # no limit: the machine's own figure
    assert (available_memory() or 0) > 500_000_000


def test_sizes_read_in_decimal_units() -> None:
    assert [format_bytes(n) for n in (999, 1500, 2_500_000, 600 * 10**9, 3 * 10**15)] == [
        "999 bytes",
        "1.5 KB",
        "2.5 MB",
        "600.0 GB",
        "3,000.0 TB",
    ]
