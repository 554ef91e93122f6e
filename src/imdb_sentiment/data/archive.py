"""Read the labeled aclImdb reviews straight out of the tar.gz into the reviews table.

Only `aclImdb/{train,test}/{neg,pos}/ID_RATING.txt` members are read, so the full
Stanford archive (with unsup/ and .feat files) and a labeled-only mirror give the same
table, byte for byte. Nothing is ever extracted, yet an archive that would be unsafe to
extract is refused whole, and so is one with damaged gzip or tar data or a label folder
holding anything but non-empty UTF-8 reviews: a half-read archive must not become a table.
"""

from __future__ import annotations

import gzip
import logging
import re
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

import pyarrow as pa

from imdb_sentiment.data.reviews_table import REVIEWS_SCHEMA
from imdb_sentiment.errors import PipelineError

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
LABEL_FOLDERS = {"neg": 0, "pos": 1}
RATINGS = range(1, 11)
# Every file in a label folder must be a review; the full archive's other files (unsup/,
# *.feat, urls_*.txt, imdb.vocab, README) live elsewhere and are skipped.
_IN_LABEL_FOLDER = re.compile(r"(?:\./)?aclImdb/(train|test)/(neg|pos)/(.+)", re.DOTALL)
_REVIEW_NAME = re.compile(r"([0-9]+)_([0-9]+)\.txt")  # ID_RATING.txt
_MAX_REVIEW_ID = 2**31 - 1  # review_id is an int32 column
# The longest aclImdb review is about 14 KB: a member far bigger is no review, and reading it
# whole could exhaust memory.
MAX_REVIEW_BYTES = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
# EOFError: the gzip data stops before its end marker.
_GZIP_ERRORS = (zlib.error, gzip.BadGzipFile, EOFError)
_BUFSIZE = 1 << 16
_FIX = "use an unmodified aclImdb v1 archive (IMDB_URL) and its sha256 (IMDB_SHA256)"

Row = tuple[str, int, int, int, str]  # split, label, rating, review_id, text


class ArchiveError(PipelineError):
    """The archive does not hold the aclImdb layout we expect."""


def read_reviews(archive: Path) -> pa.Table:
    """All labeled reviews, ordered by split (train, test), label, review_id."""
    rows: list[Row] = []
    try:
        _check_gzip_magic(archive)
        # GzipFile, unlike tarfile's own "r|gz", checks the CRC once the data is read to its
        # end; stream mode ("r|") reads the archive once, front to back, without seeking.
        with gzip.open(archive, "rb") as gz, _open_tar(gz, archive) as tar:
            for member in tar:
                _check_safe(member, archive)
                row = _read_review(tar, member)
                if row is not None:
                    rows.append(row)
            _check_end(tar, archive)
    except (*_GZIP_ERRORS, tarfile.TarError) as exc:
        raise _corrupt(archive, str(exc)) from exc
    except OSError as exc:
        raise ArchiveError(f"{archive} is not a readable tar.gz ({exc}); {_FIX}") from exc
    _check_layout(rows, archive)
    rows.sort(key=lambda r: (SPLITS.index(r[0]), r[1], r[3]))
    log.info("read %d labeled reviews from %s", len(rows), archive)
    return pa.table(list(zip(*rows, strict=True)), schema=REVIEWS_SCHEMA)


def _check_gzip_magic(archive: Path) -> None:
    with archive.open("rb") as fh:
        head = fh.read(16)
    if not head.startswith(_GZIP_MAGIC):
        raise ArchiveError(
            f"{archive} is not a readable tar.gz: it is not gzip data (it starts with {head!r}); "
            f"{_FIX}"
        )


def _open_tar(gz: IO[bytes], archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=gz, mode="r|", bufsize=_BUFSIZE)
    except tarfile.ReadError as exc:
        if isinstance(exc.__context__, zlib.error):  # tarfile rewords gzip damage; say so below
            raise
        raise ArchiveError(
            f"{archive} is not a readable tar.gz: its gzip data holds no tar archive ({exc}); "
            f"{_FIX}"
        ) from exc


