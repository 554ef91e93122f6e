"""Tokenization and integer encoding shared by `prepare` and, later, serving.

Encoding follows `keras.datasets.imdb`: 0 pads, 1 marks the start of a review, 2 stands
for a word outside the vocabulary, and words are numbered from 3 by descending
train-split frequency.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np

PAD, START, OOV = 0, 1, 2
INDEX_FROM = 3
SPECIAL_TOKENS = {"<pad>": PAD, "<start>": START, "<oov>": OOV}

# IMDB reviews carry HTML line breaks ("<br /><br />") that would otherwise become "br" tokens.
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# A word is a run of letters/digits, with inner apostrophes kept ("don't", "director's").
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str) -> list[str]:
    return _WORD.findall(_BREAK.sub(" ", text).lower())


def build_vocabulary(token_lists: Iterable[list[str]], max_features: int) -> dict[str, int]:
    """Map the (max_features - 3) most frequent words to 3, 4, ...; ties broken alphabetically."""
    counts = Counter(word for tokens in token_lists for word in tokens)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = ranked[: max(max_features - INDEX_FROM, 0)]
    return {word: INDEX_FROM + rank for rank, (word, _) in enumerate(kept)}


def encode(tokens: list[str], vocabulary: Mapping[str, int]) -> list[int]:
    return [START, *(vocabulary.get(word, OOV) for word in tokens)]


def pad_sequences(sequences: list[list[int]], maxlen: int) -> np.ndarray:
    """Pad and truncate at the front, as Keras does by default: the review's end is kept."""
    out = np.full((len(sequences), maxlen), PAD, dtype=np.int32)
    for row, seq in enumerate(sequences):
        tail = seq[-maxlen:]
        if tail:
            out[row, maxlen - len(tail) :] = tail
    return out
