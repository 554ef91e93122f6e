"""The train section: the model, the fit and the runtime that executes it."""

from __future__ import annotations

import dataclasses

from imdb_sentiment.config.loading import require as _require

POOLINGS = ("last", "max", "mean_max")
LR_SCHEDULES = ("constant", "linear")
BIGRAM_INITS = ("uniform", "zeros")


@dataclasses.dataclass(frozen=True)
class ModelParams:
    embedding_dim: int
    # Rows of a second embedding table for (previous word, word) pairs, hashed; each
    # position's vector is its word's plus its pair's. 0: words only (the Keras example).
    bigram_buckets: int
    # The pair table's initial rows: uniform (Keras' Embedding default) or zeros. A row no
    # train pair reaches keeps its initial value: noise in a test review, or nothing.
    bigram_init: str
    dropout: float
    # Dropout of whole embedding channels (the same dims in every position of a review),
    # before `dropout`; 0 adds no layer, as in the Keras example.
    spatial_dropout: float
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
    # early sentences can still set; or mean_max: each unit's mean and max over all steps,
    # concatenated (twice the classifier's inputs).
    pooling: str
    # Unrolled, the LSTM's 24-step loop becomes straight-line code: faster steps on a GPU,
    # slower compilation. Same maths.
    unroll: bool

    def __post_init__(self) -> None:
        for key in ("embedding_dim", "filters", "kernel_size", "pool_size", "lstm_units"):
            _require(getattr(self, key) > 0, f"train.model.{key}", "a positive integer")
        _require(
            self.bigram_buckets >= 0, "train.model.bigram_buckets", "0 (off) or a positive integer"
        )
        inits = " or ".join(BIGRAM_INITS)
        _require(self.bigram_init in BIGRAM_INITS, "train.model.bigram_init", inits)
        # Without a pair table the start of one means nothing; refusing it keeps two runs that
        # differ only there from being listed as two configurations.
        _require(
            self.bigram_buckets > 0 or self.bigram_init == BIGRAM_INITS[0],
            "train.model.bigram_init",
            f"{BIGRAM_INITS[0]} when train.model.bigram_buckets is 0 (there is no pair table)",
        )
        for key in ("dropout", "spatial_dropout"):
            _require(0 <= getattr(self, key) < 1, f"train.model.{key}", "a number in [0, 1)")
        _require(self.pooling in POOLINGS, "train.model.pooling", " or ".join(POOLINGS))


