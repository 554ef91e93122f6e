"""The champion, used as users would: `imdb-sentiment predict` and `mlflow models serve`."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.servers import LOOPBACK, Server, free_port, stop_group
from imdb_sentiment.tracking.names import CHAMPION_URI
from tests.conftest import tiny_params
from tests.factory import NEGATIVE, POSITIVE
from tests.pipeline.stages import (
    make_workspace,
    run_evaluate,
    run_promote,
    run_train,
    run_validate,
)

BIN = Path(sys.executable).parent
POSITIVE_REVIEW = " ".join(POSITIVE[:4]) + " film"
NEGATIVE_REVIEW = " ".join(NEGATIVE[:4]) + " film"


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory, archives: dict) -> Path:
    """A project checkout whose MLflow store (its mlflow.db) holds a promoted champion."""
    root = tmp_path_factory.mktemp("checkout")
    (root / ".dvc").mkdir()
    (root / "dvc.yaml").write_text("stages: {}\n")
    params = tiny_params()
    params["train"]["fit"]["epochs"] = 6  # enough to learn the tiny reviews' cue words
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    path, sha = archives["labeled"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("IMDB_URL", str(path))
        env.setenv("IMDB_SHA256", sha)
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        paths = make_workspace(root, root / "params.yaml")
        for stage in (run_validate, run_train, run_evaluate, run_promote):
            assert stage(paths) == 0, stage.__name__
    assert json.loads(paths["promotion"].read_text())["decision"] == "promoted"
    return root


def user_env() -> dict[str, str]:
    """A fresh shell's environment: no tracking URI, so the checkout's store is the default."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3"}


def predict(checkout: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "imdb-sentiment"), "predict", *args],
        cwd=checkout / "models",  # a subdirectory: the checkout is found above it
        env=user_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.slow
def test_predict_labels_reviews_from_arguments_a_file_and_stdin(checkout: Path) -> None:
    result = predict(checkout, POSITIVE_REVIEW, NEGATIVE_REVIEW)
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [label for label, _ in lines] == ["positive", "negative"]
    assert float(lines[0][1]) > 0.5 > float(lines[1][1])

    reviews = checkout / "reviews.txt"
    reviews.write_text(f"{NEGATIVE_REVIEW}\n{POSITIVE_REVIEW}\n", encoding="utf-8")
    from_file = predict(checkout, "--file", str(reviews), "--json")
    rows = [json.loads(line) for line in from_file.stdout.splitlines()]
    assert [row["label"] for row in rows] == ["negative", "positive"], from_file.stderr
    assert rows[1]["probability"] == pytest.approx(float(lines[0][1]), abs=1e-4)

    from_stdin = predict(checkout, "--file", "-", stdin=f"{POSITIVE_REVIEW}\n")
    assert from_stdin.stdout.split("\t")[0] == "positive", from_stdin.stderr


@pytest.mark.slow
def test_predict_without_a_champion_says_how_to_get_one(tmp_path: Path) -> None:
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "models").mkdir()
    result = predict(tmp_path, "a review")
    assert result.returncode == 1
    err = result.stderr.strip().splitlines()
    assert err == [
        f"imdb-sentiment: error: no MLflow store at {tmp_path.resolve() / 'mlflow.db'} (no runs "
        "or models yet); run this in the project's checkout after `dvc repro`, or set "
        "MLFLOW_TRACKING_URI to the store to use"
    ]
    assert not result.stdout and not (tmp_path / "mlflow.db").exists()


@pytest.fixture(scope="module")
def server(checkout: Path) -> Iterator[str]:
    """`mlflow models serve` of the champion on a loopback port; stopped afterwards."""
    port = free_port()
    log = checkout / "serve.log"
    command = [str(BIN / "mlflow"), "models", "serve", "-m", CHAMPION_URI]
    command += ["--env-manager", "local", "--host", LOOPBACK, "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=checkout,
            env={**user_env(), "MLFLOW_TRACKING_URI": f"sqlite:///{checkout / 'mlflow.db'}"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers too are stopped with the group
        )
    try:
        yield Server(f"http://{LOOPBACK}:{port}", process, log).wait_until_up()
    finally:
        stop_group(process)


def invoke(url: str, payload: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_server_answers_a_list_of_reviews(server: str) -> None:
    status, body = invoke(server, {"inputs": [POSITIVE_REVIEW, NEGATIVE_REVIEW]})
    assert status == 200, body
    assert [row["label"] for row in body["predictions"]] == ["positive", "negative"]
    assert all(0 <= row["probability"] <= 1 for row in body["predictions"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"inputs": [POSITIVE_REVIEW, ""]}, "review 2 is empty"),
        ({"inputs": ["   "]}, "review 1 is empty"),
        ({"inputs": []}, "no reviews given"),
        ({"inputs": [POSITIVE_REVIEW, 5]}, "Expected type str, but got int"),
        ({"inputs": [None]}, "Expected type str, but got NoneType"),
        ({"inputs": [["nested", "list"]]}, "Expected type str, but got list"),
        ({"inputs": {"text": [POSITIVE_REVIEW]}}, "Expected list"),
        ({"dataframe_records": [{"text": POSITIVE_REVIEW}]}, "'inputs' key"),
    ],
    ids=["empty", "blank", "none", "number", "null", "nested", "object", "dataframe"],
)
def test_server_refuses_what_is_not_a_list_of_review_texts_with_a_400(
    server: str, payload: dict, message: str
) -> None:
    status, body = invoke(server, payload)
    assert status == 400, body
    assert message in body["message"]


