"""Which rows and batch each replica's process feeds Keras, on arrays written inline.

Training on several devices is tested in tests/pipeline/test_distribution.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from imdb_sentiment.config import ConfigError
from imdb_sentiment.modeling.distribution import (
    Replicas,
    check_workers_agree,
    local_fit_params,
    shard_split,
    start_replicas,
)
from tests.conftest import TINY_FIT

FIT = dataclasses.replace(TINY_FIT, epochs=1)
X = np.arange(18).reshape(9, 2)  # 9 rows of token ids
Y = np.arange(9)


def replicas(backend: str, count: int, workers: int = 1, index: int = 0) -> Replicas:
    name = "mirrored" if workers == 1 else "multi_worker"
    return Replicas(name, backend, count, workers, index, None)


def test_none_is_one_replica_of_one_worker() -> None:
    none = start_replicas("none")
    assert (none.count, none.workers, none.worker_index, none.strategy) == (1, 1, 0, None)
    assert none.tracking_params() == {"distribution.replicas": 1, "distribution.workers": 1}
    with none.scope():
        pass
    check_workers_agree(none, {"anything": 1}, "")  # alone, nothing to compare


def test_tensorflow_workers_read_every_row_and_pass_the_global_batch() -> None:
    # A TF strategy splits batches itself, uneven ones included.
    two = replicas("tensorflow", 4, workers=2, index=1)
    x, y = shard_split(two, (X, Y))
    assert np.array_equal(x, X) and np.array_equal(y, Y)
    odd = dataclasses.replace(TINY_FIT, batch_size=7, epochs=1)
    assert local_fit_params(two, odd) == odd


def test_jax_cuts_rows_to_a_multiple_of_the_replicas() -> None:
    x, y = shard_split(replicas("jax", 2), (X, Y))
    assert np.array_equal(x, X[:8]) and np.array_equal(y, Y[:8])
    assert local_fit_params(replicas("jax", 2), FIT) == FIT  # one process feeds the global batch


def test_jax_processes_feed_disjoint_rows_and_their_share_of_the_batch() -> None:
    shards = [shard_split(replicas("jax", 4, workers=2, index=i), (X, Y)) for i in range(2)]
    assert [list(y) for _, y in shards] == [[0, 2, 4, 6], [1, 3, 5, 7]]
    assert np.array_equal(shards[1][0], X[[1, 3, 5, 7]])  # rows stay paired with labels
    assert local_fit_params(replicas("jax", 4, workers=2), FIT).batch_size == 4


def test_jax_batch_must_split_evenly_over_the_replicas() -> None:
    with pytest.raises(ConfigError, match=r"'train\.fit\.batch_size' must be a multiple of the 3"):
        local_fit_params(replicas("jax", 3), FIT)
