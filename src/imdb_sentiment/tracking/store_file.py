"""The SQLite file behind a local MLflow store, checked before MLflow opens it.

MLflow would turn a 0-byte file into a fresh, empty store (the runs and the registry gone
without a word) and a truncated one into a traceback from deep in SQLAlchemy. Both are a lost
or damaged store that the user must hear about in one line, with the fix.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import urllib.parse
from pathlib import Path

from imdb_sentiment.errors import PipelineError

SQLITE_HEADER = b"SQLite format 3\x00"
_HEADER_SIZE = 100  # bytes; the page size and the page count live in it
_FIX = "restore it from a backup, or point MLFLOW_TRACKING_URI at another store"
# A store being created right now (by another process) is 0 bytes for a moment.
_EMPTY_WAIT_S = 1.0


class StoreFileError(PipelineError):
    """The sqlite file of the tracking store is missing, empty or damaged."""


def store_file(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI, else None (a server, a folder, in memory).

    A relative path is relative to the cwd, as SQLAlchemy opens it.
    """
    if not uri.startswith("sqlite:///"):
        return None
    path = urllib.parse.unquote(uri.removeprefix("sqlite:///").partition("?")[0])
    return None if path in ("", ":memory:") else Path(path)


def check_store_file(uri: str, must_exist: bool = False) -> None:
    """Raise StoreFileError if the sqlite store at `uri` is damaged; reads, never writes.

    A missing file is fine (MLflow creates the store), unless `must_exist`: a command that
    only reads from the store must not leave a new, empty one behind.
    """
    path = store_file(uri)
    if path is None:
        return
    if not path.exists():
        if must_exist:
            raise StoreFileError(
                f"no MLflow store at {path} (no runs or models yet); run this in the "
                "project's checkout after `dvc repro`, or set MLFLOW_TRACKING_URI to the store "
                "to use"
            )
        return
    problem = file_problem(path)
    if problem is not None:
        raise StoreFileError(f"MLflow store {path} {problem}; {_FIX}")


def file_problem(path: Path) -> str | None:
    """What is wrong with the sqlite file at `path`, or None if it reads as a sound database."""
    deadline = time.monotonic() + _EMPTY_WAIT_S
    while (size := path.stat().st_size) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if size == 0:
        return "is an empty file (0 bytes), not a database: MLflow would start a new store"
    with path.open("rb") as fh:
        header = fh.read(_HEADER_SIZE)
    if not header.startswith(SQLITE_HEADER):
        return f"is not an SQLite database ({size:,} bytes without its header)"
    if len(header) < _HEADER_SIZE:
        return f"is truncated ({size:,} bytes, less than its header)"
    expected = _expected_size(header)
    if expected is not None and size < expected:
        return f"is truncated ({size:,} of {expected:,} bytes)"
    return _quick_check(path)


def _expected_size(header: bytes) -> int | None:
    """Page size x page count from the header, when SQLite vouches for the count."""
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The count is valid only if written by the same change as the change counter.
    if header[24:28] != header[92:96] or pages == 0:
        return None
    return page_size * pages


def _quick_check(path: Path) -> str | None:
    """SQLite's own check of the pages and indexes (read-only; a few ms for MLflow's store)."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        ) as db:
            rows = db.execute("PRAGMA quick_check").fetchall()
    except sqlite3.OperationalError:
        return None  # locked by a writer, or a journal to roll back: inconclusive, not damage
    except sqlite3.DatabaseError as exc:
        return f"is damaged ({exc})"
    if rows != [("ok",)]:
        said = " ".join(str(rows[0][0]).split())  # its report spans lines
        return f"is damaged (sqlite quick_check: {said[:80]})"
    return None
