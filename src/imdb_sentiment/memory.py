"""Will a run fit in this machine's memory? A rough estimate, checked when a stage starts.

`prepare.maxlen: 3000000` would pad 50,000 reviews into 600 GB of int32: better one line at
start-up, naming the params to lower, than minutes of swapping ended by the OOM killer or a
numpy traceback. The estimates count only what grows with the params (padded sequences, the
embedding table with its optimizer state, a batch's activations), so a refusal is certain
and a configuration that passes may still need a little more.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imdb_sentiment.config import PrepareParams, TrainParams
from imdb_sentiment.errors import PipelineError

INT32_BYTES = FLOAT32_BYTES = 4
# Weights, their gradients and Adam's two moments: four float32 copies of each parameter.
_TRAINING_COPIES = 4
# Activations kept for the backward pass, and their gradients: a few copies of a batch's.
_ACTIVATION_COPIES = 3

_MEMINFO = Path("/proc/meminfo")
# A container's limit and usage (cgroup v2, then v1), when the process runs in one.
_CGROUP_LIMITS = (
    (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")),
    (
        Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        Path("/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ),
)


class MemoryBudgetError(PipelineError):
    """The params ask for more memory than the machine has available."""


@dataclass(frozen=True)
class MemoryNeed:
    what: str  # e.g. "50,000 reviews x 100 tokens (int32)"
    nbytes: int


def padded_sequences(rows: int, maxlen: int) -> MemoryNeed:
    return MemoryNeed(f"{rows:,} reviews x {maxlen:,} tokens (int32)", rows * maxlen * INT32_BYTES)


def embedding_table(vocabulary: int, dim: int, members: int = 1) -> MemoryNeed:
    """The embedding weights with their gradients and Adam's moments, one per member."""
    nbytes = vocabulary * dim * FLOAT32_BYTES * _TRAINING_COPIES * members
    table = f"{vocabulary:,} x {dim:,} embedding"
    what = f"a {table}" if members == 1 else f"{members} members' {table}s"
    return MemoryNeed(f"{what} with Adam's state", nbytes)


def batch_activations(batch: int, maxlen: int, width: int) -> MemoryNeed:
    """A training batch's activations (`width` floats per token) and their gradients."""
    nbytes = batch * maxlen * width * FLOAT32_BYTES * _ACTIVATION_COPIES
    return MemoryNeed(f"a batch of {batch:,} x {maxlen:,} tokens x {width:,} floats", nbytes)


def check_prepare_memory(rows: int, cfg: PrepareParams) -> None:
    """`prepare`: the padded splits of `rows` reviews."""
    check_memory(
        [padded_sequences(rows, cfg.maxlen)],
        "lower prepare.maxlen (or cap prepare.max_reviews_per_split)",
    )


def check_training_memory(
    cfg: TrainParams, meta: Mapping[str, Any], available: int | None = None
) -> None:
    """`train`: the train and val splits as prepare wrote them (`meta`), each member's
    embedding and a batch (Keras takes at most the whole split in one)."""
    maxlen, n_train = meta["maxlen"], meta["counts"]["train"]
    width = cfg.model.embedding_dim + 2 * cfg.model.filters  # per token: embedding, conv
    needs = [
        padded_sequences(n_train + meta["counts"]["val"], maxlen),
        embedding_table(
            meta["max_features"] + cfg.model.bigram_buckets, cfg.model.embedding_dim, cfg.members
        ),
        batch_activations(min(cfg.fit.batch_size, n_train), maxlen, width),
    ]
    check_memory(
        needs,
        "lower prepare.maxlen, prepare.max_features, train.model.embedding_dim, "
        "train.model.bigram_buckets, train.members or train.fit.batch_size",
        available,
    )


def check_memory(needs: Sequence[MemoryNeed], fix: str, available: int | None = None) -> None:
    """Raise MemoryBudgetError if `needs` add up to more than the memory available.

    `available` defaults to what this machine (or its container) has free now; when that
    cannot be told, nothing is checked. `fix` names the params to lower.
    """
    available = available_memory() if available is None else available
    total = sum(need.nbytes for need in needs)
    if available is None or total <= available:
        return
    largest = max(needs, key=lambda need: need.nbytes)
    raise MemoryBudgetError(
        f"these params need at least {format_bytes(total)} of memory, more than the "
        f"{format_bytes(available)} available (the most: {largest.what}, "
        f"{format_bytes(largest.nbytes)}); {fix}"
    )


def available_memory() -> int | None:
    """Bytes a new allocation can still get: the OS's estimate, capped by a container's limit."""
    candidates = [_meminfo_available(), *(_cgroup_room(*paths) for paths in _CGROUP_LIMITS)]
    known = [value for value in candidates if value is not None]
    if not known:
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    return min(known)


def _meminfo_available() -> int | None:
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room(limit_path: Path, usage_path: Path) -> int | None:
    try:
        limit = limit_path.read_text().strip()
        usage = int(usage_path.read_text().strip())
    except (OSError, ValueError):
        return None
    # "max" (v2) or a huge number (v1) means no limit.
    if not limit.isdigit() or int(limit) >= 1 << 60:
        return None
    return max(int(limit) - usage, 0)


def format_bytes(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
