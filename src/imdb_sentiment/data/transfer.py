"""The HTTP half of `download`: a resumable transfer within the limits of `transfer_limits`,
retried only where a retry can help."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from tqdm import tqdm
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import NewConnectionError, ReadTimeoutError

from imdb_sentiment.data.transfer_limits import TransferClock, TransferLimits
from imdb_sentiment.errors import PipelineError
from imdb_sentiment.redact import redact_url

log = logging.getLogger(__name__)


class DownloadError(PipelineError):
    """The archive could not be fetched or is not the one expected."""


class DeadlineError(DownloadError):
    """download.deadline_seconds passed; the message says how many bytes are kept."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int  # tries per run for a transient failure; a rerun resumes where they stopped
    backoff_s: float  # wait before the second try, doubled before each later one
    timeout_s: float  # to connect: a host that does not accept within it is a failed try


# Retrying changes how long a run may take, never what it writes, so these are constants, not
# params. 5 tries, 1 + 2 + 4 + 8 s apart, ride out a restarting server or a short outage.
RETRY = RetryPolicy(attempts=5, backoff_s=1.0, timeout_s=30.0)
# A refused connection or an unknown host seldom heals within seconds: one quick retry, then stop.
UNREACHABLE_ATTEMPTS = 2
# Rate limits and gateway trouble pass; any other error status would only come back again.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Most bytes per read and write. A read returns what has arrived (read1), so the speed is
# checked as bytes come, however slowly; a killed run loses at most this much.
_CHUNK = 1 << 16
_CHECK_URL = "check IMDB_URL or download.url"
_USE_MIRROR = "set IMDB_URL to a mirror or a local copy and IMDB_SHA256 to its checksum"
_RAISE_WINDOW = "raise download.speed_window_seconds if the server is this slow"
Progress = tuple[int | None, int | None]  # bytes held (None: as on disk), the file's size


class _Retryable(Exception):
    """A failed try that another try may not repeat."""

    def __init__(
        self, reason: str, *, unreachable: bool = False, total: int | None = None, fix: str = ""
    ):
        super().__init__(reason)
        self.unreachable = unreachable
        self.total = total  # the file's size, when the server said it
        self.fix = fix  # a param that would help, for the final message


def download(
    url: str, part: Path, limits: TransferLimits, retry: RetryPolicy | None = None
) -> None:
    """Fetch `url` into `part`, resuming from whatever an earlier try or run left there."""
    retry = retry or RETRY  # looked up per call, so a test can shorten it
    shown = redact_url(url)  # the only form of the URL a log line or an error may carry
    with TransferClock(limits) as clock, clock.session() as session:
        tries = 0
        while True:
            tries += 1
            try:
                _try_once(session, (url, shown), part, clock, retry.timeout_s)
                return
            except (_Retryable, DownloadError) as exc:
                total = exc.total if isinstance(exc, _Retryable) else None
                if isinstance(exc, DeadlineError):  # it says so already, with the file's size
                    raise
                if clock.fired:  # the watchdog cut the transfer: whatever broke, that is why
                    raise _past_deadline(shown, part, limits, (None, total)) from exc
                if isinstance(exc, DownloadError):
                    raise
                delay = _next_wait(shown, part, exc, tries, retry)
                if delay >= clock.left():  # the next try could not start in time
                    progress = (None, total)
                    raise _past_deadline(shown, part, limits, progress, f" ({exc})") from exc
                time.sleep(delay)


def _next_wait(shown: str, part: Path, exc: _Retryable, tries: int, retry: RetryPolicy) -> float:
    """The wait before the next try, or the final error once the tries are spent."""
    limit = UNREACHABLE_ATTEMPTS if exc.unreachable else retry.attempts
    if tries >= limit:
        raise _give_up(shown, part, exc, tries) from exc
    delay = retry.backoff_s * 2 ** (tries - 1)
    log.warning("%s: %s; try %d of %d in %g s", shown, exc, tries + 1, limit, delay)
    return delay


def _try_once(
    session: requests.Session,
    url_shown: tuple[str, str],
    part: Path,
    clock: TransferClock,
    connect_s: float,
) -> None:
    url, shown = url_shown
    left = clock.left()
    if left <= 0:
        raise _past_deadline(shown, part, clock.limits, (None, None))
    offset = part.stat().st_size if part.exists() else 0
    # The sha256 is of the file as stored: a server must not compress it again on the fly.
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        log.info("resuming %s at byte %d", shown, offset)
    # The read timeout bounds each wait for a byte (of the answer, then of the body): past the
    # speed window the transfer has stalled. The deadline's watchdog bounds everything else.
    wait_s = min(clock.limits.speed_window_seconds, left)
    timeout = (min(connect_s, left), wait_s)
    try:
        with session.get(url, headers=headers, stream=True, timeout=timeout) as resp:
            if resp.status_code == 416 and offset:
                part.unlink()  # we hold more than the server has: it is no prefix of this file
                raise _Retryable(f"the server cannot resume at byte {offset}; starting over")
            _check_status(shown, resp)
            _write_body(shown, resp, part, (offset, wait_s), clock)
    except requests.exceptions.SSLError as exc:
        raise DownloadError(
            f"cannot download {shown}: TLS failed ({exc.__class__.__name__}); check the URL "
            "(IMDB_URL or download.url) and the system's CA certificates"
        ) from exc
    except requests.ConnectTimeout as exc:
        raise _Retryable(f"no connection within {timeout[0]:g} s") from exc
    except requests.Timeout as exc:
        raise _Retryable(f"no response within {wait_s:g} s", fix=_RAISE_WINDOW) from exc
    except requests.ConnectionError as exc:
        why = _unreachable_reason(exc)
        if why is not None:
            raise _Retryable(why, unreachable=True) from exc
        raise _Retryable("the connection was dropped") from exc
    except requests.RequestException as exc:
        raise DownloadError(
            f"cannot download {shown}: {exc.__class__.__name__}; {_CHECK_URL}"
        ) from exc


