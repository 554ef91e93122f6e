"""The word-pair hash of `BigramEmbedding`, one formula for Keras and for numpy_forward.

Kept free of Keras so the numpy predictor can import it without a backend.
"""

from __future__ import annotations

from typing import Any

# Pair ids are computed as previous_id * input_dim in int32: input_dim must keep that below 2**31.
MAX_INPUT_DIM = 46340


def pair_buckets(ids: Any, input_dim: int, buckets: int, xp: Any) -> Any:
    """(batch, steps) word ids -> ids of (previous word, word) pairs in [0, buckets).

    `xp` is `keras.ops` or `numpy` (both have `pad` and `mod` alike). The first step's
    previous word is the padding id 0. Distinct pairs may share a bucket: the table is far
    smaller than input_dim**2 (1.1M distinct pairs in the train reviews at maxlen 800 share
    131,072 buckets, about 9 a bucket; a prime bucket count spreads them no better).
    """
    previous = xp.pad(ids[:, :-1], [[0, 0], [1, 0]])
    return xp.mod(xp.mod(previous * input_dim, buckets) + ids, buckets)
