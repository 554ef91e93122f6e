"""The champion, used as users would: `imdb-sentiment predict` and `mlflow models serve`."""

from __future__ import annotations

import ast
import http.client
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.servers import LOOPBACK, Server, free_port, responds_ok, stop_group
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
def test_predict_gives_the_served_models_probabilities_without_importing_tensorflow(
    checkout: Path,
) -> None:
    """The numpy forward pass answers as the pyfunc `mlflow models serve` loads, to 1e-6."""
    from imdb_sentiment.registry.text_model import load_text_model

    reviews = [
        POSITIVE_REVIEW,
        NEGATIVE_REVIEW,
        "words this vocabulary never saw",
        " ".join([NEGATIVE_REVIEW] * 5 + [POSITIVE_REVIEW] * 5),  # past maxlen: cut in front
    ]
    command = [sys.executable, "-X", "importtime", "-m", "imdb_sentiment.cli", "predict"]
    result = subprocess.run(
        [*command, "--json", *reviews],
        cwd=checkout / "models",
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {
        line.rpartition("|")[2].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "mlflow" in imported and "h5py" in imported  # the check reads what was imported
    assert not imported & {"tensorflow", "keras", "jax", "torch"}
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    served = load_text_model(f"sqlite:///{checkout / 'mlflow.db'}", CHAMPION_URI).predict(reviews)
    assert [row["label"] for row in rows] == [answer.label for answer in served]
    expected = [answer.probability for answer in served]
    assert [row["probability"] for row in rows] == pytest.approx(expected, rel=0, abs=1e-6)


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


REFUSED_PAYLOADS = {  # id: (payload, what the 400's message says)
    "empty": ({"inputs": [POSITIVE_REVIEW, ""]}, "review 2 is empty"),
    "blank": ({"inputs": ["   "]}, "review 1 is empty"),
    "none": ({"inputs": []}, "no reviews given"),
    "number": ({"inputs": [POSITIVE_REVIEW, 5]}, "Expected type str, but got int"),
    "null": ({"inputs": [None]}, "Expected type str, but got NoneType"),
    "nested": ({"inputs": [["nested", "list"]]}, "Expected type str, but got list"),
    "object": ({"inputs": {"text": [POSITIVE_REVIEW]}}, "Expected list"),
    "dataframe": ({"dataframe_records": [{"text": POSITIVE_REVIEW}]}, "'inputs' key"),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("payload", "message"), list(REFUSED_PAYLOADS.values()), ids=list(REFUSED_PAYLOADS)
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


def store_env(checkout: Path) -> dict[str, str]:
    """The user's environment with the checkout's store exported, as MLflow's CLI needs."""
    store = f"sqlite:///{checkout / 'mlflow.db'}"
    return {**user_env(), "MLFLOW_TRACKING_URI": store, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "0"}


# Loads the model as the image's server does (from its directory, MLflow's loader) and prints
# the bundled package's location and the distributions of every module the process imported.
IMPORTS_OF_A_SERVED_MODEL = """
import json, sys
import mlflow
model = mlflow.pyfunc.load_model(sys.argv[1])
answers = model.predict([sys.argv[2]])
ours = [m for name, m in list(sys.modules.items()) if name.startswith("imdb_sentiment")]
files = [getattr(m, "__file__", None) for m in ours]
print(json.dumps({"loaded": sorted(f for f in files if f), "label": answers[0].label}))
"""


def module_level_imports(path: Path) -> set[str]:
    """The top-level names a module imports when it loads (not in functions or TYPE_CHECKING)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", "imdb_sentiment"}


def installed_closure(requirements: list[str]) -> set[str]:
    """The distributions pip installs for `requirements`, read from this environment's metadata."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [Requirement(line) for line in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        extras = {"", *requirement.extras}
        try:
            needs = importlib.metadata.requires(requirement.name) or []
        except importlib.metadata.PackageNotFoundError:  # not here (gevent): nothing imports it
            continue
        for line in needs:
            dependency = Requirement(line)
            marker = dependency.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras):
                todo.append(dependency)
    return seen


@pytest.mark.slow
def test_the_generated_dockerfile_serves_the_champion_with_what_it_imports(
    checkout: Path, tmp_path: Path
) -> None:
    """`mlflow models generate-dockerfile`, run for real: the image docs/serving.md describes."""
    from mlflow import MlflowClient

    from imdb_sentiment.registry.text_model import serving_requirements

    context = tmp_path / "image"
    command = [str(BIN / "mlflow"), "models", "generate-dockerfile", "-m", CHAMPION_URI]
    result = subprocess.run(
        [*command, "-d", str(context)],
        cwd=checkout,
        env=store_env(checkout),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dockerfile = (context / "Dockerfile").read_text()
    model_dir = context / "model_dir"
    python = yaml.safe_load((model_dir / "python_env.yaml").read_text())["python"]
    mlflow_pin = f"mlflow=={importlib.metadata.version('mlflow')}"
    # The model's own Python and this MLflow; the model copied in, its pins installed, served
    # as a python_function by MLflow's container entry point on port 8080.
    assert f"FROM python:{python}-slim\n" in dockerfile
    assert f"RUN pip install {mlflow_pin}\n" in dockerfile
    assert "COPY model_dir /opt/ml/model\n" in dockerfile
    assert "C._install_pyfunc_deps('/opt/ml/model', install_mlflow=False, env_manager='local')" in (
        dockerfile
    )
    entrypoint = "from mlflow.models import container as C; C._serve('local')"
    assert dockerfile.rstrip().endswith(f'ENTRYPOINT ["python", "-c", "{entrypoint}"]')

    champion = MlflowClient(store_env(checkout)["MLFLOW_TRACKING_URI"]).get_model_version_by_alias(
        "imdb-sentiment", "champion"
    )
    meta = yaml.safe_load((model_dir / "registered_model_meta").read_text())
    assert meta == {"model_name": "imdb-sentiment", "model_version": int(champion.version)}
    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text())
    assert champion.source == f"models:/{mlmodel['model_id']}"  # the version's logged model
    pyfunc = mlmodel["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    assert pyfunc["code"] == "code" and (model_dir / "code" / "imdb_sentiment").is_dir()
    requirements = (model_dir / "requirements.txt").read_text().split()
    assert requirements == [mlflow_pin, *serving_requirements()]

    assert_serving_imports_are_installed(model_dir, requirements)


def assert_serving_imports_are_installed(model_dir: Path, requirements: list[str]) -> None:
    """What the image installs covers what serving imports; the tokenizer comes from the copy
    of this package in the image's model directory, which no requirement installs."""
    from packaging.utils import canonicalize_name

    loaded = subprocess.run(
        [sys.executable, "-c", IMPORTS_OF_A_SERVED_MODEL, str(model_dir), POSITIVE_REVIEW],
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    report = json.loads(loaded.stdout.splitlines()[-1])
    assert report["label"] == "positive"
    loaded_files = [Path(file) for file in report["loaded"]]
    assert loaded_files and all(f.is_relative_to(model_dir / "code") for f in loaded_files)
    # MLflow and Keras import optional packages (psutil, tqdm, jax...) only where installed:
    # what must be installed is what the package's modules import as they load, and Keras.
    imported = {"keras"}.union(*(module_level_imports(file) for file in loaded_files))
    assert {"mlflow", "numpy", "pydantic", "yaml"} <= imported
    distributions = importlib.metadata.packages_distributions()
    installed = installed_closure([*requirements, "gunicorn[gevent]"])
    missing = [
        name
        for name in sorted(imported)
        if not {canonicalize_name(d) for d in distributions.get(name, [name])} & installed
    ]
    assert not missing, f"imported when serving, installed by no requirement: {missing}"


def docker_unavailable() -> str | None:
    """Why no image can be built and run here, or None when a Docker daemon answers."""
    if shutil.which("docker") is None:
        return "no `docker` command on PATH"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "no Docker daemon: `docker info` did not answer in 60 s"
    if info.returncode != 0:
        said = (info.stderr or info.stdout).strip().splitlines() or [f"exit {info.returncode}"]
        return f"no Docker daemon: `docker info` failed ({said[-1].strip()})"
    return None


@pytest.fixture(scope="module")
def image_server(checkout: Path) -> Iterator[str]:
    """`mlflow models build-docker` of the champion, run on a loopback port; removed after."""
    reason = docker_unavailable()
    if reason is not None:
        pytest.skip(reason)
    image = f"imdb-sentiment-test-{os.getpid()}"
    build = [str(BIN / "mlflow"), "models", "build-docker", "-m", CHAMPION_URI, "-n", image]
    subprocess.run(build, cwd=checkout, env=store_env(checkout), check=True, timeout=3600)
    port = free_port()
    run = ["docker", "run", "-d", "--rm", "-p", f"{LOOPBACK}:{port}:8080", image]
    container = subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()
    try:
        url = f"http://{LOOPBACK}:{port}"
        deadline = time.monotonic() + 300
        while not responds_ok(f"{url}/ping"):
            assert time.monotonic() < deadline, "the image's server did not answer /ping"
            time.sleep(1)
        yield url
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
        subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True, check=False)


@pytest.mark.slow
def test_the_serving_image_answers_as_mlflow_models_serve(image_server: str, server: str) -> None:
    """The same payloads as the tests above: the same status and body from both servers."""
    reviews = [POSITIVE_REVIEW if i % 2 else NEGATIVE_REVIEW for i in range(1000)]
    payloads = [{"inputs": [POSITIVE_REVIEW, NEGATIVE_REVIEW]}, {"inputs": reviews}]
    payloads += [payload for payload, _ in REFUSED_PAYLOADS.values()]
    for payload in payloads:
        from_image, from_serve = invoke(image_server, payload), invoke(server, payload)
        assert from_image[0] == from_serve[0], (payload, from_image)
        if from_serve[0] == 200:
            assert from_image == from_serve
        else:
            assert from_image[1]["message"] == from_serve[1]["message"]
