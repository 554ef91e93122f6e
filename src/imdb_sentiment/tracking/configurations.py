"""Runs grouped into configurations: the same params but for the seeds, mean ± sd over them.

Identical conv-LSTM configurations differ by about half a point of accuracy from one seed to
the next, as much as most gains a search finds; one run says little. Runs that share every
model and data param but `train.seed` (and `base.seed`) are one configuration, summarized by
the mean and sample standard deviation of its runs, and configurations are ranked by mean
validation accuracy. A configuration of one run is that run.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imdb_sentiment.tracking.ranking import RankedRun

# The params that decide which reviews form the validation split (prepare's stratified cut).
VAL_SET_PARAMS = ("base.seed", "prepare.val_fraction", "prepare.max_reviews_per_split")
# What seeds training only: runs that differ in these alone are one configuration.
SEED_PARAMS = ("train.seed", "base.seed")
# Never configuration params: they do not change what the model learns (data checks, scoring,
# the gate, speed settings; `unroll` is the same maths), describe the data rather than set it,
# or set another model (the baseline's).
NOT_CONFIGURATION = (
    "download.",
    "validate.",
    "evaluate.",
    "promote.",
    "reproduce.",
    "serve.",
    "baseline.",
    "data.",
    "distribution.",
    "train.runtime.",
    "train.distribution",
    "train.model.unroll",
)


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation of a figure over a configuration's seeds."""

    mean: float
    sd: float | None  # None for a single value
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("a spread needs at least one value")
        sd = statistics.stdev(values) if len(values) > 1 else None
        return cls(statistics.fmean(values), sd, len(values))

    def format(self) -> str:
        """`0.8900` for one value, `0.8900 ± 0.0031` for several."""
        return f"{self.mean:.4f}" if self.sd is None else f"{self.mean:.4f} ± {self.sd:.4f}"


@dataclass(frozen=True)
class Configuration:
    """Runs that differ in their seeds only, the best validation accuracy first."""

    runs: list[RankedRun]

    @property
    def best(self) -> RankedRun:
        return self.runs[0]

    @property
    def val_accuracy(self) -> Spread:
        return Spread.of([c.val_accuracy for c in self.runs])

    @property
    def val_loss(self) -> float:
        return statistics.fmean(c.val_loss for c in self.runs)

    @property
    def fit_seconds(self) -> float:
        return statistics.fmean(c.fit_seconds for c in self.runs)  # NaN if one lacks it

    @property
    def seeds(self) -> list[str]:
        """Each run's `train.seed` as logged; "None" trains with `base.seed`."""
        return [c.params.get("train.seed", "None") for c in self.runs]

    def test_accuracy(self, read: Mapping[str, float | None]) -> Spread | None:
        """Over the runs that have one in `read` (run id -> test accuracy); None if none has."""
        values = [v for c in self.runs if (v := read.get(c.run_id)) is not None]
        return Spread.of([float(v) for v in values]) if values else None


def is_configuration_param(key: str) -> bool:
    return not key.startswith(NOT_CONFIGURATION) and key not in VAL_SET_PARAMS + SEED_PARAMS


def varying_params(runs: Sequence[RankedRun]) -> list[str]:
    """Model and data params whose values differ between the runs, in a stable order.

    The seeds are not among them: they tell runs of one configuration apart.
    """
    keys = sorted({k for c in runs for k in c.params})
    # A key that older runs did not log yet varies only if the runs that have it differ.
    varying = [
        k
        for k in keys
        if is_configuration_param(k) and len({c.params[k] for c in runs if k in c.params}) > 1
    ]
    # train.* before prepare.*, as the run page shows them.
    return sorted(varying, key=lambda k: (not k.startswith("train."), k))


def group_configurations(
    runs: Sequence[RankedRun], best_first: Callable[[Sequence[RankedRun]], list[RankedRun]]
) -> list[Configuration]:
    """Runs with equal values of every varying param, best mean validation accuracy first.

    Ties go to the lower mean validation loss, then the newer best run.
    """
    columns = varying_params(runs)
    groups: dict[tuple[str, ...], list[RankedRun]] = {}
    for run in best_first(runs):
        key = tuple(run.params.get(k, "not logged") for k in columns)
        groups.setdefault(key, []).append(run)
    configurations = [Configuration(one_per_seed(members)) for members in groups.values()]
    return sorted(
        configurations,
        key=lambda c: (-c.val_accuracy.mean, c.val_loss, -c.best.start_ms),
    )


def one_per_seed(runs: list[RankedRun]) -> list[RankedRun]:
    """The newest run of each effective seed, in `runs`' order: a rerun of one seed (a
    pipeline rerun in the workspace) is the same sample again, not another one."""
    newest: dict[str, RankedRun] = {}
    for run in sorted(runs, key=lambda r: r.start_ms):
        newest[effective_seed(run.params)] = run
    kept = {id(run) for run in newest.values()}
    return [run for run in runs if id(run) in kept]


def effective_seed(params: Mapping[str, str]) -> str:
    """`train.seed` as logged, or `base.seed` where it is null or was not logged yet."""
    seed = params.get("train.seed", "None")
    return params.get("base.seed", "None") if seed == "None" else seed


def describes(configuration: Configuration, flat_params: Mapping[str, str]) -> bool:
    """Whether params (flat, as MLflow stores them) set up this configuration's model."""
    params = configuration.best.params
    return all(
        params[k] == flat_params[k]
        for k in params
        if is_configuration_param(k) and k in flat_params
    )