def _check_status(shown: str, resp: requests.Response) -> None:
    if resp.status_code in RETRY_STATUSES:
        raise _Retryable(f"HTTP {resp.status_code} {resp.reason}")
    if resp.status_code not in (200, 206):
        raise DownloadError(
            f"cannot download {shown}: HTTP {resp.status_code} {resp.reason}; {_CHECK_URL}"
        )


def _write_body(
    shown: str,
    resp: requests.Response,
    part: Path,
    offset_wait: tuple[int, float],
    clock: TransferClock,
) -> None:
    offset, wait_s = offset_wait
    resume = resp.status_code == 206
    if offset and not resume:
        log.info("the server sent the whole file instead of the rest; starting over")
    held = offset if resume else 0
    length = resp.raw.length_remaining  # Content-Length; None when the server sends none
    total = None if length is None else held + length
    if total is not None and total > clock.limits.max_bytes:
        part.unlink(missing_ok=True)  # the start of a file too large to take
        raise _too_large(shown, f"is {total:,} bytes", clock.limits)
    mode = "ab" if resume else "wb"
    with part.open(mode) as out, progress_bar(total, "downloading", held) as bar:
        clock.start_window()
        try:
            # Raw bytes: a server that labels a .tar.gz "Content-Encoding: gzip" (a common
            # misconfiguration) must not have it unpacked on the way.
            while chunk := resp.raw.read1(_CHUNK, decode_content=False):
                held += len(chunk)
                if held > clock.limits.max_bytes:  # no Content-Length, so no refusal up front
                    out.close()
                    part.unlink()
                    raise _too_large(shown, "sent more", clock.limits)
                out.write(chunk)
                bar.update(len(chunk))
                _check_pace(shown, part, clock, len(chunk), (held, total))
        except ReadTimeoutError as exc:
            if clock.expired():
                raise _past_deadline(shown, part, clock.limits, (held, total)) from exc
            stalled = f"stalled: no data for {wait_s:g} s"
            raise _Retryable(stalled, total=total, fix=_RAISE_WINDOW) from exc
        except TransportError as exc:  # urllib3 raises when fewer bytes than Content-Length come
            raise _Retryable("the connection closed early", total=total) from exc
    if clock.fired:  # the watchdog's shutdown reads as the end of a body without a length
        raise _past_deadline(shown, part, clock.limits, (held, total))


def _check_pace(
    shown: str, part: Path, clock: TransferClock, size: int, progress: Progress
) -> None:
    """Stop a transfer past its deadline, or one whose last window was below the speed."""
    if clock.expired():
        raise _past_deadline(shown, part, clock.limits, progress)
    rate = clock.slow_rate(size)
    if rate is None:
        return
    # Not retried: a link this slow stays slow; the bytes are kept for a rerun to resume.
    limits = clock.limits
    raise DownloadError(
        f"download of {shown} too slow: {rate:,.0f} bytes/s over "
        f"{limits.speed_window_seconds:g} s, below download.min_bytes_per_second "
        f"({limits.min_bytes_per_second:,}); {_kept(part, progress)}; rerun to resume, or "
        "lower download.min_bytes_per_second"
    )


def _too_large(shown: str, what: str, limits: TransferLimits) -> DownloadError:
    return DownloadError(
        f"download of {shown} {what}, over download.max_bytes ({limits.max_bytes:,}); nothing "
        "kept; check IMDB_URL, or raise download.max_bytes if the archive is really this large"
    )


def _past_deadline(
    shown: str, part: Path, limits: TransferLimits, progress: Progress, last: str = ""
) -> DeadlineError:
    return DeadlineError(
        f"download of {shown} did not finish within download.deadline_seconds "
        f"({limits.deadline_seconds:g} s){last}; {_kept(part, progress)}; rerun to resume, or "
        "raise download.deadline_seconds"
    )


def _kept(part: Path, progress: Progress) -> str:
    held, total = progress
    if held is None:  # between tries: the file is closed, its size is what is held
        held = part.stat().st_size if part.exists() else 0
    of = f" of {total:,}" if total else ""
    return f"{held:,}{of} bytes kept in {part}"


def _unreachable_reason(exc: requests.ConnectionError) -> str | None:
    """Why no connection could be made at all (refused, unknown host), or None."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if not isinstance(reason, NewConnectionError):  # DNS failures subclass it too
        return None
    cause = reason.__cause__ or reason.__context__
    return getattr(cause, "strerror", None) or type(reason).__name__


def _give_up(shown: str, part: Path, exc: _Retryable, tries: int) -> DownloadError:
    fix = f", or {exc.fix}" if exc.fix else ""
    if exc.unreachable:
        host = shown.partition("//")[2].partition("/")[0].rpartition("@")[2]
        return DownloadError(
            f"cannot reach {host} ({exc}, {tries} tries); check the network, or {_USE_MIRROR}"
        )
    held = part.stat().st_size if part.exists() else 0
    if held:
        of = f" of {exc.total}" if exc.total else ""
        return DownloadError(
            f"download of {shown} truncated at {held}{of} bytes ({exc}, {tries} tries); "
            f"rerun to resume from {part}{fix}"
        )
    return DownloadError(
        f"cannot download {shown}: {exc} ({tries} tries); try again later{fix}, or {_USE_MIRROR}"
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