def _corrupt(archive: Path, detail: str) -> ArchiveError:
    return ArchiveError(
        f"{archive} is not a readable tar.gz: its data is corrupt ({detail}); get an intact copy "
        "of the archive, and its sha256 for IMDB_SHA256"
    )


def _check_safe(member: tarfile.TarInfo, archive: Path) -> None:
    """Refuse what tarfile's `data` filter (PEP 706) refuses, and links and `..` altogether.

    We never extract, but an archive holding such members was not made for us: the filter
    would drop a leading "/" and allow links and `..` that stay inside the target folder.
    """
    path = PurePosixPath(member.name)
    if path.is_absolute():
        problem = "has an absolute path"
    elif ".." in path.parts:
        problem = "has '..' in its path"
    elif member.issym():
        problem = f"is a symbolic link (to {member.linkname!r})"
    elif member.islnk():
        problem = f"is a hard link (to {member.linkname!r})"
    elif not (member.isfile() or member.isdir()):
        problem = "is a device or FIFO, not a file"
    else:
        return
    raise ArchiveError(f"{archive} is refused: member {member.name!r} {problem}; {_FIX}")


def _read_review(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Row | None:
    """The review `member` holds, or None for a member outside the label folders."""
    folder = _IN_LABEL_FOLDER.fullmatch(member.name)
    if folder is None:
        return None
    split, label, filename = folder.groups()
    name = _REVIEW_NAME.fullmatch(filename)
    if not member.isfile():
        raise ArchiveError(f"{member.name!r} is not a regular file; {_FIX}")
    if name is None:
        raise ArchiveError(f"{member.name!r} is not a review file named ID_RATING.txt; {_FIX}")
    review_id, rating = int(name[1]), int(name[2])
    if rating not in RATINGS:
        raise ArchiveError(f"{member.name!r} has rating {rating}, outside 1..10; {_FIX}")
    if review_id > _MAX_REVIEW_ID:
        raise ArchiveError(f"{member.name!r} has review id {review_id}, above 2**31 - 1; {_FIX}")
    if member.size > MAX_REVIEW_BYTES:
        raise ArchiveError(
            f"{member.name!r} is {member.size} bytes, too big for a review "
            f"(limit {MAX_REVIEW_BYTES}); {_FIX}"
        )
    fh = tar.extractfile(member)
    assert fh is not None  # isfile() guarantees a file object
    text = _decode(fh.read(), member.name)
    if not text.strip():
        raise ArchiveError(f"{member.name!r} is empty or only whitespace; {_FIX}")
    return (split, LABEL_FOLDERS[label], rating, review_id, text)


def _decode(raw: bytes, name: str) -> str:
    # Decided: invalid UTF-8 fails the stage rather than being replaced, since every aclImdb
    # review decodes and a silent U+FFFD would change the text the model sees.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArchiveError(f"{name!r} is not valid UTF-8 (byte {exc.start}); {_FIX}") from exc


def _check_end(tar: tarfile.TarFile, archive: Path) -> None:
    """Fail unless the archive ended at its end-of-archive marker and nothing but zeros follow.

    tarfile takes a damaged header, or data running out, for the end of the archive; and
    reading on to the end makes GzipFile check the CRC, which catches damage that decompressed.
    """
    stream = tar.fileobj  # decompressed tar data, just past the header where tarfile stopped
    assert stream is not None
    if stream.tell() < tar.offset + tarfile.BLOCKSIZE:
        raise _corrupt(archive, f"the tar data ends at byte {stream.tell()} without its end marker")
    while block := stream.read(_BUFSIZE):
        if block.strip(b"\0"):
            raise _corrupt(archive, f"an unreadable tar header at byte {tar.offset}")


def _check_layout(rows: list[Row], archive: Path) -> None:
    found = {(r[0], r[1]) for r in rows}
    for split in SPLITS:
        for label_name, label in LABEL_FOLDERS.items():
            if (split, label) not in found:
                raise ArchiveError(
                    f"{archive} has no reviews under aclImdb/{split}/{label_name}/; "
                    "is it the aclImdb v1 archive?"
                )
