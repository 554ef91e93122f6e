"""The tracking-server preflight (check_tracking_server) against a real loopback server."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from imdb_sentiment.tracking.preflight import TrackingServerError, check_tracking_server
from tests.httpserver import FileServer, Script, closed_port

SEARCH = "api/2.0/mlflow/experiments/search"
ANSWER = json.dumps({"experiments": [{"experiment_id": "0", "name": "Default"}]}).encode()
TIMEOUT_S = 2.0


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets: no credentials from the environment or ~/.mlflow."""
    for name in (
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_INSECURE_TLS",
        "MLFLOW_TRACKING_SERVER_CERT_PATH",
        "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def test_a_working_server_passes_with_one_request() -> None:
    with FileServer(ANSWER, name=SEARCH) as server:
        check_tracking_server(server.base_url, TIMEOUT_S)
    assert [seen.status for seen in server.requests] == [200]


def test_credentials_from_the_environment_are_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ci")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret")
    with FileServer(ANSWER, name=SEARCH) as server:
        check_tracking_server(server.base_url + "/", TIMEOUT_S)
    expected = "Basic " + base64.b64encode(b"ci:s3cret").decode()
    assert server.requests[0].authorization == expected


def test_a_token_is_sent_as_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok")
    with FileServer(ANSWER, name=SEARCH) as server:
        check_tracking_server(server.base_url, TIMEOUT_S)
    assert server.requests[0].authorization == "Bearer tok"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "401/403: check MLFLOW_TRACKING_USERNAME/PASSWORD"),
        (403, "401/403: check MLFLOW_TRACKING_USERNAME/PASSWORD"),
        (500, "is failing"),
        (503, "is failing"),
    ],
)
def test_refusals_and_server_errors_fail_at_once_naming_the_uri(status: int, message: str) -> None:
    script = Script(fail_first=100, fail_status=status)
    with (
        FileServer(ANSWER, script, name=SEARCH) as server,
        pytest.raises(TrackingServerError, match=message) as error,
    ):
        check_tracking_server(server.base_url, TIMEOUT_S)
    assert server.base_url in str(error.value) and f"HTTP {status}" in str(error.value)
    assert len(server.requests) == 1  # no retries: MLflow's client would try 8 times
    assert "\n" not in str(error.value)


def test_a_closed_port_is_unreachable() -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(TrackingServerError, match="unreachable") as error:
        check_tracking_server(uri, TIMEOUT_S)
    assert uri in str(error.value) and "MLFLOW_TRACKING_URI" in str(error.value)


def test_a_silent_server_times_out() -> None:
    script = Script(stall_first=1, stall_s=10)
    with (
        FileServer(ANSWER, script, name=SEARCH) as server,
        pytest.raises(TrackingServerError, match=r"did not answer within 0\.3 s"),
    ):
        check_tracking_server(server.base_url, timeout_s=0.3)


@pytest.mark.parametrize(
    ("name", "payload"),
    [("elsewhere", ANSWER), (SEARCH, b"<html>a login page</html>")],
)
def test_something_that_is_not_mlflow_is_named_as_such(name: str, payload: bytes) -> None:
    with (
        FileServer(payload, name=name) as server,
        pytest.raises(
            TrackingServerError, match="does not answer as an MLflow tracking server"
        ) as error,
    ):
        check_tracking_server(server.base_url, TIMEOUT_S)
    assert server.base_url in str(error.value)


def test_a_password_in_the_uri_is_not_printed() -> None:
    uri = f"http://ci:s3cret@127.0.0.1:{closed_port()}"
    with pytest.raises(TrackingServerError) as error:
        check_tracking_server(uri, TIMEOUT_S)
    assert "s3cret" not in str(error.value) and "127.0.0.1" in str(error.value)


@pytest.mark.parametrize("uri", ["sqlite:////nonexistent/mlflow.db", "file:///nonexistent"])
def test_local_stores_need_no_server(uri: str) -> None:
    check_tracking_server(uri, TIMEOUT_S)  # no request, no error
