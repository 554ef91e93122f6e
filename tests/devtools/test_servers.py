"""Dev servers: the health probe that `wait_until_up` polls."""

from __future__ import annotations

from devtools.servers import responds_ok
from tests.httpserver import FileServer, Script, closed_port


def test_a_server_answering_200_responds_ok() -> None:
    with FileServer(b"ok") as server:
        assert responds_ok(server.url)


def test_an_error_status_or_no_server_is_not_ok() -> None:
    with FileServer(b"ok", Script(fail_first=1)) as server:
        assert not responds_ok(server.url)
    assert not responds_ok(f"http://127.0.0.1:{closed_port()}/health")
