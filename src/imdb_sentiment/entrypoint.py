"""What every stage entry point shares: logging set-up and one-line errors."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from imdb_sentiment.errors import PipelineError


def run_stage(name: str, main: Callable[[], None]) -> int:
    """Run a stage body; a fixable failure prints one line and returns a non-zero status."""
    # Our own loggers speak at INFO; libraries (GX, MLflow, TF) only when something is wrong.
    logging.basicConfig(
        level=logging.WARNING, format=f"%(asctime)s {name} %(levelname)s %(message)s", force=True
    )
    for logger in ("imdb_sentiment", "pipeline"):
        logging.getLogger(logger).setLevel(logging.INFO)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # it sets INFO itself
    # TensorFlow's C++ start-up chatter (CUDA probing, CPU flags) says nothing actionable.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        main()
    except PipelineError as exc:
        return _fail(name, str(exc))
    except FileNotFoundError as exc:
        return _fail(name, f"{exc.filename}: not found; run the upstream stages first (dvc repro)")
    return 0


def _fail(name: str, message: str) -> int:
    print(f"{name}: error: {message}", file=sys.stderr)  # noqa: T201 - the CLI's one-line error
    return 1
