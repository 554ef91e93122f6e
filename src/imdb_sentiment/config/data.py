"""The data sections: base, download, prepare, validate."""

from __future__ import annotations

import dataclasses

from imdb_sentiment.config.loading import require as _require


@dataclasses.dataclass(frozen=True)
class BaseParams:
    seed: int


@dataclasses.dataclass(frozen=True)
class DownloadParams:
    url: str
    sha256: str
    # What a server may cost (data/transfer_limits.py's TransferLimits): the file's size, the
    # average speed over each window (a window with no byte at all is a stall), the whole
    # transfer's time.
    max_bytes: int
    min_bytes_per_second: int
    speed_window_seconds: float
    deadline_seconds: float

    def __post_init__(self) -> None:
        _require(self.max_bytes > 0, "download.max_bytes", "a positive integer")
        _require(self.min_bytes_per_second >= 0, "download.min_bytes_per_second", "an integer >= 0")
        _require(self.speed_window_seconds > 0, "download.speed_window_seconds", "> 0 seconds")
        _require(self.deadline_seconds > 0, "download.deadline_seconds", "> 0 seconds")


@dataclasses.dataclass(frozen=True)
class PrepareParams:
    max_features: int
    maxlen: int
    val_fraction: float
    # None = use every review; an int keeps that many per split (balanced by label).
    max_reviews_per_split: int | None

    def __post_init__(self) -> None:
        # 3 ids are reserved (pad, start, OOV): fewer would leave no room for a single word.
        _require(self.max_features > 3, "prepare.max_features", "an integer > 3")
        _require(self.maxlen > 0, "prepare.maxlen", "a positive integer")
        _require(0 < self.val_fraction < 1, "prepare.val_fraction", "a number in (0, 1)")
        cap = self.max_reviews_per_split
        _require(cap is None or cap >= 2, "prepare.max_reviews_per_split", "null or an int >= 2")


@dataclasses.dataclass(frozen=True)
class ValidateParams:
    # Expected reviews per (split, label) in the raw table: 12,500 for aclImdb v1.
    reviews_per_split_label: int
    # Bounds on a raw review's length in characters.
    min_chars: int
    max_chars: int
    # Most reviews whose exact text is in both train and test (counting both copies).
    max_cross_split_duplicates: int
    # Per prepared split: most padding per position, most OOV ids per word position, and
    # how far the share of positives may stray from 0.5.
    max_pad_fraction: float
    max_oov_rate: float
    label_balance_tolerance: float
    # Train vs test: most Jensen-Shannon divergence (bits) of token ids and of review lengths.
    max_js_tokens: float
    max_js_lengths: float
    # Review lengths (tokens) are binned [0, width), [width, 2 width), ... up to the limit.
    length_bin_width: int
    length_bin_limit: int
    # How many of the tokens that moved most between train and test to report.
    top_moved_tokens: int

    def __post_init__(self) -> None:
        positive = ("reviews_per_split_label", "min_chars", "length_bin_width", "top_moved_tokens")
        for key in positive:
            _require(getattr(self, key) > 0, f"validate.{key}", "a positive integer")
        _require(
            self.max_chars > self.min_chars, "validate.max_chars", "an int > validate.min_chars"
        )
        duplicates = self.max_cross_split_duplicates
        _require(duplicates >= 0, "validate.max_cross_split_duplicates", "an integer >= 0")
        for key in ("max_pad_fraction", "max_oov_rate", "max_js_tokens", "max_js_lengths"):
            _require(0 < getattr(self, key) <= 1, f"validate.{key}", "a number in (0, 1]")
        balance = self.label_balance_tolerance
        _require(0 <= balance < 0.5, "validate.label_balance_tolerance", "a number in [0, 0.5)")
        _require(
            self.length_bin_limit > 0 and self.length_bin_limit % self.length_bin_width == 0,
            "validate.length_bin_limit",
            "a positive multiple of validate.length_bin_width",
        )
