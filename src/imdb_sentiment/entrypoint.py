"""What every entry point shares (stages and CLI commands): logging set-up, one-line errors."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from imdb_sentiment.errors import PipelineError, first_line
from imdb_sentiment.files import remove_leftovers
from imdb_sentiment.typed_mapping import shorten

log = logging.getLogger(__name__)

EXIT_FAILURE = 1
MAX_ERROR_CHARS = 1000
_NVIDIA_DRIVER = Path("/proc/driver/nvidia/version")  # Linux's NVIDIA kernel driver
# Our own code's loggers; libraries (GX, MLflow, TF) speak only when something is wrong.
_OWN_LOGGERS = ("imdb_sentiment", "pipeline")


class ExitStatusError(PipelineError):
    """A fixable failure that ends its command with a status of its own instead of 1."""

    def __init__(self, message: str, exit_status: int) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def configure_logging(name: str, level: int = logging.INFO) -> None:
    """The one logging set-up: lines tagged `name`, our loggers at `level`, others at WARNING."""
    logging.basicConfig(
        level=logging.WARNING, format=f"%(asctime)s {name} %(levelname)s %(message)s", force=True
    )
    for logger in _OWN_LOGGERS:
        logging.getLogger(logger).setLevel(level)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # it sets INFO itself
    # TensorFlow's C++ start-up chatter (CUDA probing, CPU flags) says nothing actionable.
    # Without an NVIDIA driver, its "failed call to cuInit: ... UNKNOWN ERROR" is the expected
    # outcome of probing for one, logged as an error: hide errors there too (real ones still
    # raise in Python). With a driver, a CUDA error is news and stays.
    quiet = "2" if _NVIDIA_DRIVER.exists() else "3"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", quiet)


def run_entrypoint(name: str, body: Callable[[], int | None], level: int = logging.INFO) -> int:
    """Set up logging and run `body`; return its exit status (None counts as 0).

    A fixable failure prints `<name>: error: <first line>` to stderr and returns 1, or the
    error's own status (ExitStatusError): no traceback for a problem the user can fix.
    """
    configure_logging(name, level)
    try:
        status = body()
    except ExitStatusError as exc:
        return report_error(name, first_line(exc), exc.exit_status)
    except PipelineError as exc:
        return report_error(name, first_line(exc))
    except FileNotFoundError as exc:
        return report_error(
            name, f"{exc.filename}: not found; run the upstream stages first (dvc repro)"
        )
    return 0 if status is None else status


def run_stage(name: str, main: Callable[[], None], outputs: Iterable[Path] = ()) -> int:
    """Run a pipeline stage's body (see run_entrypoint); our loggers speak at INFO.

    First, the temporary files that an earlier run of the stage, killed while writing
    `outputs`, left beside them are deleted (see `files.remove_leftovers`).
    """

    def body() -> None:
        for path in remove_leftovers(outputs):
            log.info("removed %s, left by an earlier run that was killed", path)
        main()

    return run_entrypoint(name, body)


def report_error(name: str, message: str, exit_status: int = EXIT_FAILURE) -> int:
    """Print the one-line error `<name>: error: <message>`; return `exit_status`.

    A message past MAX_ERROR_CHARS is cut: whatever it quotes, it stays a line to read.
    """
    message = shorten(message, MAX_ERROR_CHARS)
    print(f"{name}: error: {message}", file=sys.stderr)  # noqa: T201 - the one-line error
    return exit_status
