"""The resumable transfer: cut, stalled, refused and failing downloads, what is retried, and
the limits (size, speed, deadline) that keep a hostile server from filling a disk or hanging a
run. Every server is on 127.0.0.1 and every limit tiny, so each test takes a second or two."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest

from imdb_sentiment.data.transfer import DownloadError, RetryPolicy, download
from imdb_sentiment.data.transfer_limits import TransferClock, TransferLimits
from tests.httpserver import FileServer, Script, Seen, closed_port

PAYLOAD = bytes(range(256)) * 2000  # 512 KB: many writes, so a cut lands mid-file
FAST = RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=5.0)
# As params.yaml's, scaled down: 4 MB cap, 1 kB/s over 2 s, 20 s for everything.
LIMITS = TransferLimits(
    max_bytes=4 << 20, min_bytes_per_second=1000, speed_window_seconds=2, deadline_seconds=20
)


def part_in(folder: Path) -> Path:
    return folder / "archive.tar.gz.part"


def get(
    server: FileServer, part: Path, retry: RetryPolicy = FAST, limits: TransferLimits = LIMITS
) -> bytes:
    """What `download` leaves in `part`."""
    download(server.url, part, limits, retry)
    return part.read_bytes()


def test_a_cut_transfer_resumes_within_the_run(tmp_path: Path) -> None:
    with FileServer(PAYLOAD, Script(cut_at=200_000, cut_responses=1)) as server:
        assert get(server, part_in(tmp_path)) == PAYLOAD
    first, second = server.requests
    assert first == Seen(None, "identity", 200)
    assert second.status == 206
    assert 0 < int(second.range.removeprefix("bytes=").removesuffix("-")) <= 200_000


def test_a_transfer_cut_every_time_is_truncated_kept_and_resumed_by_a_rerun(
    tmp_path: Path,
) -> None:
    with FileServer(PAYLOAD, Script(cut_at=200_000)) as server:
        with pytest.raises(
            DownloadError, match=rf"truncated at \d+ of {len(PAYLOAD)} bytes .*rerun to resume"
        ):
            get(server, part_in(tmp_path))
        assert len(server.requests) == FAST.attempts
        held = part_in(tmp_path).stat().st_size
        assert 0 < held <= 200_000
        server.script = Script()  # the link is back
        assert get(server, part_in(tmp_path)) == PAYLOAD
    assert server.requests[-1] == Seen(f"bytes={held}-", "identity", 206)


def test_a_server_ignoring_the_range_makes_the_rerun_start_over(tmp_path: Path) -> None:
    part_in(tmp_path).write_bytes(b"x" * 1000)  # appended to, it would corrupt the archive
    with FileServer(PAYLOAD, Script(ranges=False)) as server:
        assert get(server, part_in(tmp_path)) == PAYLOAD
    assert server.requests == [Seen("bytes=1000-", "identity", 200)]


def test_a_partial_file_longer_than_the_archive_is_discarded(tmp_path: Path) -> None:
    part_in(tmp_path).write_bytes(PAYLOAD + b"junk")
    with FileServer(PAYLOAD) as server:
        assert get(server, part_in(tmp_path)) == PAYLOAD
    assert [(r.range, r.status) for r in server.requests] == [
        (f"bytes={len(PAYLOAD) + 4}-", 416),
        (None, 200),
    ]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(tmp_path: Path, status: int) -> None:
    with FileServer(PAYLOAD, Script(fail_first=2, fail_status=status)) as server:
        assert get(server, part_in(tmp_path)) == PAYLOAD
    assert [r.status for r in server.requests] == [status, status, 200]


def retry_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "imdb_sentiment.data.transfer"]


def test_retries_back_off_exponentially_then_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    retry = RetryPolicy(attempts=3, backoff_s=0.1, timeout_s=5.0)
    with (
        FileServer(PAYLOAD, Script(fail_first=99)) as server,
        pytest.raises(
            DownloadError,
            match=r"cannot download .*: HTTP 503 Service Unavailable \(3 tries\); try again later",
        ),
        caplog.at_level(logging.WARNING),
    ):
        get(server, part_in(tmp_path), retry)
    assert len(server.requests) == 3
    waits = [m.split("; ")[-1] for m in retry_messages(caplog)]
    assert waits == ["try 2 of 3 in 0.1 s", "try 3 of 3 in 0.2 s"]


def test_a_malformed_url_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"cannot download http://: InvalidURL; check IMDB_URL"):
        download("http://", part_in(tmp_path), LIMITS, FAST)


def test_a_missing_file_fails_at_once(tmp_path: Path) -> None:
    with (
        FileServer(PAYLOAD) as server,
        pytest.raises(DownloadError, match=r"cannot download .*: HTTP 404 .*; check IMDB_URL"),
    ):
        download(server.url + ".missing", part_in(tmp_path), LIMITS, FAST)
    assert len(server.requests) == 1


def test_dropped_connections_are_retried(tmp_path: Path) -> None:
    with FileServer(PAYLOAD, Script(drop_first=2)) as server:
        assert get(server, part_in(tmp_path)) == PAYLOAD
    assert [r.status for r in server.requests] == [0, 0, 200]


def test_a_server_that_does_not_answer_times_out_and_is_retried(tmp_path: Path) -> None:
    limits = TransferLimits(4 << 20, 1000, speed_window_seconds=0.3, deadline_seconds=20)
    with FileServer(PAYLOAD, Script(stall_first=1, stall_s=10)) as server:
        assert get(server, part_in(tmp_path), limits=limits) == PAYLOAD
    assert [r.status for r in server.requests] == [0, 200]


def test_an_unreachable_host_gets_one_quick_retry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/aclImdb_v1.tar.gz"
    retry = RetryPolicy(attempts=5, backoff_s=0.01, timeout_s=5.0)
    with (
        pytest.raises(
            DownloadError,
            match=r"cannot reach 127\.0\.0\.1:\d+ \(Connection refused, 2 tries\); check the net"
            r".*set IMDB_URL to a mirror or a local copy and IMDB_SHA256 to its checksum",
        ),
        caplog.at_level(logging.WARNING),
    ):
        download(url, part_in(tmp_path), LIMITS, retry)
    assert len(retry_messages(caplog)) == 1


def test_a_tls_failure_is_not_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with (
        FileServer(PAYLOAD) as server,  # plain HTTP: the TLS handshake fails
        pytest.raises(DownloadError, match="TLS failed"),
        caplog.at_level(logging.WARNING),
    ):
        download(server.url.replace("http:", "https:"), part_in(tmp_path), LIMITS, FAST)
    assert retry_messages(caplog) == []


@pytest.mark.parametrize("encoding", ["mislabel", "negotiate"])
def test_the_archive_is_stored_as_served_whatever_its_content_encoding(
    tmp_path: Path, encoding: str
) -> None:
    with FileServer(PAYLOAD, Script(encoding=encoding)) as server:
        assert get(server, part_in(tmp_path)) == PAYLOAD
    assert server.requests[0].accept_encoding == "identity"


# Limits: what a server may cost in disk and time.


def test_a_body_without_a_length_is_read_to_its_end(tmp_path: Path) -> None:
    with FileServer(PAYLOAD, Script(length=False)) as server:
        assert get(server, part_in(tmp_path)) == PAYLOAD


def test_a_body_without_a_length_stops_at_max_bytes_and_is_deleted(tmp_path: Path) -> None:
    """The 600 MB-in-a-second server, scaled down: 3 MB offered, 256 KiB allowed."""
    limits = replace(LIMITS, max_bytes=256 << 10)
    with (
        FileServer(PAYLOAD, Script(length=False, pad_to=3 << 20)) as server,
        pytest.raises(
            DownloadError,
            match=r"sent more, over download\.max_bytes \(262,144\); nothing kept; .*"
            r"raise download\.max_bytes if the archive is really this large",
        ),
    ):
        get(server, part_in(tmp_path), limits=limits)
    assert not part_in(tmp_path).exists()
    assert len(server.requests) == 1  # not retried


@pytest.mark.parametrize("held", [0, 1000])
def test_a_content_length_over_max_bytes_is_refused_before_a_byte_is_written(
    tmp_path: Path, held: int
) -> None:
    if held:
        part_in(tmp_path).write_bytes(PAYLOAD[:held])
    limits = replace(LIMITS, max_bytes=100_000)
    with (
        FileServer(PAYLOAD) as server,
        pytest.raises(
            DownloadError, match=r"is 512,000 bytes, over download\.max_bytes \(100,000\)"
        ),
    ):
        get(server, part_in(tmp_path), limits=limits)
    assert not part_in(tmp_path).exists()  # a resumed file's size counts from byte 0
    assert len(server.requests) == 1


def test_a_lying_content_length_is_refused_at_once(tmp_path: Path) -> None:
    start = time.monotonic()
    with (
        FileServer(PAYLOAD, Script(claim_length=10**12, delay_s=0.5)) as server,
        pytest.raises(DownloadError, match=r"is 1,000,000,000,000 bytes, over download\.max"),
    ):
        get(server, part_in(tmp_path))
    assert time.monotonic() - start < 1.0
    assert not part_in(tmp_path).exists()


def test_a_server_sending_one_byte_a_second_fails_within_the_window(tmp_path: Path) -> None:
    limits = replace(LIMITS, speed_window_seconds=1.5)
    start = time.monotonic()
    with (
        FileServer(PAYLOAD, Script(chunk=1, delay_s=1.0)) as server,
        pytest.raises(
            DownloadError,
            match=r"too slow: [12] bytes/s over 1\.5 s, below download\.min_bytes_per_second "
            r"\(1,000\); [234] of 512,000 bytes kept in .*; rerun to resume, or lower",
        ),
    ):
        get(server, part_in(tmp_path), limits=limits)
    assert time.monotonic() - start < 1.5 + 1.5  # the window, and the byte that closed it
    assert len(server.requests) == 1  # a link this slow is not retried
    kept = part_in(tmp_path).read_bytes()
    assert kept == PAYLOAD[: len(kept)] and 2 <= len(kept) <= 4  # for a rerun to resume


@pytest.mark.parametrize(
    ("cut_at", "phrase"),
    [
        (0, r"cannot download .*: stalled: no data for 0\.3 s \(2 tries\); try again later"),
        (100_000, r"truncated at 100000 of 512000 bytes \(stalled: no data for 0\.3 s, 2 tries\)"),
    ],
)
def test_a_server_that_stalls_after_the_headers_is_called_stalled(
    tmp_path: Path, cut_at: int, phrase: str
) -> None:
    limits = replace(LIMITS, speed_window_seconds=0.3)
    retry = RetryPolicy(attempts=2, backoff_s=0.01, timeout_s=5.0)
    start = time.monotonic()
    with (
        FileServer(PAYLOAD, Script(cut_at=cut_at, cut_stalls=True, stall_s=10)) as server,
        pytest.raises(DownloadError, match=phrase + r".*raise download\.speed_window_seconds"),
    ):
        get(server, part_in(tmp_path), retry, limits)
    assert time.monotonic() - start < 2 * 0.3 + 1.0
    assert len(server.requests) == 2


def test_the_deadline_stops_a_transfer_fast_enough_for_the_window(tmp_path: Path) -> None:
    limits = replace(LIMITS, deadline_seconds=1.0)
    start = time.monotonic()
    slow = Script(chunk=4096, delay_s=0.05)  # 80 kB/s: above the minimum, 6 s for the file
    with (
        FileServer(PAYLOAD, slow) as server,
        pytest.raises(
            DownloadError,
            match=r"did not finish within download\.deadline_seconds \(1 s\); [\d,]+ of 512,000 "
            r"bytes kept in .*; rerun to resume, or raise download\.deadline_seconds",
        ),
    ):
        get(server, part_in(tmp_path), limits=limits)
    assert 1.0 <= time.monotonic() - start < 1.5
    assert 0 < part_in(tmp_path).stat().st_size < len(PAYLOAD)


def test_a_deadline_seen_as_the_watchdog_fires_still_names_the_files_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transfer loop sees the deadline and the watchdog fires before the error is handled:
    the message keeps "N of SIZE bytes" (a race a loaded machine once lost)."""

    def expired_as_it_fires(clock: TransferClock) -> bool:
        if clock.left() > 0.3:  # the loop notices first; the watchdog fires as it does
            return clock.fired
        clock._fire()
        return True

    monkeypatch.setattr(TransferClock, "expired", expired_as_it_fires)
    limits = replace(LIMITS, deadline_seconds=1.0)
    with (
        FileServer(PAYLOAD, Script(chunk=4096, delay_s=0.05)) as server,
        pytest.raises(DownloadError, match=r"\(1 s\); [\d,]+ of 512,000 bytes kept in "),
    ):
        get(server, part_in(tmp_path), limits=limits)


