"""Typed, strict views of `params.yaml`: one frozen dataclass per section, and the whole file.

Every value lives in params.yaml; these dataclasses have no defaults, so a missing,
misspelled or mistyped key fails at start-up with a message naming it.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, TypeVar

from imdb_sentiment.errors import PipelineError
from imdb_sentiment.typed_mapping import TypedMappingError, build_dataclass, read_yaml_mapping

T = TypeVar("T")


class ConfigError(PipelineError, ValueError):
    """A params.yaml section does not match what the code expects."""


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


POOLINGS = ("last", "max")


@dataclasses.dataclass(frozen=True)
class ModelParams:
    embedding_dim: int
    dropout: float
    filters: int
    kernel_size: int
    pool_size: int
    lstm_units: int
    # One LSTM reading the pooled features forwards (the Keras example), or two, one each
    # way, whose final states are concatenated: the end of a long review reaches the
    # classifier both as the last and as the first step.
    bidirectional: bool
    # What the classifier reads of the LSTM: its state after the last step (the Keras
    # example), or the largest value each unit reached over all steps, which a long review's
    # early sentences can still set.
    pooling: str
    # Unrolled, the LSTM's 24-step loop becomes straight-line code: faster steps on a GPU,
    # slower compilation. Same maths.
    unroll: bool

    def __post_init__(self) -> None:
        for key in ("embedding_dim", "filters", "kernel_size", "pool_size", "lstm_units"):
            _require(getattr(self, key) > 0, f"train.model.{key}", "a positive integer")
        _require(0 <= self.dropout < 1, "train.model.dropout", "a number in [0, 1)")
        _require(self.pooling in POOLINGS, "train.model.pooling", " or ".join(POOLINGS))


@dataclasses.dataclass(frozen=True)
class FitParams:
    batch_size: int
    epochs: int
    learning_rate: float
    # Epochs without a lower val_loss before training stops; the saved model is then the
    # epoch with the lowest val_loss. None trains every epoch and keeps the last, as the
    # Keras example does.
    early_stopping_patience: int | None

    def __post_init__(self) -> None:
        _require(self.batch_size > 0, "train.fit.batch_size", "a positive integer")
        _require(self.epochs > 0, "train.fit.epochs", "a positive integer")
        _require(self.learning_rate > 0, "train.fit.learning_rate", "a positive number")
        patience, allowed = self.early_stopping_patience, "a positive integer or null (no stopping)"
        _require(patience is None or patience > 0, "train.fit.early_stopping_patience", allowed)


BACKENDS = ("tensorflow", "jax", "torch")
# auto: jax when JAX sees a GPU, else tensorflow (modeling/runtime.py resolves it).
BACKEND_CHOICES = ("auto", *BACKENDS)
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# One device; every device of this host; every device of several hosts (see distribution.py).
DISTRIBUTIONS = ("none", "mirrored", "multi_worker")


@dataclasses.dataclass(frozen=True)
class RuntimeParams:
    """How training executes; none of it changes the model's definition."""

    backend: str  # the Keras backend, set before Keras is imported
    precision: str  # a Keras dtype policy
    jit_compile: bool | str  # "auto" lets Keras decide per backend
    steps_per_execution: int  # train steps per compiled call: fewer host round-trips
    deterministic: bool  # the backend's deterministic kernels: repeatable GPU runs, slower

    def __post_init__(self) -> None:
        choices = " or ".join(BACKEND_CHOICES)
        _require(self.backend in BACKEND_CHOICES, "train.runtime.backend", choices)
        _require(self.precision in PRECISIONS, "train.runtime.precision", " or ".join(PRECISIONS))
        _require(
            isinstance(self.jit_compile, bool) or self.jit_compile == "auto",
            "train.runtime.jit_compile",
            'true, false or "auto"',
        )
        steps = self.steps_per_execution
        _require(steps > 0, "train.runtime.steps_per_execution", "a positive integer")


