from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from imdb_sentiment.data.source import (
    DownloadError,
    Source,
    cache_dir,
    fetch,
    local_path,
    resolve_source,
)
from imdb_sentiment.data.transfer import RetryPolicy
from tests.httpserver import FileServer, Script, Seen, closed_port

SHA_A = "a" * 64
PAYLOAD = bytes(range(256)) * 2000  # 512 KB: many writes, so a cut lands mid-file
SHA = hashlib.sha256(PAYLOAD).hexdigest()
FAST = RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=5.0)


def test_environment_overrides_params() -> None:
    src = resolve_source(
        "https://x/a.tgz", SHA_A, {"IMDB_URL": "/m/a.tgz", "IMDB_SHA256": "B" * 64}
    )
    assert src == Source("/m/a.tgz", "b" * 64)
    assert resolve_source("https://x/a.tgz", SHA_A, {}) == Source("https://x/a.tgz", SHA_A)


def test_malformed_checksum_is_rejected() -> None:
    with pytest.raises(DownloadError, match="not 64 hex characters"):
        resolve_source("u", "abc", {})


def test_cache_dir_defaults_to_the_user_cache_and_follows_the_environment() -> None:
    assert cache_dir({}) == Path.home() / ".cache" / "imdb-sentiment" / "downloads"
    assert cache_dir({"IMDB_CACHE_DIR": "/srv/cache"}) == Path("/srv/cache")


def test_local_path_forms() -> None:
    assert local_path("/data/a.tgz") == Path("/data/a.tgz")
    assert local_path("file:///data/a%20b.tgz") == Path("/data/a b.tgz")
    assert local_path("https://host/a.tgz") is None
    with pytest.raises(DownloadError, match="unsupported URL scheme 'ftp'"):
        local_path("ftp://host/a.tgz")


def test_local_archive_is_verified(tmp_path: Path) -> None:
    archive = tmp_path / "a.tgz"
    archive.write_bytes(b"payload")
    good = hashlib.sha256(b"payload").hexdigest()
    cache = tmp_path / "cache"
    assert fetch(Source(str(archive), good), cache) == archive
    with pytest.raises(DownloadError, match=f"expected {SHA_A}, got {good}"):
        fetch(Source(str(archive), SHA_A), cache)
    with pytest.raises(DownloadError, match="archive not found"):
        fetch(Source(str(tmp_path / "missing.tgz"), good), cache)
    assert archive.read_bytes() == b"payload"  # a user's own file is never deleted
    assert not cache.exists()  # nor copied


def get(server: FileServer, cache: Path, sha: str = SHA, retry: RetryPolicy = FAST) -> Path:
    return fetch(Source(server.url, sha), cache, retry)


def part_of(cache: Path, sha: str = SHA) -> Path:
    return cache / f"{sha}.tar.gz.part"


def test_a_download_is_verified_kept_in_the_cache_and_reused(tmp_path: Path) -> None:
    with FileServer(PAYLOAD) as server:
        path = get(server, tmp_path)
        assert path == tmp_path / f"{SHA}.tar.gz"
        assert path.read_bytes() == PAYLOAD
        assert get(server, tmp_path) == path
    assert len(server.requests) == 1  # the second fetch never asked the server
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_cached_archive_is_verified_again_and_replaced_when_damaged(tmp_path: Path) -> None:
    with FileServer(PAYLOAD) as server:
        get(server, tmp_path).write_bytes(b"bit rot")
        assert get(server, tmp_path).read_bytes() == PAYLOAD
    assert len(server.requests) == 2


def test_a_checksum_mismatch_deletes_the_download(tmp_path: Path) -> None:
    with (
        FileServer(PAYLOAD) as server,
        pytest.raises(DownloadError, match=f"sha256 mismatch .*expected {SHA_A}, got {SHA}"),
    ):
        get(server, tmp_path, sha=SHA_A)
    assert list(tmp_path.iterdir()) == []  # the next run starts clean


def test_a_cache_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file, not a folder")
    with (
        FileServer(PAYLOAD) as server,
        pytest.raises(DownloadError, match=r"cannot write the download to .*IMDB_CACHE_DIR"),
    ):
        get(server, cache)
    assert server.requests == []


