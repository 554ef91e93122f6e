"""Find the dataset archive (URL or local path), download it into a cache, verify its sha256,
and record which archive was used (`source.json`)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from imdb_sentiment.data.transfer import DownloadError, RetryPolicy, download, progress_bar
from imdb_sentiment.data.transfer_limits import TransferLimits
from imdb_sentiment.files import read_json, write_json
from imdb_sentiment.redact import redact_url

log = logging.getLogger(__name__)

URL_ENV = "IMDB_URL"
SHA256_ENV = "IMDB_SHA256"
CACHE_ENV = "IMDB_CACHE_DIR"
# Outside the repository: DVC never sees a half-downloaded archive, and every checkout and
# `dvc exp run --temp` copy shares one download.
DEFAULT_CACHE = "~/.cache/imdb-sentiment/downloads"
# A partial download of another archive, untouched this long, belongs to no running
# download (a live one writes at least every `download.speed_window_seconds`): removed.
STALE_PART_S = 3600.0
_PART_NAME = re.compile(r"[0-9a-f]{64}\.tar\.gz\.part")  # the only files the cache may delete
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    location: str  # URL or local path, as given
    sha256: str


def resolve_source(url: str, sha256: str, environ: Mapping[str, str] | None = None) -> Source:
    """Environment variables win over params so mirrors need no edit of tracked files."""
    env = os.environ if environ is None else environ
    location = env.get(URL_ENV) or url
    digest = (env.get(SHA256_ENV) or sha256).strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        shown = digest if len(digest) <= 80 else f"{digest[:80]}..."
        raise DownloadError(
            f"sha256 {shown!r} is not 64 hex characters; fix download.sha256 or {SHA256_ENV}"
        )
    return Source(location=location, sha256=digest)


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where downloads are kept between runs: `IMDB_CACHE_DIR`, else ~/.cache/imdb-sentiment."""
    env = os.environ if environ is None else environ
    return Path(env.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def local_path(location: str) -> Path | None:
    """The filesystem path behind `location`, or None when it is a remote URL."""
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme == "file":
        return Path(urllib.parse.unquote(parsed.path))
    if parsed.scheme in ("http", "https"):
        return None
    if parsed.scheme and len(parsed.scheme) > 1:  # one letter = a Windows drive
        raise DownloadError(
            f"unsupported URL scheme {parsed.scheme!r} in {redact_url(location)!r}; "
            "use http(s)://, file:// or a local path"
        )
    return Path(location).expanduser()


def fetch(
    source: Source, cache: Path, limits: TransferLimits, retry: RetryPolicy | None = None
) -> Path:
    """A local path to the verified archive; a remote one is downloaded into `cache` first."""
    path = local_path(source.location)
    if path is None:
        return _fetch_remote(source, cache, limits, retry)
    if not path.is_file():
        where = "" if path.is_absolute() else f" (from {Path.cwd()}: {path.absolute()})"
        raise DownloadError(
            f"archive not found: {path}{where}; check {URL_ENV} or download.url (a relative "
            "path is read from the checkout's root, where DVC runs the stage)"
        )
    _verify(path, source)
    return path


def _fetch_remote(
    source: Source, cache: Path, limits: TransferLimits, retry: RetryPolicy | None
) -> Path:
    # Named by checksum: another URL for the same archive reuses it, another checksum never does.
    archive = cache / f"{source.sha256}.tar.gz"
    part = archive.with_name(archive.name + ".part")
    remove_stale_parts(cache, keep=part, max_bytes=limits.max_bytes)
    if archive.is_file():
        if _hash_file(archive) == source.sha256:
            log.info("using %s, downloaded earlier (sha256 verified)", archive)
            return archive
        log.warning("%s no longer matches its sha256; downloading it again", archive)
        archive.unlink()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        download(source.location, part, limits, retry)
    except OSError as exc:  # a full disk, or a cache path that is no writable folder
        raise DownloadError(
            f"cannot write the download to {cache} ({exc.strerror or exc}); free some space "
            f"or set {CACHE_ENV} to a writable folder"
        ) from exc
    try:
        _verify(part, source)
    except DownloadError:
        part.unlink()  # resuming a wrong file can never succeed: the next run starts clean
        raise
    part.replace(archive)
    return archive


def remove_stale_parts(cache: Path, keep: Path, max_bytes: int) -> list[Path]:
    """Delete partial downloads a killed or failed run left in `cache`; return them.

    `keep` (this archive's own partial file, which the download resumes) stays unless it is
    larger than `max_bytes`; the partial file of another archive goes once no download has
    written to it for STALE_PART_S. Only `<sha256>.tar.gz.part` files are ever touched.
    """
    if not cache.is_dir():
        return []
    removed = []
    now = time.time()
    for path in sorted(cache.iterdir()):
        if not _PART_NAME.fullmatch(path.name) or not path.is_file():
            continue
        stat = path.stat()
        if path == keep and stat.st_size <= max_bytes:
            continue
        if path != keep and now - stat.st_mtime < STALE_PART_S:
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
        log.info("removed %s (%d bytes), a partial download of an earlier run", path, stat.st_size)
    return removed


def _verify(path: Path, source: Source) -> None:
    digest = _hash_file(path)
    shown = redact_url(source.location)
    if digest != source.sha256:
        raise DownloadError(
            f"sha256 mismatch for {shown}: expected {source.sha256}, got {digest}; "
            f"point {URL_ENV} at the right archive or set {SHA256_ENV} to its checksum"
        )
    log.info("verified %s (sha256 %s)", shown, digest)


def _hash_file(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh, progress_bar(path.stat().st_size, f"hashing {path.name}") as bar:
        while chunk := fh.read(_HASH_CHUNK):
            sha.update(chunk)
            bar.update(len(chunk))
    return sha.hexdigest()


# The effective source (`data/raw/source.json`): which archive the reviews table was read
# from, as the run used it. `url` is redacted: the file is a DVC output, hashed in dvc.lock.


def write_source_record(source: Source, path: Path) -> None:
    """Write `{"url": <redacted location>, "sha256": <the checksum verified>}` atomically."""
    write_json(path, {"url": redact_url(source.location), "sha256": source.sha256})


def read_source_record(path: Path) -> Source:
    """The effective source a download stage recorded: its redacted URL and the sha256."""
    record = read_json(path)
    if not isinstance(record, dict) or set(record) != {"url", "sha256"}:
        raise DownloadError(f"{path}: not a source record; rerun the download stage")
    return Source(location=str(record["url"]), sha256=str(record["sha256"]))