CAPS = tiny_params()["serve"]  # what evaluate baked into the champion
MAX_REVIEWS, MAX_CHARS = CAPS["max_reviews_per_request"], CAPS["max_chars_per_review"]


def padded(review: str, length: int) -> str:
    """`review` grown to exactly `length` characters by repeating its words."""
    return (review + " ") * (length // (len(review) + 1)) + "x" * (length % (len(review) + 1))


@pytest.mark.slow
def test_server_scores_a_request_at_both_caps(server: str) -> None:
    reviews = [POSITIVE_REVIEW if i % 2 else NEGATIVE_REVIEW for i in range(MAX_REVIEWS - 1)]
    reviews.append(padded(POSITIVE_REVIEW, MAX_CHARS))
    assert len(reviews[-1]) == MAX_CHARS
    status, body = invoke(server, {"inputs": reviews})
    assert status == 200, body
    labels = [row["label"] for row in body["predictions"]]
    assert labels[:-1] == ["positive" if i % 2 else "negative" for i in range(MAX_REVIEWS - 1)]


@pytest.mark.slow
def test_server_refuses_a_request_over_a_cap_with_a_short_400(server: str) -> None:
    too_many = [POSITIVE_REVIEW] * (MAX_REVIEWS + 1)
    too_long = [NEGATIVE_REVIEW, padded(POSITIVE_REVIEW, MAX_CHARS + 1)]
    for reviews, message in [
        (
            too_many,
            f"{MAX_REVIEWS + 1:,} reviews in one request; this model takes at most "
            f"{MAX_REVIEWS:,} (serve.max_reviews_per_request): send fewer at once",
        ),
        (
            too_long,
            f"review 2 has {MAX_CHARS + 1:,} characters; this model takes at most "
            f"{MAX_CHARS:,} (serve.max_chars_per_review): shorten it",
        ),
    ]:
        status, body = invoke(server, {"inputs": reviews})
        assert (status, body["message"]) == (400, message)  # not the whole request echoed


@pytest.mark.slow
def test_predict_applies_the_models_caps_in_one_line(checkout: Path) -> None:
    reviews = checkout / "too_many.txt"
    reviews.write_text(f"{POSITIVE_REVIEW}\n" * (MAX_REVIEWS + 1), encoding="utf-8")
    result = predict(checkout, "--file", str(reviews))
    assert result.returncode == 1 and not result.stdout
    ours = [line for line in result.stderr.splitlines() if line.startswith("imdb-sentiment")]
    assert ours == [  # TensorFlow's start-up notes aside
        f"imdb-sentiment: error: {MAX_REVIEWS + 1:,} reviews in one request; this model takes "
        f"at most {MAX_REVIEWS:,} (serve.max_reviews_per_request): send fewer at once"
    ]
    assert "Traceback" not in result.stderr


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """A raw POST to /invocations: only `headers` are sent (no default Content-Type)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        connection.putrequest("POST", "/invocations")
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.slow
def test_the_scoring_servers_own_limits_as_docs_serving_states(server: str) -> None:
    """What MLflow's server does with hostile bodies (docs/serving.md: put a proxy in front)."""
    json_type = {"Content-Type": "application/json"}
    body = json.dumps({"inputs": [POSITIVE_REVIEW]}).encode()
    no_type = post(server, body, {})
    csv = post(server, body, {"Content-Type": "text/csv"})
    nested = post(server, b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", json_type)
    junk = b"not json " + b"x" * 1_000_000
    echoed = post(server, junk, json_type)
    assert no_type == (500, b"Internal Server Error")
    assert csv[0] == 400 and b'"stack_trace": "Traceback' in csv[1]  # internals shown
    assert nested == (500, b"Internal Server Error")
    assert echoed[0] == 400 and len(echoed[1]) > len(junk)  # the whole body, echoed
    long_review = padded(POSITIVE_REVIEW, 100_000)
    status, typed = invoke(server, {"inputs": [long_review, 5]})  # MLflow's own type check
    assert status == 400 and long_review in typed["message"]  # the whole input, echoed
