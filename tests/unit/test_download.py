from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from imdb_sentiment.download import DownloadError, Source, fetch, local_path, resolve_source

SHA_A = "a" * 64


def test_environment_overrides_params() -> None:
    src = resolve_source(
        "https://x/a.tgz", SHA_A, {"IMDB_URL": "/m/a.tgz", "IMDB_SHA256": "B" * 64}
    )
    assert src == Source("/m/a.tgz", "b" * 64)
    assert resolve_source("https://x/a.tgz", SHA_A, {}) == Source("https://x/a.tgz", SHA_A)


def test_malformed_checksum_is_rejected() -> None:
    with pytest.raises(DownloadError, match="not 64 hex characters"):
        resolve_source("u", "abc", {})


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
    assert fetch(Source(str(archive), good), tmp_path) == archive
    with pytest.raises(DownloadError, match=f"expected {SHA_A}, got {good}"):
        fetch(Source(str(archive), SHA_A), tmp_path)
    with pytest.raises(DownloadError, match="archive not found"):
        fetch(Source(str(tmp_path / "missing.tgz"), good), tmp_path)


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on loopback serving tmp_path/served."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", served
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_http_download_streams_and_verifies(http_root: tuple[str, Path], tmp_path: Path) -> None:
    base, served = http_root
    payload = bytes(range(256)) * 5000
    (served / "a.tgz").write_bytes(payload)
    work = tmp_path / "work"
    work.mkdir()
    path = fetch(Source(f"{base}/a.tgz", hashlib.sha256(payload).hexdigest()), work)
    assert path.read_bytes() == payload
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        fetch(Source(f"{base}/a.tgz", SHA_A), work)


def test_http_errors_are_one_clear_line(http_root: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = http_root
    with pytest.raises(DownloadError, match=r"cannot download .*HTTPError.*IMDB_URL"):
        fetch(Source(f"{base}/missing.tgz", SHA_A), tmp_path)
