from __future__ import annotations

import numpy as np
import pytest

from imdb_sentiment.text import (
    INDEX_FROM,
    OOV,
    PAD,
    START,
    build_vocabulary,
    encode,
    pad_sequences,
    tokenize,
)


def test_tokenize_lowercases_drops_breaks_and_keeps_apostrophes() -> None:
    text = "I didn't LIKE it.<br /><br />The director's cut? 10/10 -- 'meh'"
    assert tokenize(text) == [
        "i",
        "didn't",
        "like",
        "it",
        "the",
        "director's",
        "cut",
        "10",
        "10",
        "meh",
    ]


def test_tokenize_handles_unspaced_breaks_and_accents() -> None:
    assert tokenize("Fin.<br/>Très bien<BR>") == ["fin", "très", "bien"]
    assert tokenize("") == []


def test_vocabulary_ranks_by_frequency_then_alphabet_and_respects_max_features() -> None:
    docs = [["b", "a", "c"], ["a", "c"], ["a", "d"]]
    vocab = build_vocabulary(docs, max_features=INDEX_FROM + 2)
    # a (3x) first, then c (2x); b and d (1x each) do not fit under max_features.
    assert vocab == {"a": INDEX_FROM, "c": INDEX_FROM + 1}
    assert max(vocab.values()) < INDEX_FROM + 2


def test_vocabulary_ties_are_deterministic() -> None:
    assert build_vocabulary([["z", "y"]], 10) == {"y": 3, "z": 4}


def test_encode_marks_start_and_out_of_vocabulary() -> None:
    assert encode(["a", "zzz"], {"a": 3}) == [START, 3, OOV]


def test_pad_sequences_pads_and_truncates_at_the_front() -> None:
    out = pad_sequences([[1, 5], [1, 2, 3, 4, 5, 6], []], maxlen=4)
    assert out.dtype == np.int32
    assert out.tolist() == [[PAD, PAD, 1, 5], [3, 4, 5, 6], [PAD] * 4]


def test_pad_sequences_matches_keras() -> None:
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 50, size=n).tolist() for n in (0, 1, 7, 10, 13)]
    expected = keras.utils.pad_sequences(seqs, maxlen=10, dtype="int32")
    np.testing.assert_array_equal(pad_sequences(seqs, 10), expected)