def test_the_deadline_holds_while_a_server_trickles_its_headers(tmp_path: Path) -> None:
    """A byte every 0.05 s restarts any per-read timeout: only the watchdog stops this."""
    limits = replace(LIMITS, deadline_seconds=1.0)
    start = time.monotonic()
    with (
        FileServer(PAYLOAD, Script(header_delay_s=0.05)) as server,
        pytest.raises(
            DownloadError,
            match=r"did not finish within download\.deadline_seconds \(1 s\); 0 bytes kept",
        ),
    ):
        get(server, part_in(tmp_path), limits=limits)
    assert time.monotonic() - start < 1.5
    assert len(server.requests) == 1


def test_the_deadline_covers_retries_and_their_backoff(tmp_path: Path) -> None:
    limits = replace(LIMITS, deadline_seconds=1.0)
    retry = RetryPolicy(attempts=10, backoff_s=0.4, timeout_s=5.0)
    start = time.monotonic()
    with (
        FileServer(PAYLOAD, Script(fail_first=99)) as server,
        pytest.raises(
            DownloadError,
            match=r"did not finish within download\.deadline_seconds \(1 s\) \(HTTP 503 Service "
            r"Unavailable\); 0 bytes kept",
        ),
    ):
        get(server, part_in(tmp_path), retry, limits)
    assert time.monotonic() - start < 1.0  # the 0.8 s wait would have ended past it
    assert len(server.requests) == 2


