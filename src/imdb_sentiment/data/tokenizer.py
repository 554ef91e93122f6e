"""Tokenization and integer encoding shared by `prepare` and, later, serving.

Encoding follows `keras.datasets.imdb`: 0 pads, 1 marks the start of a review, 2 stands
for a word outside the vocabulary, and words are numbered from 3 by descending
train-split frequency.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

PAD, START, OOV = 0, 1, 2
INDEX_FROM = 3
SPECIAL_TOKENS = {"<pad>": PAD, "<start>": START, "<oov>": OOV}

# IMDB reviews carry HTML line breaks ("<br /><br />") that would otherwise become "br" tokens.
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# A word is a run of letters/digits, with inner apostrophes kept ("don't", "director's").
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# `collect_tails` counts words in batches: only this many texts' ids per group wait in memory.
_TEXTS_PER_COUNT = 1000


def tokenize(text: str) -> list[str]:
    return _WORD.findall(_BREAK.sub(" ", text).lower())


def rank_vocabulary(counts: Mapping[str, int], max_features: int) -> dict[str, int]:
    """Map the (max_features - 3) most counted words to 3, 4, ...; ties broken alphabetically."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = ranked[: max(max_features - INDEX_FROM, 0)]
    return {word: INDEX_FROM + rank for rank, (word, _) in enumerate(kept)}


def encode(tokens: list[str], vocabulary: Mapping[str, int]) -> list[int]:
    return [START, *(vocabulary.get(word, OOV) for word in tokens)]


def encode_texts(texts: Iterable[str], vocabulary: Mapping[str, int], maxlen: int) -> np.ndarray:
    """(n, maxlen) int32 model input for raw texts: what serving feeds the model.

    The reference path that `collect_tails` reproduces in bulk for `prepare`; tests hold the
    two equal, so a review is encoded the same in training and in serving.
    """
    return pad_sequences([encode(tokenize(text), vocabulary) for text in texts], maxlen)


def encoded_lengths(texts: Iterable[str]) -> np.ndarray:
    """(n,) int64: each text's length as `encode` counts it (its tokens and the start mark).

    Rows longer than maxlen lose their front to `pad_sequences`.
    """
    return np.array([len(tokenize(text)) + 1 for text in texts], dtype=np.int64)


def pad_sequences(sequences: list[list[int]], maxlen: int) -> np.ndarray:
    """Pad and truncate at the front, as Keras does by default: the review's end is kept."""
    out = np.full((len(sequences), maxlen), PAD, dtype=np.int32)
    for row, seq in enumerate(sequences):
        tail = seq[-maxlen:]
        if tail:
            out[row, maxlen - len(tail) :] = tail
    return out


@dataclass(frozen=True)
class TokenTails:
    """What `encode` + `pad_sequences` need of many texts, gathered before the vocabulary exists.

    Words get provisional ids in order of first appearance. Truncation at the front means only
    a text's last `maxlen` positions reach the array, so only those are kept; every token is
    still counted, for the vocabulary and the OOV rates. Memory stays at a few int arrays
    instead of a list of every token of every text (about 1 GB for IMDB's 50,000 reviews).
    """

    positions: np.ndarray  # (n, maxlen) int32: PAD, START, or INDEX_FROM + k for words[k]
    words: list[str]  # the provisional numbering
    counts: np.ndarray  # (n_groups, INDEX_FROM + len(words)) int64 occurrences of each id

    def word_counts(self, group: int) -> Counter[str]:
        """How often each word occurs in the texts of `group`, for `rank_vocabulary`."""
        per_word = self.counts[group, INDEX_FROM:].tolist()
        return Counter({word: n for word, n in zip(self.words, per_word, strict=True) if n})

    def encode(self, vocabulary: Mapping[str, int]) -> np.ndarray:
        """(n, maxlen) int32, equal to `pad_sequences([encode(tokens, vocabulary) ...], maxlen)`."""
        lookup = np.full(INDEX_FROM + len(self.words), OOV, dtype=np.int32)
        lookup[[PAD, START]] = [PAD, START]
        lookup[INDEX_FROM:] = [vocabulary.get(word, OOV) for word in self.words]
        return lookup[self.positions]


def collect_tails(
    texts: Iterable[str], groups: Sequence[int], n_groups: int, maxlen: int
) -> TokenTails:
    """Tokenize each text once; count its words under its group (0 <= group < n_groups)."""
    if maxlen <= 0:
        raise ValueError(f"maxlen must be positive, got {maxlen}")
    positions = np.full((len(groups), maxlen), PAD, dtype=np.int32)
    # A word seen for the first time gets the next id: __missing__ runs before the insertion.
    word_ids: defaultdict[str, int] = defaultdict()
    word_ids.default_factory = lambda: INDEX_FROM + len(word_ids)
    counts = [np.zeros(0, dtype=np.int64) for _ in range(n_groups)]
    pending: list[list[np.ndarray]] = [[] for _ in range(n_groups)]  # (n_tokens,) per text
    for row, (text, group) in enumerate(zip(texts, groups, strict=True)):
        tokens = tokenize(text)
        ids = np.fromiter(map(word_ids.__getitem__, tokens), dtype=np.int32, count=len(tokens))
        if len(ids) < maxlen:  # [START, *ids] fits whole: the start mark survives
            positions[row, maxlen - len(ids) - 1] = START
        positions[row, maxlen - min(len(ids), maxlen) :] = ids[-maxlen:]
        pending[group].append(ids)
        if len(pending[group]) == _TEXTS_PER_COUNT:
            counts[group] = _add_counts(counts[group], pending[group], INDEX_FROM + len(word_ids))
            pending[group] = []
    size = INDEX_FROM + len(word_ids)
    totals = np.zeros((n_groups, size), dtype=np.int64)
    for group, ids_of_texts in enumerate(pending):
        totals[group] = _add_counts(counts[group], ids_of_texts, size)
    return TokenTails(positions, list(word_ids), totals)


def _add_counts(counts: np.ndarray, ids_of_texts: list[np.ndarray], size: int) -> np.ndarray:
    """(size,) int64: `counts`, zero-extended, plus the occurrences of each id."""
    total = np.zeros(size, dtype=np.int64)
    total[: len(counts)] = counts
    if ids_of_texts:
        added = np.bincount(np.concatenate(ids_of_texts))
        total[: len(added)] += added
    return total
