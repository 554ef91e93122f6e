"""The resumable transfer: cut, stalled, refused and failing downloads, and what is retried."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from imdb_sentiment.data.transfer import DownloadError, RetryPolicy, download
from tests.httpserver import FileServer, Script, Seen, closed_port

PAYLOAD = bytes(range(256)) * 2000  # 512 KB: many writes, so a cut lands mid-file
FAST = RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=5.0)


def part_in(folder: Path) -> Path:
    return folder / "archive.tar.gz.part"


def get(server: FileServer, part: Path, retry: RetryPolicy = FAST) -> bytes:
    """What `download` leaves in `part`."""
    download(server.url, part, retry)
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
        download("http://", part_in(tmp_path), FAST)


def test_a_missing_file_fails_at_once(tmp_path: Path) -> None:
    with (
        FileServer(PAYLOAD) as server,
        pytest.raises(DownloadError, match=r"cannot download .*: HTTP 404 .*; check IMDB_URL"),
    ):
        download(server.url + ".missing", part_in(tmp_path), FAST)
    assert len(server.requests) == 1


def test_dropped_connections_are_retried(tmp_path: Path) -> None:
    with FileServer(PAYLOAD, Script(drop_first=2)) as server:
        assert get(server, part_in(tmp_path)) == PAYLOAD
    assert [r.status for r in server.requests] == [0, 0, 200]


def test_a_server_that_does_not_answer_times_out_and_is_retried(tmp_path: Path) -> None:
    retry = RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=0.3)
    with FileServer(PAYLOAD, Script(stall_first=1, stall_s=10)) as server:
        assert get(server, part_in(tmp_path), retry) == PAYLOAD
    assert [r.status for r in server.requests] == [0, 200]


def test_an_unreachable_host_gets_one_quick_retry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/aclImdb_v1.tar.gz"
    retry = RetryPolicy(attempts=5, backoff_s=0.01, timeout_s=5.0)
    with (
        pytest.raises(
            DownloadError,
            match=r"cannot reach 127\.0\.0\.1:\d+ \(Connection refused, 2 tries\); check the net",
        ),
        caplog.at_level(logging.WARNING),
    ):
        download(url, part_in(tmp_path), retry)
    assert len(retry_messages(caplog)) == 1


def test_a_tls_failure_is_not_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with (
        FileServer(PAYLOAD) as server,  # plain HTTP: the TLS handshake fails
        pytest.raises(DownloadError, match="TLS failed"),
        caplog.at_level(logging.WARNING),
    ):
        download(server.url.replace("http:", "https:"), part_in(tmp_path), FAST)
    assert retry_messages(caplog) == []


@pytest.mark.parametrize("encoding", ["mislabel", "negotiate"])
def test_the_archive_is_stored_as_served_whatever_its_content_encoding(
    tmp_path: Path, encoding: str
) -> None:
    with FileServer(PAYLOAD, Script(encoding=encoding)) as server:
        assert get(server, part_in(tmp_path)) == PAYLOAD
    assert server.requests[0].accept_encoding == "identity"
