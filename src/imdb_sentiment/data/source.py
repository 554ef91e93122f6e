"""Find the dataset archive (URL or local path), download it into a cache, verify its sha256."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from imdb_sentiment.data.transfer import DownloadError, RetryPolicy, download, progress_bar

log = logging.getLogger(__name__)

URL_ENV = "IMDB_URL"
SHA256_ENV = "IMDB_SHA256"
CACHE_ENV = "IMDB_CACHE_DIR"
# Outside the repository: DVC never sees a half-downloaded archive, and every checkout and
# `dvc exp run --temp` copy shares one download.
DEFAULT_CACHE = "~/.cache/imdb-sentiment/downloads"
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
        raise DownloadError(
            f"sha256 {digest!r} is not 64 hex characters; fix download.sha256 or {SHA256_ENV}"
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
            f"unsupported URL scheme {parsed.scheme!r} in {location!r}; "
            "use http(s)://, file:// or a local path"
        )
    return Path(location).expanduser()


def fetch(source: Source, cache: Path, retry: RetryPolicy | None = None) -> Path:
    """A local path to the verified archive; a remote one is downloaded into `cache` first."""
    path = local_path(source.location)
    if path is None:
        return _fetch_remote(source, cache, retry)
    if not path.is_file():
        raise DownloadError(f"archive not found: {path}; check {URL_ENV} or download.url")
    _verify(path, source)
    return path


def _fetch_remote(source: Source, cache: Path, retry: RetryPolicy | None) -> Path:
    # Named by checksum: another URL for the same archive reuses it, another checksum never does.
    archive = cache / f"{source.sha256}.tar.gz"
    if archive.is_file():
        if _hash_file(archive) == source.sha256:
            log.info("using %s, downloaded earlier (sha256 verified)", archive)
            return archive
        log.warning("%s no longer matches its sha256; downloading it again", archive)
        archive.unlink()
    part = archive.with_name(archive.name + ".part")
    try:
        cache.mkdir(parents=True, exist_ok=True)
        download(source.location, part, retry)
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


def _verify(path: Path, source: Source) -> None:
    digest = _hash_file(path)
    if digest != source.sha256:
        raise DownloadError(
            f"sha256 mismatch for {source.location}: expected {source.sha256}, got {digest}; "
            f"point {URL_ENV} at the right archive or set {SHA256_ENV} to its checksum"
        )
    log.info("verified %s (sha256 %s)", source.location, digest)


def _hash_file(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh, progress_bar(path.stat().st_size, f"hashing {path.name}") as bar:
        while chunk := fh.read(_HASH_CHUNK):
            sha.update(chunk)
            bar.update(len(chunk))
    return sha.hexdigest()
