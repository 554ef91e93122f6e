"""MLflow plumbing: where the store is, how runs are tagged, per-epoch metric logging."""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import subprocess
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from imdb_sentiment.errors import PipelineError

log = logging.getLogger(__name__)

EXPERIMENT = "imdb-sentiment"
# The registered model that promoted runs become versions of, and the alias serving uses.
REGISTERED_MODEL = "imdb-sentiment"
CHAMPION = "champion"
CHAMPION_URI = f"models:/{REGISTERED_MODEL}@{CHAMPION}"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
# `dvc exp run --queue/--temp` runs stages in a copy of the repo under .dvc/tmp/exps/.
_DVC_TEMP_EXPS = os.path.join(".dvc", "tmp", "exps")
# Training backups: DVC's scratch space, never an output, and shared by its temp copies.
_BACKUPS = os.path.join(".dvc", "tmp", "train-backups")
_STORE_ID = "store-id"
# Tags that let a later run find the attempts that died without ending their MLflow run.
BACKUP_KEY_TAG = "train.backup_key"
BACKUP_STORE_TAG = "train.backup_store"
BACKUP_LOCK_TAG = "train.backup_lock"


def project_root(cwd: Path | None = None) -> Path:
    """The user's checkout, also when DVC runs us inside a temporary copy of it."""
    cwd = (cwd or Path.cwd()).resolve()
    parts = cwd.parts
    marker = Path(_DVC_TEMP_EXPS).parts
    for i in range(len(parts) - len(marker) + 1):
        if parts[i : i + len(marker)] == marker:
            return Path(*parts[:i])
    return cwd