@dataclasses.dataclass(frozen=True)
class FitParams:
    batch_size: int
    epochs: int
    learning_rate: float
    # Each epoch's learning rate is the previous one's times this (epoch n trains at
    # learning_rate * lr_decay ** (n - 1)); 1.0 keeps it constant, as the Keras example did.
    lr_decay: float
    # constant: learning_rate throughout (with lr_decay's steps, if any); linear: falls in a
    # straight line, step by step, from learning_rate to 0 at the last epoch's last step.
    lr_schedule: str
    # The linear schedule's length in epochs; null: `epochs`. Longer than `epochs` ends the
    # fit part way down the line: epochs 1 of 2 trains the same first epoch as a 2-epoch fit
    # (same steps, same rates, same draws) at half the cost, for runs that keep epoch 1.
    schedule_epochs: int | None
    # Adam's epsilon, the floor of the denominator of every step (Keras' default 1e-7). A
    # rare word pair's row gets a gradient in one step of thousands, so its second moment is
    # tiny and Adam moves it up to about 30x the rate in all: the pair table memorizes the
    # train reviews in epoch 2. An epsilon near those gradients (1e-4) damps such rows, but
    # in the search it slowed learning as much as memorization (docs/search.md, round 4).
    adam_epsilon: float
    # Decoupled weight decay (AdamW's) of the embedding tables only, per unit of learning
    # rate: each step shrinks every row by learning_rate x this. A frequent word or pair is
    # pushed back every step; a pair seen in one review is not, so what it memorized of that
    # review fades. 0: none (the Keras example).
    embedding_weight_decay: float
    # Polyak averaging: the optimizer keeps an exponential moving average of the weights,
    # each step `average = m * average + (1 - m) * weights`. Each epoch ends on the average:
    # validation, early stopping and the saved model use it, and the next epoch trains on
    # from it. Averages out the last steps' noise (a window of about 1 / (1 - m) steps).
    # null: off.
    ema_momentum: float | None
    # Epochs without a lower val_loss before training stops; the saved model is then the
    # epoch with the lowest val_loss. None trains every epoch and keeps the last, as the
    # Keras example does.
    early_stopping_patience: int | None

    def __post_init__(self) -> None:
        _require(self.batch_size > 0, "train.fit.batch_size", "a positive integer")
        _require(self.epochs > 0, "train.fit.epochs", "a positive integer")
        _require(self.learning_rate > 0, "train.fit.learning_rate", "a positive number")
        _require(0 < self.lr_decay <= 1, "train.fit.lr_decay", "a number in (0, 1]")
        _require(self.adam_epsilon > 0, "train.fit.adam_epsilon", "a positive number")
        decay = self.embedding_weight_decay
        _require(decay >= 0, "train.fit.embedding_weight_decay", "0 (off) or a positive number")
        ema = self.ema_momentum
        _require(ema is None or 0 < ema < 1, "train.fit.ema_momentum", "null or in (0, 1)")
        schedules = " or ".join(LR_SCHEDULES)
        _require(self.lr_schedule in LR_SCHEDULES, "train.fit.lr_schedule", schedules)
        _require(
            self.lr_schedule == "constant" or self.lr_decay == 1,
            "train.fit.lr_decay",
            "1.0 when train.fit.lr_schedule is linear (the schedule sets every step's rate)",
        )
        length = self.schedule_epochs
        _require(
            length is None or (self.lr_schedule == "linear" and length >= self.epochs),
            "train.fit.schedule_epochs",
            "null, or with train.fit.lr_schedule linear an integer >= train.fit.epochs",
        )
        patience, allowed = self.early_stopping_patience, "a positive integer or null (no stopping)"
        _require(patience is None or patience > 0, "train.fit.early_stopping_patience", allowed)


BACKENDS = ("tensorflow", "jax", "torch")
# auto: jax when JAX sees a GPU, else tensorflow (modeling/runtime.py resolves it).
BACKEND_CHOICES = ("auto", *BACKENDS)
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# One device; every device of this host; every device of several hosts (see distribution.py).
DISTRIBUTIONS = ("none", "mirrored", "multi_worker")
# Member i of an ensemble draws from seed + i x this: runs of seeds 1, 2, 3 share no member.
MEMBER_SEED_STRIDE = 1000
MAX_MEMBERS = 16


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
    # The seed of the weights' initialization, dropout and shuffling; null: base.seed. Runs
    # that differ only in it share prepare's data and validation split (base.seed's).
    seed: int | None
    # Models trained one after another, each from its own seed, whose probabilities the saved
    # model averages; 1: one model, as in the Keras example.
    members: int

    def effective_seed(self, base_seed: int) -> int:
        """The seed training draws from: `seed`, or the pipeline's `base_seed` if null."""
        return base_seed if self.seed is None else self.seed

    def member_seeds(self, base_seed: int) -> list[int]:
        """Each member's seed; the first is the run's, so member 1 is the one-model run."""
        seed = self.effective_seed(base_seed)
        return [(seed + MEMBER_SEED_STRIDE * i) % 2**32 for i in range(self.members)]

    def __post_init__(self) -> None:
        seed_ok = self.seed is None or 0 <= self.seed < 2**32
        _require(seed_ok, "train.seed", "an integer in [0, 2**32) or null (base.seed)")
        _require(
            isinstance(self.members, int) and 1 <= self.members <= MAX_MEMBERS,
            "train.members",
            f"an integer from 1 (one model) to {MAX_MEMBERS}",
        )
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
