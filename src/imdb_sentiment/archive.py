"""Read the labeled aclImdb reviews straight out of the tar.gz into one canonical table.

Only `aclImdb/{train,test}/{neg,pos}/ID_RATING.txt` members are read, so the full
Stanford archive (with unsup/ and .feat files) and a labeled-only mirror give the same
table, byte for byte.
"""

from __future__ import annotations

import logging
import re
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from imdb_sentiment.errors import PipelineError

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}
_MEMBER = re.compile(r"^(?:\./)?aclImdb/(train|test)/(neg|pos)/(\d+)_(\d+)\.txt$")

SCHEMA = pa.schema(
    [
        ("split", pa.string()),
        ("label", pa.int8()),
        ("rating", pa.int8()),
        ("review_id", pa.int32()),
        ("text", pa.string()),
    ]
)


class ArchiveError(PipelineError):
    """The archive does not hold the aclImdb layout we expect."""


def read_reviews(archive: Path) -> pa.Table:
    """All labeled reviews, ordered by split (train, test), label, review_id."""
    rows: list[tuple[str, int, int, int, str]] = []
    try:
        # Stream mode ("r|gz") reads the 80 MB archive once, front to back, without seeking.
        with tarfile.open(archive, mode="r|gz") as tar:
            for member in tar:
                match = _MEMBER.match(member.name)
                if match is None:
                    continue
                if not member.isfile():
                    raise ArchiveError(
                        f"{member.name} is not a regular file; use an unmodified aclImdb archive"
                    )
                split, label, review_id, rating = match.groups()
                fh = tar.extractfile(member)
                assert fh is not None  # isfile() guarantees a file object
                text = _decode(fh.read(), member.name)
                rows.append((split, LABELS[label], int(rating), int(review_id), text))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(
            f"{archive} is not a readable tar.gz ({exc}); re-download it or check IMDB_URL"
        ) from exc
    _check_layout(rows, archive)
    rows.sort(key=lambda r: (SPLITS.index(r[0]), r[1], r[3]))
    log.info("read %d labeled reviews from %s", len(rows), archive)
    return pa.table(list(zip(*rows, strict=True)), schema=SCHEMA)


def write_reviews(table: pa.Table, path: Path) -> None:
    # No pandas metadata and fixed options: the same rows always give the same bytes.
    pq.write_table(table, path, compression="zstd", use_dictionary=["split"])


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArchiveError(
            f"{name} is not valid UTF-8 (byte {exc.start}); use an unmodified aclImdb archive"
        ) from exc


def _check_layout(rows: list[tuple[str, int, int, int, str]], archive: Path) -> None:
    found = {(r[0], r[1]) for r in rows}
    for split in SPLITS:
        for label_name, label in LABELS.items():
            if (split, label) not in found:
                raise ArchiveError(
                    f"{archive} has no reviews under aclImdb/{split}/{label_name}/; "
                    "is it the aclImdb v1 archive?"
                )
