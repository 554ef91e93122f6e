"""Typed, strict views of `params.yaml`: one frozen dataclass per section, and the whole file.

Every value lives in params.yaml; these dataclasses have no defaults, so a missing,
misspelled or mistyped key fails at start-up with a message naming it. The sections live
in data.py, train.py, release.py and baseline.py; loading.py reads the file.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

from imdb_sentiment.config.baseline import BaselineParams
from imdb_sentiment.config.data import BaseParams, DownloadParams, PrepareParams, ValidateParams
from imdb_sentiment.config.loading import ConfigError, load_params, load_section, override_params
from imdb_sentiment.config.release import (
    BehaviourParams,
    EvaluateParams,
    PromoteParams,
    ReproduceParams,
    ServeParams,
)
from imdb_sentiment.config.train import (
    BACKEND_CHOICES,
    BACKENDS,
    DISTRIBUTIONS,
    POOLINGS,
    PRECISIONS,
    FitParams,
    ModelParams,
    RuntimeParams,
    TrainParams,
)

__all__ = [
    "BACKENDS",
    "BACKEND_CHOICES",
    "DISTRIBUTIONS",
    "POOLINGS",
    "PRECISIONS",
    "BaseParams",
    "BaselineParams",
    "BehaviourParams",
    "ConfigError",
    "DownloadParams",
    "EvaluateParams",
    "FitParams",
    "ModelParams",
    "PipelineParams",
    "PrepareParams",
    "PromoteParams",
    "ReproduceParams",
    "RuntimeParams",
    "ServeParams",
    "TrainParams",
    "ValidateParams",
    "load_params",
    "load_pipeline_params",
    "load_section",
    "override_params",
]


@dataclasses.dataclass(frozen=True)
class PipelineParams:
    """The whole params.yaml, for a stage that records every setting (train)."""

    base: BaseParams
    download: DownloadParams
    prepare: PrepareParams
    validate: ValidateParams
    train: TrainParams
    evaluate: EvaluateParams
    serve: ServeParams
    promote: PromoteParams
    reproduce: ReproduceParams
    baseline: BaselineParams


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
