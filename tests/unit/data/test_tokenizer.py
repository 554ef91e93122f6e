from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from imdb_sentiment.data import tokenizer as tokenizer_module
from imdb_sentiment.data.tokenizer import (
    INDEX_FROM,
    OOV,
    PAD,
    START,
    collect_tails,
    encode,
    encode_texts,
    encoded_lengths,
    pad_sequences,
    rank_vocabulary,
    tokenize,
)
from tests.oracles import build_vocabulary


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
    counts = Counter(["b", "a", "c", "a", "c", "a", "d"])
    vocab = rank_vocabulary(counts, max_features=INDEX_FROM + 2)
    # a (3x) first, then c (2x); b and d (1x each) do not fit under max_features.
    assert vocab == {"a": INDEX_FROM, "c": INDEX_FROM + 1}
    assert max(vocab.values()) < INDEX_FROM + 2


def test_vocabulary_ties_are_deterministic() -> None:
    assert rank_vocabulary(Counter(["z", "y"]), 10) == {"y": 3, "z": 4}


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


def test_rank_vocabulary_ranks_counts_as_the_token_list_oracle_does() -> None:
    docs = [["b", "a", "c"], ["a", "c"], ["a", "d"], ["e"]]
    counts = Counter(word for doc in docs for word in doc)
    for max_features in (0, INDEX_FROM, INDEX_FROM + 2, 100):
        assert rank_vocabulary(counts, max_features) == build_vocabulary(docs, max_features)


TEXTS = [
    "Great film, great cast.<br /><br />Loved it!",  # padded
    "",  # nothing but the start mark
    "one two three four five six",  # exactly maxlen tokens: the start mark is cut
    "one two three four five",  # maxlen - 1 tokens: the start mark just fits
    "A plot I didn't follow at all, and a dull ending that ran long.",  # truncated
    "Très bien: a great, great film",
    "zzz unheard-of words",  # out of vocabulary
]


@pytest.mark.parametrize("texts_per_count", [1, 2, 1000])
def test_collect_tails_encodes_as_encode_and_pad_sequences(
    texts_per_count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokenizer_module, "_TEXTS_PER_COUNT", texts_per_count)
    groups = [0, 1, 0, 1, 0, 2, 1]
    tails = collect_tails(TEXTS, groups, n_groups=4, maxlen=6)
    for group in range(4):
        members = [tokenize(t) for t, g in zip(TEXTS, groups, strict=True) if g == group]
        assert tails.word_counts(group) == Counter(w for tokens in members for w in tokens)
    assert tails.word_counts(3) == Counter()
    vocabulary = rank_vocabulary(tails.word_counts(0), max_features=10)  # group 0 only
    expected = encode_texts(TEXTS, vocabulary, maxlen=6)  # what serving runs
    encoded = tails.encode(vocabulary)
    assert encoded.dtype == np.int32
    np.testing.assert_array_equal(encoded, expected)
    # The cases the texts are there for: padding, the start mark, truncation, OOV.
    assert encoded[1].tolist() == [PAD] * 5 + [START]
    assert encoded[2, 0] != START and encoded[3, 0] == START
    assert (encoded == OOV).any() and (encoded[:, 0] == PAD).any()


def test_collect_tails_with_a_full_vocabulary_matches_keras() -> None:
    keras = pytest.importorskip("keras")
    tails = collect_tails(TEXTS, [0] * len(TEXTS), n_groups=1, maxlen=4)
    vocabulary = rank_vocabulary(tails.word_counts(0), max_features=1000)
    sequences = [encode(tokenize(text), vocabulary) for text in TEXTS]
    expected = keras.utils.pad_sequences(sequences, maxlen=4, dtype="int32")
    np.testing.assert_array_equal(tails.encode(vocabulary), expected)
    assert not (tails.encode(vocabulary) == OOV).any()


def test_collect_tails_rejects_a_bad_maxlen_or_mismatched_groups() -> None:
    with pytest.raises(ValueError, match="maxlen"):
        collect_tails(["a b"], [0], n_groups=1, maxlen=0)
    with pytest.raises(ValueError):
        collect_tails(["a b", "c"], [0], n_groups=1, maxlen=3)


def test_encoded_lengths_count_tokens_plus_the_start_mark_before_truncation() -> None:
    texts = ["Good.", "A fine film.<br /><br />Loved it", " ".join(["word"] * 300)]
    assert encoded_lengths(texts).tolist() == [2, 6, 301]