def tracking_uri(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> str:
    """MLFLOW_TRACKING_URI if set, else an absolute sqlite store at the project root."""
    env = os.environ if environ is None else environ
    if env.get(TRACKING_URI_ENV):
        return env[TRACKING_URI_ENV]
    return f"sqlite:///{project_root(cwd) / 'mlflow.db'}"


def find_checkout(cwd: Path | None = None) -> Path | None:
    """The project checkout holding `cwd` (a folder with dvc.yaml and .dvc/), or None."""
    cwd = (cwd or Path.cwd()).resolve()
    for directory in (cwd, *cwd.parents):
        if (directory / "dvc.yaml").is_file() and (directory / ".dvc").is_dir():
            return directory
    return None


class TrackingServerError(PipelineError):
    """The tracking server cannot take runs: down, failing, refusing us, or not MLflow."""


# A cheap call that, unlike /health, goes through the server's authentication.
_PREFLIGHT_ENDPOINT = "/api/2.0/mlflow/experiments/search"
PREFLIGHT_TIMEOUT_S = 10.0
_UNREACHABLE_FIX = (
    "start the server, or fix MLFLOW_TRACKING_URI (unset it to use the checkout's mlflow.db)"
)


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
    from mlflow.utils.credentials import get_default_host_creds

    shown = printable_uri(uri)
    creds = get_default_host_creds(uri)
    request: dict[str, Any] = {"verify": creds.verify, "cert": creds.client_cert_path}
    if creds.username and creds.password:
        request["auth"] = (creds.username, creds.password)
    elif creds.token:
        request["headers"] = {"Authorization": f"Bearer {creds.token}"}
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


def backup_root(cwd: Path | None = None) -> Path:
    """Where training backups live: outside DVC's outputs, at the user's checkout."""
    return project_root(cwd) / _BACKUPS


def backup_store_id(root: Path) -> str:
    """A random id naming the backup folder `root`, created on first use.

    Runs tagged with it used lock files in this very folder (not one at the same path on
    another machine), so only their locks say whether their process is still alive.
    """
    path = root / _STORE_ID
    if not path.is_file():
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{_STORE_ID}.{uuid.uuid4().hex}"
        tmp.write_text(uuid.uuid4().hex, encoding="utf-8")
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text(encoding="utf-8").strip()


def fail_dead_runs(experiment_id: str, store_id: str, is_dead: Callable[[str], bool]) -> list[Any]:
    """Mark FAILED the RUNNING runs of backup store `store_id` whose process died.

    A process killed outright (SIGKILL, the OOM killer, a lost machine) never ends its MLflow
    run. `is_dead` gets a run's lock path. Returns the runs marked, as they were found.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    running = client.search_runs(
        [experiment_id],
        filter_string=(
            f"attributes.status = 'RUNNING' and tags.`{BACKUP_STORE_TAG}` = '{store_id}'"
        ),
    )
    dead = [run for run in running if is_dead(run.data.tags.get(BACKUP_LOCK_TAG, ""))]
    for run in dead:
        client.set_terminated(run.info.run_id, "FAILED")
        log.warning("MLflow run %s died without ending: marked FAILED", run.info.run_id)
    return dead


def setup_experiment(uri: str, cwd: Path | None = None) -> str:
    """Point MLflow at `uri` and return the experiment id, creating the experiment if needed."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        # MLflow's default (./mlruns) follows the cwd: a temp-copy run would lose its artifacts.
        # They go beside the database instead, so a store is one folder, wherever it is.
        database = project_root(cwd) / uri.removeprefix("sqlite:///")  # absolute stays as is
        location = (database.parent / "mlartifacts").as_uri()
    return mlflow.create_experiment(EXPERIMENT, artifact_location=location)


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def file_md5(path: Path) -> str:
    """The same digest DVC records for a file in dvc.lock."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def lineage_tags(paths: list[Path]) -> dict[str, str]:
    """`dvc.md5.<path>`: each file's md5, the digest dvc.lock records for that output.

    Paths are as the stages name them (relative to the repository root), so a tag reads
    like the dvc.lock line it matches.
    """
    return {f"dvc.md5.{path.as_posix()}": file_md5(path) for path in paths}


def run_tags(data_files: Mapping[str, Path], cwd: Path | None = None) -> dict[str, str]:
    """Lineage: the commit, whether the tree was dirty, the DVC experiment, the data digests."""
    tags = {f"data.md5.{name}": file_md5(path) for name, path in data_files.items()}
    commit = git_output(["rev-parse", "HEAD"], cwd)
    if commit:
        tags["mlflow.source.git.commit"] = commit
        tags["git.dirty"] = str(bool(git_output(["status", "--porcelain", *_SOURCE_CHANGES], cwd)))
    exp_name = os.environ.get("DVC_EXP_NAME")
    if exp_name:
        tags["dvc.exp_name"] = exp_name
    # MLflow's generated names come from `random`, which training seeds: every run would be
    # called the same. The DVC experiment's name, or the commit and time, tell runs apart.
    tags["mlflow.runName"] = exp_name or workspace_run_name(commit)
    baseline = os.environ.get("DVC_EXP_BASELINE_REV")
    if baseline:
        tags["dvc.baseline_rev"] = baseline
    return tags


# "Dirty" means code or params differ from the commit. `dvc repro` itself rewrites dvc.lock
# and the git-tracked outputs (reports/, models/*.json) before `train` runs: not counted.
_SOURCE_CHANGES = [
    "--untracked-files=no",
    "--",
    ".",
    ":(exclude)dvc.lock",
    ":(exclude)reports",
    ":(exclude)models",
]


def workspace_run_name(commit: str) -> str:
    """`workspace-<short commit>-<UTC time>` for runs outside `dvc exp run`."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    return "-".join(part for part in ("workspace", commit[:7], stamp) if part)


def git_output(args: list[str], cwd: Path | None) -> str:
    """What `git ARGS` prints in `cwd`, stripped; empty if git fails or is missing."""
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def run_description(counts: Mapping[str, int]) -> str:
    """Markdown for the top of the run's page: what each metric measures, in which unit.

    MLflow has no field for units, and its charts label the x axis "Step" with ticks such as
    1.5, so the page says that steps are epochs. `counts` are reviews per split.
    """
    return (
        f"Trained on {counts['train']:,} reviews, validated after each epoch on"
        f" {counts['val']:,} held out of the training split; `evaluate` adds the `test_*`"
        f" metrics, on {counts['test']:,} test reviews.\n\n"
        "- step = epoch (1 = after the first epoch) for `loss`, `accuracy`, `val_*` and"
        " `epoch_seconds`; every other metric is logged once, at step 0\n"
        "- `loss`, `val_loss`, `test_loss`: binary cross-entropy, nats per review\n"
        "- `accuracy`, `val_accuracy` and `test_accuracy`, `_precision`, `_recall`, `_f1`,"
        " `_roc_auc`, `_pr_auc`: fractions from 0 to 1\n"
        "- `test_tn`, `test_fp`, `test_fn`, `test_tp`: numbers of test reviews, at"
        " `evaluate.threshold`\n"
        "- `epoch_seconds`, `fit_seconds`: wall-clock seconds\n"
    )


def epoch_logger() -> Any:
    """A Keras callback that logs each epoch's metrics to the active run with step = epoch."""
    import keras
    import mlflow

    class EpochMetrics(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            mlflow.log_metrics({k: float(v) for k, v in (logs or {}).items()}, step=epoch + 1)

    return EpochMetrics()
