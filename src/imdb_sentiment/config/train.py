"""The train section: the model, the fit and the runtime that executes it."""

from __future__ import annotations

import dataclasses

from imdb_sentiment.config.loading import require as _require

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
