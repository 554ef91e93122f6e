"""The validate thresholds the check tests share, sized for their tiny frames."""

from __future__ import annotations

from imdb_sentiment.config import ValidateParams

N = 4  # reviews per split and label

CFG = ValidateParams(
    reviews_per_split_label=N,
    min_chars=10,
    max_chars=200,
    max_cross_split_duplicates=2,
    max_pad_fraction=0.5,
    max_oov_rate=0.2,
    label_balance_tolerance=0.1,
    max_js_tokens=0.5,
    max_js_lengths=0.5,
    length_bin_width=5,
    length_bin_limit=50,
    top_moved_tokens=3,
)
