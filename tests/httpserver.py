"""A loopback HTTP server for one file, scripted to misbehave the ways real servers do.

Range requests (`bytes=N-`), throttling, error statuses, dropped connections, stalls and
cut-short bodies, bodies without a Content-Length or longer than the file, and lying
Content-Lengths; it records every request so tests can assert on what the client sent.
It listens on 127.0.0.1 only, and every body it can send is bounded (`Script.pad_to`).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import re
import socket
import threading
from dataclasses import dataclass, field
from types import TracebackType


@dataclass
class Script:
    """How the server answers. Request numbers count from 0 over the server's lifetime."""

    fail_first: int = 0  # the first N requests get `fail_status`
    fail_status: int = 503
    drop_first: int = 0  # the first N requests see the connection closed, no answer
    stall_first: int = 0  # the first N requests get no answer: held open for `stall_s`, closed
    stall_s: float = 2.0
    cut_at: int | None = None  # bodies stop at this byte of the file, then the connection closes
    cut_responses: int | None = None  # how many bodies are cut short (None: every one)
    cut_stalls: bool = False  # True: at `cut_at` the body stalls (held `stall_s`), then closes
    ranges: bool = True  # honour `Range: bytes=N-` with 206; False: always 200, whole file
    chunk: int = 1 << 14  # bytes per write
    delay_s: float = 0.0  # pause after each write: a slow link
    # "mislabel": send the file as is but say Content-Encoding: gzip (a common misconfiguration);
    # "negotiate": gzip it once more when the client accepts gzip.
    encoding: str | None = None
    length: bool = True  # False: no Content-Length, the body ends when the connection closes
    claim_length: int | None = None  # a Content-Length to announce instead of the true one
    pad_to: int | None = None  # the body repeats the file up to this many bytes (a bomb)
    header_delay_s: float = 0.0  # pause after each byte of the status line and headers


@dataclass(frozen=True)
class Seen:
    """One request: its Range, Accept-Encoding and Authorization headers, the status (0: none)."""

    range: str | None
    accept_encoding: str | None
    status: int
    authorization: str | None = None


@dataclass
class FileServer:
    """`with FileServer(payload) as server:` serves `payload` at `server.url` on 127.0.0.1."""

    payload: bytes
    script: Script = field(default_factory=Script)
    name: str = "aclImdb_v1.tar.gz"
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._arrived = 0
        self._cut = 0
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self  # type: ignore[attr-defined]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/{self.name}"

    def ranges_asked(self) -> list[str]:
        return [r.range for r in self.requests if r.range is not None]

    def __enter__(self) -> FileServer:
        # A short poll interval: shutdown() waits for it.
        serve = functools.partial(self._httpd.serve_forever, poll_interval=0.02)
        threading.Thread(target=serve, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()  # wakes stalled handlers
        self._httpd.shutdown()
        self._httpd.server_close()

    def _arrive(self) -> int:
        with self._lock:
            self._arrived += 1
            return self._arrived - 1

    def _record(self, handler: _Handler, status: int) -> None:
        headers = handler.headers
        seen = Seen(
            headers.get("Range"),
            headers.get("Accept-Encoding"),
            status,
            headers.get("Authorization"),
        )
        with self._lock:
            self.requests.append(seen)

    def _take_cut(self) -> bool:
        with self._lock:
            limit = self.script.cut_responses
            if self.script.cut_at is None or (limit is not None and self._cut >= limit):
                return False
            self._cut += 1
            return True


class _Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, closed after the answer, as a cut body needs.

    def do_GET(self) -> None:
        # The client may go away (killed, or timed out): nothing to clean up then.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(self.server.owner)  # type: ignore[attr-defined]

    def _answer(self, owner: FileServer) -> None:
        script = owner.script
        number = owner._arrive()
        if self.path.partition("?")[0] != f"/{owner.name}":  # a query string is no other file
            owner._record(self, 404)
            self.send_error(404)
        elif number < script.fail_first:
            owner._record(self, script.fail_status)
            self.send_error(script.fail_status)
        elif number < script.drop_first:
            owner._record(self, 0)
            self.close_connection = True
        elif number < script.stall_first:
            owner._record(self, 0)
            owner._stop.wait(script.stall_s)  # a hung server: hold the connection, say nothing
            self.close_connection = True
        else:
            self._send_file(owner, script)

    def _send_file(self, owner: FileServer, script: Script) -> None:
        start = _range_start(self.headers.get("Range")) if script.ranges else None
        size = len(owner.payload)
        if start is not None and start >= size:
            owner._record(self, 416)
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = owner.payload[start or 0 :]
        if script.pad_to is not None:
            body = (body * (script.pad_to // max(len(body), 1) + 1))[: script.pad_to]
        accepts_gzip = "gzip" in (self.headers.get("Accept-Encoding") or "")
        if script.encoding == "negotiate" and accepts_gzip:
            body = gzip.compress(body)
        status = 200 if start is None else 206
        owner._record(self, status)
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        if script.encoding == "mislabel" or (script.encoding == "negotiate" and accepts_gzip):
            self.send_header("Content-Encoding", "gzip")
        if script.length:
            self.send_header("Content-Length", str(script.claim_length or len(body)))
        if script.header_delay_s:
            self._trickle_headers(owner, script.header_delay_s)
        self.end_headers()
        stop = len(body)
        cut = owner._take_cut()
        if cut:
            assert script.cut_at is not None
            stop = max(0, script.cut_at - (start or 0))
        for i in range(0, stop, script.chunk):
            self.wfile.write(body[i : min(i + script.chunk, stop)])
            self.wfile.flush()
            if script.delay_s and owner._stop.wait(script.delay_s):
                return
        if cut and script.cut_stalls:
            owner._stop.wait(script.stall_s)  # headers (and maybe some bytes) sent, then silence

    def _trickle_headers(self, owner: FileServer, delay_s: float) -> None:
        """Send what is buffered of the status line and headers, a byte at a time."""
        head = b"".join(self._headers_buffer)  # type: ignore[attr-defined]
        self._headers_buffer = []
        for i in range(len(head)):
            self.wfile.write(head[i : i + 1])
            if owner._stop.wait(delay_s):
                return

    def log_message(self, format: str, *args: object) -> None:
        pass  # tests read `requests`, not the log


def _range_start(header: str | None) -> int | None:
    match = re.fullmatch(r"bytes=(\d+)-", header or "")
    return int(match[1]) if match else None


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
