"""Fetch a dataset archive from a URL or local path and verify its sha256."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import requests
from tqdm import tqdm

from imdb_sentiment.errors import PipelineError

log = logging.getLogger(__name__)

URL_ENV = "IMDB_URL"
SHA256_ENV = "IMDB_SHA256"
_CHUNK = 1 << 20


class DownloadError(PipelineError):
    """The archive could not be fetched or is not the one expected."""


@dataclass(frozen=True)
class Source:
    location: str  # URL or local path, as given
    sha256: str


def resolve_source(url: str, sha256: str, environ: dict[str, str] | None = None) -> Source:
    """Environment variables win over params so mirrors need no edit of tracked files."""
    env = os.environ if environ is None else environ
    location = env.get(URL_ENV) or url
    digest = (env.get(SHA256_ENV) or sha256).strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise DownloadError(
            f"sha256 {digest!r} is not 64 hex characters; fix download.sha256 or {SHA256_ENV}"
        )
    return Source(location=location, sha256=digest)


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


def fetch(source: Source, workdir: Path, timeout: float = 30.0) -> Path:
    """Return a local path to the verified archive, downloading into `workdir` if remote."""
    path = local_path(source.location)
    if path is not None:
        if not path.is_file():
            raise DownloadError(f"archive not found: {path}; check {URL_ENV} or download.url")
        digest = _hash_file(path)
    else:
        path = workdir / "archive.tar.gz"
        digest = _download(source.location, path, timeout)
    if digest != source.sha256:
        raise DownloadError(
            f"sha256 mismatch for {source.location}: expected {source.sha256}, got {digest}; "
            f"point {URL_ENV} at the right archive or set {SHA256_ENV} to its checksum"
        )
    log.info("verified %s (sha256 %s)", source.location, digest)
    return path


def _hash_file(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh, _progress(path.stat().st_size, f"hashing {path.name}") as bar:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            bar.update(len(chunk))
    return sha.hexdigest()


def _download(url: str, dest: Path, timeout: float) -> str:
    sha = hashlib.sha256()
    try:
        with requests.get(url, stream=True, timeout=timeout) as resp:
            resp.raise_for_status()
            total = int(resp.headers.get("Content-Length", 0)) or None
            with dest.open("wb") as out, _progress(total, "downloading") as bar:
                for chunk in resp.iter_content(_CHUNK):
                    out.write(chunk)
                    sha.update(chunk)
                    bar.update(len(chunk))
            if total is not None and dest.stat().st_size != total:
                raise DownloadError(
                    f"download of {url} truncated at {dest.stat().st_size} of {total} bytes; rerun"
                )
    except requests.RequestException as exc:
        raise DownloadError(
            f"cannot download {url}: {exc.__class__.__name__}; check the network or set "
            f"{URL_ENV} to a local mirror"
        ) from exc
    return sha.hexdigest()


def _progress(total: int | None, desc: str) -> tqdm:
    # disable=None: a bar on a terminal, silence in CI logs and DVC's captured output.
    return tqdm(
        total=total,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=None,
    )
