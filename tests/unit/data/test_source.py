"""Finding, fetching, caching and verifying the archive."""

from __future__ import annotations

import hashlib
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
from tests.httpserver import FileServer

SHA_A = "a" * 64
PAYLOAD = bytes(range(256)) * 100
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
