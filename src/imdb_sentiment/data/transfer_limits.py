"""What one transfer may cost: its size, its speed over each window, and a deadline that holds
even while a read is blocked (a watchdog shuts the transfer's sockets when it passes)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


@dataclass(frozen=True)
class TransferLimits:
    """The `download.*` params of the same names, which the messages name."""

    max_bytes: int  # the whole file: a larger Content-Length is refused, a longer body deleted
    min_bytes_per_second: int  # averaged over each window of a body
    speed_window_seconds: float  # also the longest wait for the response or for a next byte
    deadline_seconds: float  # the whole transfer, every try and wait included


class TransferClock:
    """One transfer's deadline and the speed of the body being read.

    `with clock:` arms the watchdog; `clock.session()` is the HTTP session whose sockets it
    shuts at the deadline. A per-read timeout cannot stop a server that trickles a byte at a
    time (each byte restarts it), in the headers as in the body; the watchdog can.
    """

    def __init__(self, limits: TransferLimits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.deadline_seconds
        self.fired = False  # the watchdog shut the sockets: whatever failed next, it was this
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(limits.deadline_seconds, self._fire)
        self._timer.daemon = True
        self.start_window()

    def __enter__(self) -> TransferClock:
        self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._timer.cancel()

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        return self.fired or self.left() <= 0

    def start_window(self) -> None:
        self._since, self._bytes = time.monotonic(), 0

    def slow_rate(self, size: int) -> float | None:
        """Count `size` bytes; the window's rate (bytes/s) once a full window fell short."""
        self._bytes += size
        elapsed = time.monotonic() - self._since
        if elapsed < self.limits.speed_window_seconds:
            return None
        rate = self._bytes / elapsed
        self.start_window()
        return rate if rate < self.limits.min_bytes_per_second else None

    def session(self) -> requests.Session:
        """A session whose every connection the watchdog can shut."""
        session = requests.Session()
        adapter = _WatchedAdapter(self._opened)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def _opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    # shutdown, not close: it wakes a recv blocked in another thread, which then sees EOF.
    # socket.socket's own method, so a TLS socket keeps its state for that thread's read.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter, with connections that report their socket once connected."""

    def __init__(self, opened: Callable[[socket.socket], None]) -> None:
        self._opened = opened  # before super().__init__, which builds the pool manager
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]
        self.poolmanager.pool_classes_by_scheme = {
            "http": _watched_pool(HTTPConnectionPool, self._opened),
            "https": _watched_pool(HTTPSConnectionPool, self._opened),
        }


def _watched_pool(
    pool: type[HTTPConnectionPool], opened: Callable[[socket.socket], None]
) -> type[HTTPConnectionPool]:
    base = pool.ConnectionCls

    class WatchedConnection(base):  # type: ignore[valid-type, misc]
        def connect(self) -> None:
            super().connect()
            opened(self.sock)  # for https, the TLS socket: shutting it ends the TLS read too

    return type(f"Watched{pool.__name__}", (pool,), {"ConnectionCls": WatchedConnection})