@dataclasses.dataclass(frozen=True)
class TrainParams:
    model: ModelParams
    fit: FitParams
    runtime: RuntimeParams
    # Data parallelism; fit.batch_size stays the global batch that the replicas share.
    distribution: str

    def __post_init__(self) -> None:
        _require(
            self.distribution in DISTRIBUTIONS, "train.distribution", " or ".join(DISTRIBUTIONS)
        )
        # Keras 3.15 distributes only on tensorflow (tf.distribute) and jax (keras.distribution).
        _require(
            self.distribution == "none" or self.runtime.backend != "torch",
            "train.distribution",
            "none on the torch backend (Keras distributes training on tensorflow and jax only)",
        )
        # Measured on an H100 (Keras 3.15, JAX 0.11): the LSTM's scan loop fails in bfloat16
        # with "ValueError: Unknown output type bfloat16"; unrolled, it trains. auto may be jax.
        rt = self.runtime
        bf16_on_jax = rt.precision == "mixed_bfloat16" and rt.backend in ("jax", "auto")
        _require(
            not bf16_on_jax or self.model.unroll,
            "train.runtime.precision",
            "float32 or mixed_float16 on the jax (or auto) backend unless train.model.unroll is "
            "true (Keras-JAX's LSTM loop fails in bfloat16)",
        )


@dataclasses.dataclass(frozen=True)
class EvaluateParams:
    batch_size: int
    # Probability at or above which a review is called positive.
    threshold: float

    def __post_init__(self) -> None:
        _require(self.batch_size > 0, "evaluate.batch_size", "a positive integer")
        _require(0 < self.threshold < 1, "evaluate.threshold", "a number in (0, 1)")


@dataclasses.dataclass(frozen=True)
class PromoteParams:
    # McNemar's exact test on the paired test predictions must give p below this...
    alpha: float
    # ...and the challenger's test accuracy must beat the champion's by at least this.
    min_accuracy_gain: float

    def __post_init__(self) -> None:
        _require(0 < self.alpha < 1, "promote.alpha", "a number in (0, 1)")
        _require(0 <= self.min_accuracy_gain < 1, "promote.min_accuracy_gain", "a number in [0, 1)")


@dataclasses.dataclass(frozen=True)
class ReproduceParams:
    # `imdb-sentiment reproduce` off the exact rule (a GPU, another backend or other package
    # versions): how far each test metric may stray (counts: as a share of the test reviews).
    metric_tolerance: float

    def __post_init__(self) -> None:
        tolerance = self.metric_tolerance
        _require(0 <= tolerance < 1, "reproduce.metric_tolerance", "a number in [0, 1)")


@dataclasses.dataclass(frozen=True)
class PipelineParams:
    """The whole params.yaml, for a stage that records every setting (train)."""

    base: BaseParams
    download: DownloadParams
    prepare: PrepareParams
    validate: ValidateParams
    train: TrainParams
    evaluate: EvaluateParams
    promote: PromoteParams
    reproduce: ReproduceParams


def _require(ok: bool, key: str, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"params.yaml: '{key}' must be {allowed}")


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """The params file's sections, read strictly (`typed_mapping.read_yaml_mapping`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found; run from the repository root")
    try:
        return read_yaml_mapping(path)
    except TypedMappingError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_section(params: dict[str, Any], name: str, cls: type[T]) -> T:
    """Build the dataclass `cls` from `params[name]`, rejecting anything unexpected."""
    if name not in params:
        raise ConfigError(f"params.yaml: missing section '{name}'")
    try:
        return build_dataclass(cls, params[name], name)
    except TypedMappingError as exc:
        raise ConfigError(f"params.yaml: {exc}") from None


def load_pipeline_params(path: str | Path = "params.yaml") -> PipelineParams:
    """Every section of the params file at `path`, each as strict as `load_section`."""
    params = load_params(path)
    sections = typing.get_type_hints(PipelineParams)
    if unknown := sorted(set(params) - set(sections)):
        raise ConfigError(
            f"params.yaml: unknown section '{unknown[0]}'; allowed: {', '.join(sections)}"
        )
    loaded = {name: load_section(params, name, cls) for name, cls in sections.items()}
    return PipelineParams(**loaded)
