"""Straightforward reference versions of library code that was rewritten for memory or speed.

Tests hold the library equal to these: they are slow or hungry on the full data, but plainly
right.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from imdb_sentiment.data.tokenizer import INDEX_FROM


def build_vocabulary(token_lists: Iterable[list[str]], max_features: int) -> dict[str, int]:
    """Map the (max_features - 3) most frequent words to 3, 4, ...; ties broken alphabetically.

    From every review's token list held at once, as `prepare` first did; `rank_vocabulary`
    works from counts gathered in one pass instead.
    """
    counts = Counter(word for tokens in token_lists for word in tokens)
    ranked = sorted(counts, key=lambda word: (-counts[word], word))
    return {
        word: INDEX_FROM + rank
        for rank, word in enumerate(ranked[: max(max_features - INDEX_FROM, 0)])
    }
