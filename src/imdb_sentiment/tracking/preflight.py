"""One cheap request before a stage's work: is the tracking server there and ours to use?"""

from __future__ import annotations

import urllib.parse

from imdb_sentiment.errors import PipelineError
from imdb_sentiment.tracking.store_file import check_store_file


class TrackingServerError(PipelineError):
    """The tracking server cannot take runs: down, failing, refusing us, or not MLflow."""


# A cheap call that, unlike /health, goes through the server's authentication.
_PREFLIGHT_ENDPOINT = "/api/2.0/mlflow/experiments/search"


PREFLIGHT_TIMEOUT_S = 10.0


_UNREACHABLE_FIX = (
    "start the server, or fix MLFLOW_TRACKING_URI (unset it to use the checkout's mlflow.db)"
)


def check_store(uri: str, must_exist: bool = False) -> None:
    """An entry point's start-up check of the store at `uri`: a server that answers as
    MLflow (`check_tracking_server`), or a sound sqlite file (`check_store_file`; one that
    `must_exist` for a command that only reads).
    """
    if is_tracking_server(uri):
        check_tracking_server(uri)
    else:
        check_store_file(uri, must_exist)


def is_tracking_server(uri: str) -> bool:
    return urllib.parse.urlsplit(uri).scheme in ("http", "https")


def check_tracking_server(uri: str, timeout_s: float = PREFLIGHT_TIMEOUT_S) -> None:
    """Raise TrackingServerError at once if the http(s) store `uri` cannot take our runs.

    MLflow's client retries a dead server for minutes (MLFLOW_HTTP_REQUEST_MAX_RETRIES 7 with
    exponential backoff, MLFLOW_HTTP_REQUEST_TIMEOUT 120 s each), so a stage would find out
    only after its work. This is one request, no retries, with MLflow's own credentials
    (MLFLOW_TRACKING_USERNAME/PASSWORD or _TOKEN, ~/.mlflow/credentials, the TLS settings).
    Other stores (sqlite, a folder) need no server: nothing to check.
    """
    if not is_tracking_server(uri):
        return
    import requests

    from imdb_sentiment.tracking.store import server_request_options

    shown = printable_uri(uri)
    request = server_request_options(uri)
    url = uri.rstrip("/") + _PREFLIGHT_ENDPOINT
    try:
        answer = requests.get(url, params={"max_results": 1}, timeout=timeout_s, **request)
    except requests.exceptions.SSLError as exc:
        raise TrackingServerError(
            f"MLflow tracking server {shown}: TLS failed ({_reason(exc)}); check "
            "MLFLOW_TRACKING_SERVER_CERT_PATH (or MLFLOW_TRACKING_INSECURE_TLS) and the URI"
        ) from exc
    except requests.Timeout as exc:
        raise TrackingServerError(
            f"MLflow tracking server {shown} did not answer within {timeout_s:g} s; "
            + _UNREACHABLE_FIX
        ) from exc
    except requests.RequestException as exc:
        raise TrackingServerError(
            f"MLflow tracking server {shown} is unreachable ({_reason(exc)}); " + _UNREACHABLE_FIX
        ) from exc
    _check_answer(shown, answer.status_code, answer.reason, answer.text)


def _check_answer(shown: str, status: int, reason: str, body: str) -> None:
    said = f"HTTP {status} {reason}".strip()
    if status in (401, 403):
        raise TrackingServerError(
            f"MLflow tracking server {shown} refused access ({said}); "
            "401/403: check MLFLOW_TRACKING_USERNAME/PASSWORD (or MLFLOW_TRACKING_TOKEN)"
        )
    if status >= 500:
        raise TrackingServerError(
            f"MLflow tracking server {shown} is failing ({said}); fix the server (see its "
            "log) or point MLFLOW_TRACKING_URI at a working one"
        )
    if status == 429:
        raise TrackingServerError(
            f"MLflow tracking server {shown} is rate-limiting us ({said}); try again later"
        )
    if status != 200 or not _is_json_object(body):
        raise TrackingServerError(
            f"{shown} does not answer as an MLflow tracking server ({said} on "
            f"{_PREFLIGHT_ENDPOINT}); set MLFLOW_TRACKING_URI to the server's base URL"
        )


def _is_json_object(text: str) -> bool:
    import json

    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _reason(exc: BaseException) -> str:
    """The innermost cause, e.g. "Connection refused", not urllib3's pool repr."""
    while (inner := exc.__cause__ or exc.__context__) is not None:
        exc = inner
    return getattr(exc, "strerror", None) or (str(exc).splitlines() or [type(exc).__name__])[0]


def printable_uri(uri: str) -> str:
    """`uri` fit to print: no user:password@ part."""
    parts = urllib.parse.urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