# Credentials in the URL reach the server, never a log line or an error.

SECRETS = ("pa55word", "t0ken", "s1gnature")


def secret_url(server_url: str) -> str:
    with_user = server_url.replace("http://", "http://alice:pa55word@")
    return f"{with_user}?token=t0ken&X-Amz-Signature=s1gnature&v=1"


@pytest.mark.parametrize(
    ("script", "limits"),
    [
        (Script(fail_first=1, cut_at=200_000, cut_responses=1), LIMITS),  # retried, resumed: ok
        (Script(fail_first=99), LIMITS),
        (Script(cut_at=1000), LIMITS),
        (Script(fail_first=1, fail_status=404), LIMITS),
        (Script(cut_at=0, cut_stalls=True), replace(LIMITS, speed_window_seconds=0.3)),
        (Script(chunk=1, delay_s=0.3), replace(LIMITS, speed_window_seconds=0.5)),
        (Script(), replace(LIMITS, max_bytes=1000)),
        (Script(length=False), replace(LIMITS, max_bytes=1000)),
        (Script(delay_s=0.2), replace(LIMITS, deadline_seconds=0.5)),
    ],
)
def test_credentials_in_the_url_are_used_but_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, script: Script, limits: TransferLimits
) -> None:
    shown: list[str] = []
    with FileServer(PAYLOAD, script) as server, caplog.at_level(logging.INFO):
        try:
            download(secret_url(server.url), part_in(tmp_path), limits, FAST)
        except DownloadError as exc:
            shown.append(str(exc))
    shown += [record.getMessage() for record in caplog.records]
    assert shown, "nothing logged or raised: the test would prove nothing"
    assert "***@127.0.0.1" in "\n".join(shown)
    for secret in SECRETS:
        assert secret not in "\n".join(shown)
    assert server.requests[0].authorization == "Basic YWxpY2U6cGE1NXdvcmQ="  # alice:pa55word


def test_an_unreachable_host_is_named_without_its_credentials(tmp_path: Path) -> None:
    url = f"http://alice:pa55word@127.0.0.1:{closed_port()}/a.tar.gz?token=t0ken"
    with pytest.raises(DownloadError, match=r"cannot reach 127\.0\.0\.1:\d+ \(") as caught:
        download(url, part_in(tmp_path), LIMITS, FAST)
    assert not any(secret in str(caught.value) for secret in SECRETS)
