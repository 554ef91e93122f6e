"""Finding, fetching, caching and verifying the archive."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import pytest

from imdb_sentiment.data.source import (
    DownloadError,
    Source,
    cache_dir,
    fetch,
    local_path,
    read_source_record,
    remove_stale_parts,
    resolve_source,
    write_source_record,
)
from imdb_sentiment.data.transfer import RetryPolicy
from imdb_sentiment.data.transfer_limits import TransferLimits
from tests.httpserver import FileServer, Script

SHA_A = "a" * 64
PAYLOAD = bytes(range(256)) * 100
SHA = hashlib.sha256(PAYLOAD).hexdigest()
FAST = RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=5.0)
LIMITS = TransferLimits(
    max_bytes=1 << 20, min_bytes_per_second=1000, speed_window_seconds=2, deadline_seconds=20
)


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
    assert fetch(Source(str(archive), good), cache, LIMITS) == archive
    with pytest.raises(DownloadError, match=f"expected {SHA_A}, got {good}"):
        fetch(Source(str(archive), SHA_A), cache, LIMITS)
    with pytest.raises(DownloadError, match="archive not found"):
        fetch(Source(str(tmp_path / "missing.tgz"), good), cache, LIMITS)
    assert archive.read_bytes() == b"payload"  # a user's own file is never deleted
    assert not cache.exists()  # nor copied


def get(server: FileServer, cache: Path, sha: str = SHA, retry: RetryPolicy = FAST) -> Path:
    return fetch(Source(server.url, sha), cache, LIMITS, retry)


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


def test_a_relative_path_not_found_says_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's mirror path is relative: the error says from which folder it was read."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        DownloadError,
        match=rf"archive not found: \.\./m/a\.tgz \(from {re.escape(str(tmp_path))}: "
        rf"{re.escape(str(tmp_path))}/\.\./m/a\.tgz\)",
    ):
        fetch(Source("../m/a.tgz", SHA), tmp_path / "cache", LIMITS)


def test_errors_and_logs_about_a_url_never_show_its_credentials(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        FileServer(PAYLOAD) as server,
        caplog.at_level("INFO"),
        pytest.raises(DownloadError, match=r"sha256 mismatch for http://\*\*\*@127") as caught,
    ):
        url = server.url.replace("//", "//u:pa55word@") + "?sig=s1gnature"
        fetch(Source(url, SHA_A), tmp_path, LIMITS, FAST)
    with pytest.raises(DownloadError, match=r"unsupported URL scheme 'ftp' in 'ftp://\*\*\*@h/a'"):
        local_path("ftp://u:pa55word@h/a")
    text = str(caught.value) + "".join(r.getMessage() for r in caplog.records)
    assert "pa55word" not in text and "s1gnature" not in text


# Partial downloads left in the cache by killed or failed runs.


def touch(path: Path, size: int, age_s: float = 0.0) -> Path:
    path.write_bytes(b"x" * size)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_partial_downloads_of_other_archives_go_once_stale(tmp_path: Path) -> None:
    keep = touch(part_of(tmp_path), 100, age_s=10 * 86400)  # this archive's: resumed, however old
    stale = touch(part_of(tmp_path, "b" * 64), 100, age_s=3601)
    live = touch(part_of(tmp_path, "c" * 64), 100, age_s=5)  # maybe another run's, writing now
    other = [
        touch(tmp_path / f"{'d' * 64}.tar.gz", 100, age_s=10 * 86400),  # a whole archive
        touch(tmp_path / "notes.tar.gz.part", 100, age_s=10 * 86400),  # not a name we make
    ]
    assert remove_stale_parts(tmp_path, keep, max_bytes=1000) == [stale]
    assert sorted(tmp_path.iterdir()) == sorted([keep, live, *other])


def test_a_partial_download_larger_than_max_bytes_goes(tmp_path: Path) -> None:
    keep = touch(part_of(tmp_path), 1001)
    assert remove_stale_parts(tmp_path, keep, max_bytes=1000) == [keep]
    assert remove_stale_parts(tmp_path / "missing", keep, max_bytes=1000) == []


def test_a_fetch_clears_stale_partial_files_first(tmp_path: Path) -> None:
    stale = touch(part_of(tmp_path, "b" * 64), 600_000, age_s=7200)
    oversized = touch(part_of(tmp_path), LIMITS.max_bytes + 1)  # resumed, it could never fit
    with FileServer(PAYLOAD) as server:
        assert get(server, tmp_path).read_bytes() == PAYLOAD
    assert not stale.exists() and not oversized.exists()
    assert [r.range for r in server.requests] == [None]  # started over, not resumed
    assert [p.name for p in tmp_path.iterdir()] == [f"{SHA}.tar.gz"]


def test_a_body_over_max_bytes_leaves_no_partial_file(tmp_path: Path) -> None:
    with (
        FileServer(PAYLOAD, Script(length=False, pad_to=3 << 20)) as server,
        pytest.raises(DownloadError, match=r"over download\.max_bytes \(1,048,576\)"),
    ):
        get(server, tmp_path)
    assert list(tmp_path.iterdir()) == []


# The effective source: what the stage used, recorded for the runs that train on it.


def test_the_source_record_holds_the_redacted_url_and_the_checked_sha(tmp_path: Path) -> None:
    record = tmp_path / "source.json"
    write_source_record(Source("https://u:pw@host/a.tgz?token=t&v=2", SHA), record)
    assert read_source_record(record) == Source("https://***@host/a.tgz?token=***&v=2", SHA)
    assert "pw" not in record.read_text()
    record.write_text('{"url": "x"}')
    with pytest.raises(DownloadError, match="not a source record; rerun the download stage"):
        read_source_record(record)
