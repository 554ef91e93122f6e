"""URLs fit to print: credentials and signed-link secrets masked, the rest kept as it was."""

from __future__ import annotations

import pytest

from imdb_sentiment.redact import is_secret_name, redact_url, redact_urls


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pa55@host/a.tgz", "https://***@host/a.tgz"),
        ("https://ghp_TOKEN@host:8443/a.tgz", "https://***@host:8443/a.tgz"),  # a bare token
        ("https://u:p%40ss@host/a.tgz", "https://***@host/a.tgz"),
        ("https://host/a.tgz?token=t0k&v=1", "https://host/a.tgz?token=***&v=1"),
        (
            "https://b.s3.amazonaws.example/a.tgz?X-Amz-Credential=AKIA%2F&X-Amz-Date=20260101"
            "&X-Amz-Signature=abc123",
            "https://b.s3.amazonaws.example/a.tgz?X-Amz-Credential=***&X-Amz-Date=***"
            "&X-Amz-Signature=***",
        ),
        (
            "https://acct.blob.example/c/a.tgz?sv=2024&sig=Zm9v%3D",
            "https://acct.blob.example/c/a.tgz?sv=2024&sig=***",
        ),
        (
            "https://host/a.tgz?access_token=x#id_token=y",
            "https://host/a.tgz?access_token=***#id_token=***",
        ),
        (
            "https://host/a.tgz?Signature=s&Key-Pair-Id=k&Policy=p",
            "https://host/a.tgz?Signature=***&Key-Pair-Id=***&Policy=***",
        ),
        (
            "https://host/a.tgz?api_key=k&apikey=k&password=p",
            "https://host/a.tgz?api_key=***&apikey=***&password=***",
        ),
        ("https://host/a%20b.tgz?v=1&mirror=eu", "https://host/a%20b.tgz?v=1&mirror=eu"),  # as is
        ("http://[::1:8000/a.tgz?token=t", "http://[::1:8000/a.tgz?token=***"),  # unparsable
        ("http://u:p@[::1:8000/a.tgz", "http://***@[::1:8000/a.tgz"),
    ],
)
def test_secrets_in_a_url_are_masked(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "path",
    ["/data/aclImdb_v1.tar.gz", "../shared/data/a.tar.gz", "C:/data/a.tgz", "file:///d/a.tgz"],
)
def test_local_paths_are_left_alone(path: str) -> None:
    assert redact_url(path) == path


def test_secret_names() -> None:
    assert all(map(is_secret_name, ["TOKEN", "x-goog-signature", "client_secret", "sig"]))
    assert not any(map(is_secret_name, ["v", "sv", "mirror", "response-content-type"]))


def test_redact_urls_masks_every_url_in_a_line_and_keeps_the_rest() -> None:
    line = (
        "ERROR: failed - https://u:p@host.invalid/a?token=x&v=1 "
        "(see [log](http://me:pw@ci.invalid/run)) sqlite:////abs/mlflow.db done"
    )
    assert redact_urls(line) == (
        "ERROR: failed - https://***@host.invalid/a?token=***&v=1 "
        "(see [log](http://***@ci.invalid/run)) sqlite:////abs/mlflow.db done"
    )
    assert redact_urls("no URL: a:// here") == "no URL: a:// here"
