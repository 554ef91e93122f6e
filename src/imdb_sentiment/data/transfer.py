"""The HTTP half of `download`: a resumable transfer, retried only where a retry can help."""

from __future__ import annotations

import logging
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import requests
from tqdm import tqdm
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import NewConnectionError

from imdb_sentiment.errors import PipelineError

log = logging.getLogger(__name__)


class DownloadError(PipelineError):
    """The archive could not be fetched or is not the one expected."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int  # tries per run for a transient failure; a rerun resumes where they stopped
    backoff_s: float  # wait before the second try, doubled before each later one
    timeout_s: float  # to connect, and between two reads: a stalled transfer is a failed try


# Retrying changes how long a run may take, never what it writes, so these are constants, not
# params. 5 tries, 1 + 2 + 4 + 8 s apart, ride out a restarting server or a short outage.
RETRY = RetryPolicy(attempts=5, backoff_s=1.0, timeout_s=30.0)
# A refused connection or an unknown host seldom heals within seconds: one quick retry, then stop.
UNREACHABLE_ATTEMPTS = 2
# Rate limits and gateway trouble pass; any other error status would only come back again.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_WRITE_CHUNK = 1 << 16  # bytes per write: all a killed run can lose of what it had received


class _Retryable(Exception):
    """A failed try that another try may not repeat."""

    def __init__(self, reason: str, *, unreachable: bool = False, total: int | None = None):
        super().__init__(reason)
        self.unreachable = unreachable
        self.total = total  # the file's size, when the server said it


def download(url: str, part: Path, retry: RetryPolicy | None = None) -> None:
    """Fetch `url` into `part`, resuming from whatever an earlier try or run left there."""
    retry = retry or RETRY  # looked up per call, so a test can shorten it
    tries = 0
    while True:
        tries += 1
        try:
            _try_once(url, part, retry.timeout_s)
            return
        except _Retryable as exc:
            limit = UNREACHABLE_ATTEMPTS if exc.unreachable else retry.attempts
            if tries >= limit:
                raise _give_up(url, part, exc, tries) from exc
            delay = retry.backoff_s * 2 ** (tries - 1)
            log.warning("%s: %s; try %d of %d in %g s", url, exc, tries + 1, limit, delay)
            time.sleep(delay)


def _try_once(url: str, part: Path, timeout_s: float) -> None:
    offset = part.stat().st_size if part.exists() else 0
    # The sha256 is of the file as stored: a server must not compress it again on the fly.
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        log.info("resuming %s at byte %d", url, offset)
    try:
        with requests.get(url, headers=headers, stream=True, timeout=timeout_s) as resp:
            if resp.status_code == 416 and offset:
                part.unlink()  # we hold more than the server has: it is no prefix of this file
                raise _Retryable(f"the server cannot resume at byte {offset}; starting over")
            _check_status(url, resp)
            _write_body(resp, part, offset)
    except requests.exceptions.SSLError as exc:
        raise DownloadError(
            f"cannot download {url}: TLS failed ({exc.__class__.__name__}); check the URL "
            "(IMDB_URL or download.url) and the system's CA certificates"
        ) from exc
    except requests.Timeout as exc:
        raise _Retryable(f"no response within {timeout_s:g} s") from exc
    except requests.ConnectionError as exc:
        why = _unreachable_reason(exc)
        if why is not None:
            raise _Retryable(why, unreachable=True) from exc
        raise _Retryable("the connection was dropped") from exc
    except requests.RequestException as exc:
        raise DownloadError(
            f"cannot download {url}: {exc.__class__.__name__}; check IMDB_URL or download.url"
        ) from exc


def _check_status(url: str, resp: requests.Response) -> None:
    if resp.status_code in RETRY_STATUSES:
        raise _Retryable(f"HTTP {resp.status_code} {resp.reason}")
    if resp.status_code not in (200, 206):
        raise DownloadError(
            f"cannot download {url}: HTTP {resp.status_code} {resp.reason}; "
            "check IMDB_URL or download.url"
        )


def _write_body(resp: requests.Response, part: Path, offset: int) -> None:
    resume = resp.status_code == 206
    if offset and not resume:
        log.info("the server sent the whole file instead of the rest; starting over")
    start = offset if resume else 0
    length = resp.raw.length_remaining  # Content-Length; None when the server sends none
    total = None if length is None else start + length
    bar = progress_bar(total, "downloading", initial=start)
    with part.open("ab" if resume else "wb") as out, bar:
        try:
            # Raw bytes: a server that labels a .tar.gz "Content-Encoding: gzip" (a common
            # misconfiguration) must not have it unpacked on the way.
            for chunk in resp.raw.stream(_WRITE_CHUNK, decode_content=False):
                out.write(chunk)
                bar.update(len(chunk))
        except TransportError as exc:  # urllib3 raises when fewer bytes than Content-Length come
            raise _Retryable("the connection closed early", total=total) from exc


def _unreachable_reason(exc: requests.ConnectionError) -> str | None:
    """Why no connection could be made at all (refused, unknown host), or None."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if not isinstance(reason, NewConnectionError):  # DNS failures subclass it too
        return None
    cause = reason.__cause__ or reason.__context__
    return getattr(cause, "strerror", None) or str(reason)


def _give_up(url: str, part: Path, exc: _Retryable, tries: int) -> DownloadError:
    if exc.unreachable:
        host = urllib.parse.urlsplit(url).netloc
        return DownloadError(
            f"cannot reach {host} ({exc}, {tries} tries); check the network, or set IMDB_URL "
            "to a local copy or a mirror"
        )
    held = part.stat().st_size if part.exists() else 0
    if held:
        of = f" of {exc.total}" if exc.total else ""
        return DownloadError(
            f"download of {url} truncated at {held}{of} bytes ({exc}, {tries} tries); "
            f"rerun to resume from {part}"
        )
    return DownloadError(
        f"cannot download {url}: {exc} ({tries} tries); try again later, or set IMDB_URL to "
        "a mirror"
    )


def progress_bar(total: int | None, desc: str, initial: int = 0) -> tqdm:
    # disable=None: a bar on a terminal, silence in CI logs and DVC's captured output.
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=None,
    )