def test_a_cut_transfer_resumes_within_the_run(tmp_path: Path) -> None:
    with FileServer(PAYLOAD, Script(cut_at=200_000, cut_responses=1)) as server:
        assert get(server, tmp_path).read_bytes() == PAYLOAD
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
            get(server, tmp_path)
        assert len(server.requests) == FAST.attempts
        held = part_of(tmp_path).stat().st_size
        assert 0 < held <= 200_000
        server.script = Script()  # the link is back
        assert get(server, tmp_path).read_bytes() == PAYLOAD
    assert server.requests[-1] == Seen(f"bytes={held}-", "identity", 206)
    assert not part_of(tmp_path).exists()


def test_a_server_ignoring_the_range_makes_the_rerun_start_over(tmp_path: Path) -> None:
    part_of(tmp_path).write_bytes(b"x" * 1000)  # appended to, it would fail the sha256
    with FileServer(PAYLOAD, Script(ranges=False)) as server:
        assert get(server, tmp_path).read_bytes() == PAYLOAD
    assert server.requests == [Seen("bytes=1000-", "identity", 200)]


def test_a_partial_file_longer_than_the_archive_is_discarded(tmp_path: Path) -> None:
    part_of(tmp_path).write_bytes(PAYLOAD + b"junk")
    with FileServer(PAYLOAD) as server:
        assert get(server, tmp_path).read_bytes() == PAYLOAD
    assert [(r.range, r.status) for r in server.requests] == [
        (f"bytes={len(PAYLOAD) + 4}-", 416),
        (None, 200),
    ]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(tmp_path: Path, status: int) -> None:
    with FileServer(PAYLOAD, Script(fail_first=2, fail_status=status)) as server:
        assert get(server, tmp_path).read_bytes() == PAYLOAD
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
        get(server, tmp_path, retry=retry)
    assert len(server.requests) == 3
    waits = [m.split("; ")[-1] for m in retry_messages(caplog)]
    assert waits == ["try 2 of 3 in 0.1 s", "try 3 of 3 in 0.2 s"]


def test_a_malformed_url_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"cannot download http://: InvalidURL; check IMDB_URL"):
        fetch(Source("http://", SHA), tmp_path, FAST)


def test_a_missing_file_fails_at_once(tmp_path: Path) -> None:
    with (
        FileServer(PAYLOAD) as server,
        pytest.raises(DownloadError, match=r"cannot download .*: HTTP 404 .*; check IMDB_URL"),
    ):
        fetch(Source(server.url + ".missing", SHA), tmp_path, FAST)
    assert len(server.requests) == 1


def test_dropped_connections_are_retried(tmp_path: Path) -> None:
    with FileServer(PAYLOAD, Script(drop_first=2)) as server:
        assert get(server, tmp_path).read_bytes() == PAYLOAD
    assert [r.status for r in server.requests] == [0, 0, 200]


def test_a_server_that_does_not_answer_times_out_and_is_retried(tmp_path: Path) -> None:
    retry = RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=0.3)
    with FileServer(PAYLOAD, Script(stall_first=1, stall_s=10)) as server:
        assert get(server, tmp_path, retry=retry).read_bytes() == PAYLOAD
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
        fetch(Source(url, SHA), tmp_path, retry)
    assert len(retry_messages(caplog)) == 1


def test_a_tls_failure_is_not_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with (
        FileServer(PAYLOAD) as server,  # plain HTTP: the TLS handshake fails
        pytest.raises(DownloadError, match="TLS failed"),
        caplog.at_level(logging.WARNING),
    ):
        fetch(Source(server.url.replace("http:", "https:"), SHA), tmp_path, FAST)
    assert retry_messages(caplog) == []


@pytest.mark.parametrize("encoding", ["mislabel", "negotiate"])
def test_the_archive_is_stored_as_served_whatever_its_content_encoding(
    tmp_path: Path, encoding: str
) -> None:
    with FileServer(PAYLOAD, Script(encoding=encoding)) as server:
        assert get(server, tmp_path).read_bytes() == PAYLOAD
    assert server.requests[0].accept_encoding == "identity"
