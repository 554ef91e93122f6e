"""The steps of `reproduce` that read the registry, load models and write the verdict back.

MLflow is reached only through the TrackingStore value and the registry's functions; the
git and DVC work is in `rebuild`. Each step raises CouldNotRunError (or a PipelineError that
`command` turns into one) when it cannot be carried out.
"""

from __future__ import annotations

import contextlib
import datetime
import tempfile
from dataclasses import dataclass
from pathlib import Path

from imdb_sentiment.errors import first_line
from imdb_sentiment.files import read_json, write_json
from imdb_sentiment.modeling.weights import WeightsUnreadableError, weights_md5
from imdb_sentiment.registry.gate import RegisteredVersion, find_version, tag_version
from imdb_sentiment.registry.text_model import download_keras_model
from imdb_sentiment.reproduce.attestation import (
    build_attestation,
    capture_environment,
    package_versions,
    version_tags,
)
from imdb_sentiment.reproduce.compare import (
    Side,
    choose_rule,
    data_checks,
    metric_checks,
    model_file_check,
    numeric_packages,
    verdict_of,
    weights_check,
)
from imdb_sentiment.reproduce.outcome import (
    VERDICT_DIFFERS,
    VERDICT_REPRODUCED,
    CouldNotRunError,
    Options,
    OriginalModel,
    Outcome,
    Rebuilt,
)
from imdb_sentiment.reproduce.rebuild import (
    Scratch,
    configure_dvc,
    fetch_data,
    has_commit,
    run_rebuild,
    temporary_worktree,
)
from imdb_sentiment.reproduce.recorded import MODEL_FILE, Recorded, read_lineage, refusal
from imdb_sentiment.tracking.lineage import file_md5
from imdb_sentiment.tracking.names import DEVICE_TAG
from imdb_sentiment.tracking.preflight import check_tracking_server, printable_uri
from imdb_sentiment.tracking.runs import RunRecord, read_run
from imdb_sentiment.tracking.store import (
    TrackingStore,
    find_store,
    log_artifact,
    store_errors,
)

__all__ = ["Scratch", "fetch_data", "run_rebuild"]  # used by `command` through this module

ATTESTATION_FOLDER = "reproduce"  # in the version's run: reproduce/<UTC time>/attestation.json


@dataclass(frozen=True)
class Found:
    """The version to reproduce, its run, and the store that holds them."""

    store: TrackingStore
    version: RegisteredVersion
    run: RunRecord

    @property
    def model_uri(self) -> str:
        return f"models:/{self.version.name}/{self.version.version}"


def resolve(options: Options) -> Found:
    uri = options.tracking_uri
    check_tracking_server(uri)  # fails in seconds, where MLflow's client retries for minutes
    with store_errors():
        store = find_store(uri)
    if store is None:
        raise CouldNotRunError("resolve", f"{printable_uri(uri)} holds no runs of this pipeline")
    ref = options.model
    version = find_version(store, ref.name, ref.version, ref.alias)
    return Found(store, version, read_run(store, version.run_id))


def check_lineage(options: Options, found: Found) -> Recorded:
    """The version's lineage, refused (one line why) if it cannot be rebuilt from it."""
    version, run = found.version, found.run
    recorded = read_lineage(
        version.version, version.run_id, version.tags, run.tags, run.metrics, DEVICE_TAG
    )
    reason = refusal(recorded)
    if reason is not None:
        raise CouldNotRunError("lineage", f"refused: {reason}")
    if not has_commit(options.root, recorded.commit):
        raise CouldNotRunError(
            "lineage",
            f"commit {recorded.commit} is not in this repository; fetch it (git fetch origin)",
        )
    return recorded


def read_original(options: Options, recorded: Recorded, scratch: Scratch) -> OriginalModel:
    """The Keras file the version serves: its md5, its weights' md5, its package pins."""
    model_uri = f"models:/{options.model.name}/{recorded.version}"
    bundled = download_keras_model(options.tracking_uri, model_uri, scratch.folder / "original")
    served_md5 = file_md5(bundled.keras_file)
    try:
        weights = weights_md5(bundled.keras_file)
    except WeightsUnreadableError:
        if served_md5 == recorded.model_md5:  # the very file trained: report, do not judge
            raise
        weights = ""  # not the recorded file, nor a model at all: the checks say so
    wanted = numeric_packages(recorded.backend)
    packages = {name: v for name, v in bundled.requirements.items() if name in wanted}
    return OriginalModel(served_md5, weights, packages)


def check_out(
    options: Options, commit: str, scratch: Scratch, stack: contextlib.ExitStack
) -> str | None:
    """The commit in a temporary worktree (removed when `stack` closes); the DVC remote."""
    stack.enter_context(temporary_worktree(options.root, commit, scratch.checkout))
    return configure_dvc(options.root, scratch)


def read_rebuild(scratch: Scratch, stages: list[str]) -> Rebuilt:
    """The rebuilt run (from the throwaway store) and the rebuilt model's weights."""
    try:
        run_id = read_json(scratch.checkout / "models" / "run.json")["run_id"]
    except (OSError, ValueError, KeyError) as exc:
        raise CouldNotRunError("read rebuild", f"models/run.json: {first_line(exc)}") from exc
    with store_errors():
        store = find_store(scratch.store_uri)
    if store is None:
        raise CouldNotRunError("read rebuild", "the rebuild tracked no run")
    run = read_run(store, run_id)
    lineage = read_lineage("rebuild", run_id, {}, run.tags, run.metrics, DEVICE_TAG)
    weights = weights_md5(scratch.checkout / MODEL_FILE)
    return Rebuilt(
        run_id,
        weights,
        lineage.test_metrics,
        lineage.data_md5,
        lineage.backend,
        lineage.device,
        stages,
    )


def compare(outcome: Outcome) -> None:
    """Pick the rule, run every check, reach the verdict."""
    recorded, original, rebuilt = outcome.recorded, outcome.original, outcome.rebuilt
    assert recorded is not None and original is not None and rebuilt is not None
    outcome.environment = capture_environment()
    installed = package_versions(numeric_packages(rebuilt.backend))
    here = {name: version for name, version in installed.items() if version}
    rule = choose_rule(
        Side(recorded.backend, recorded.device, original.packages),
        Side(rebuilt.backend, rebuilt.device, here),
        outcome.options.metric_tolerance,
    )
    outcome.rule = rule
    outcome.checks = [
        model_file_check(recorded.model_md5, original.file_md5),
        weights_check(rule, original.weights_md5, rebuilt.weights_md5),
        *data_checks(recorded.data_md5, rebuilt.data_md5),
        *metric_checks(rule, recorded.test_metrics, rebuilt.test_metrics),
    ]
    outcome.verdict = VERDICT_REPRODUCED if verdict_of(outcome.checks) else VERDICT_DIFFERS


def attest(outcome: Outcome, found: Found) -> None:
    """Log the attestation with the version's run and sum it up in tags on the version."""
    now = datetime.datetime.now(datetime.UTC)
    attestation = build_attestation(outcome, now.isoformat(timespec="seconds"))
    folder = f"{ATTESTATION_FOLDER}/{now.strftime('%Y%m%dT%H%M%SZ')}"
    run_id = found.version.run_id
    with tempfile.TemporaryDirectory() as tmp, store_errors():
        path = Path(tmp) / "attestation.json"
        write_json(path, attestation)
        log_artifact(found.store, run_id, path, folder)
    outcome.attestation_uri = f"runs:/{run_id}/{folder}/attestation.json"
    outcome.tags = version_tags(attestation, outcome.attestation_uri)
    tag_version(found.store, found.version, outcome.tags)
