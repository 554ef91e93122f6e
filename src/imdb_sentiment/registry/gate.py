"""Champion/challenger: register a run's raw-text model, promote it only if it is better.

"Better" is judged on one test set with paired predictions (registry/paired.py: McNemar's
exact test and a minimum accuracy gain), then by the guards of registry/gate_slices.py: no
slice significantly worse, no behaviour check that drops.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from imdb_sentiment.config import PromoteParams
from imdb_sentiment.registry.gate_slices import (
    GuardInputs,
    Verdict,
    judge_guards,
    served_predictor,
)
from imdb_sentiment.registry.model_card import publish_card
from imdb_sentiment.registry.paired import (
    PairedComparison,
    PromotionError,
    compare_paired,
    decide,
)
from imdb_sentiment.registry.text_model import load_text_model
from imdb_sentiment.tracking.names import CHAMPION, REGISTERED_MODEL
from imdb_sentiment.tracking.store import TrackingStore, fluent_uri, store_errors

log = logging.getLogger(__name__)

# Serving must reproduce evaluate's test accuracy; more than this apart means they disagree.
_SKEW_TOLERANCE = 1e-3


def predicted_labels(model: Any, texts: list[str]) -> np.ndarray:
    """0/1 labels from a loaded raw-text model (`load_text_model`)."""
    return served_predictor(model)(texts)[1]


@dataclass(frozen=True)
class Challenger:
    """The run's raw-text model, as evaluate logged it."""

    run_id: str
    model_uri: str
    test_accuracy: float  # evaluate's figure, from the encoded test split


def register(store: TrackingStore, challenger: Challenger, tags: dict[str, str]) -> Any:
    """The registry version for the challenger's model: the existing one, or a new one.

    A rerun of the gate for the same run (new gate params, say) must not add a duplicate.
    """
    import mlflow

    existing = store.client.search_model_versions(
        f"name = '{REGISTERED_MODEL}' and run_id = '{challenger.run_id}'"
    )
    for version in existing:
        if version.source == challenger.model_uri:
            return version
    # The fluent call: it resolves a `models:/<id>` URI to the logged model's files.
    with fluent_uri(store.uri):
        version = mlflow.register_model(challenger.model_uri, REGISTERED_MODEL, tags=tags)
    log.info("registered %s version %s", REGISTERED_MODEL, version.version)
    return version


def current_champion(client: Any) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION)
    except MlflowException:
        return None  # no registered model or no alias yet


def lineage_of(client: Any, run_id: str) -> dict[str, str]:
    """The run's lineage tags (commit, dirty flag, DVC experiment, md5s), for its version."""
    tags = client.get_run(run_id).data.tags
    keep = ("mlflow.source.git.commit", "git.dirty", "dvc.")
    return {k: v for k, v in tags.items() if k.startswith(keep)} | {"run_id": run_id}


def run_gate(
    store: TrackingStore,
    challenger: Challenger,
    texts: list[str],
    labels: np.ndarray,
    cfg: PromoteParams,
    guards: GuardInputs | None = None,
) -> dict[str, Any]:
    """Register the challenger, compare it with the champion, move the alias if it wins.

    Returns the report: both accuracies, the discordant pairs, the p-value, the decision.
    With `guards`, a win overall must also pass the slice and behaviour rules (`gate_slices`).
    """
    lineage = lineage_of(store.client, challenger.run_id)
    version = register(store, challenger, lineage)
    challenger_uri = f"models:/{REGISTERED_MODEL}/{version.version}"
    served = load_text_model(store.uri, challenger_uri)  # loaded once: labels, then guards
    predicted = predicted_labels(served, texts)
    served_accuracy = check_served_accuracy(predicted, labels, challenger.test_accuracy)
    report: dict[str, Any] = {
        "registered_model": REGISTERED_MODEL,
        "test_reviews": len(labels),
        "challenger": {
            "version": str(version.version),
            "run_id": challenger.run_id,
            "model_uri": challenger_uri,
            "accuracy": served_accuracy,
            "git_commit": lineage.get("mlflow.source.git.commit", ""),
        },
        "params": asdict(cfg),
        "decided_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    champion = current_champion(store.client)
    challenger_answers = (served, predicted)
    comparison, verdict = _judge(
        store, version, champion, challenger_answers, labels, texts, cfg, guards
    )
    if comparison is not None:
        report["champion"] = {
            "version": str(champion.version),
            "run_id": champion.run_id,
            "model_uri": f"models:/{REGISTERED_MODEL}/{champion.version}",
            "accuracy": comparison.champion_accuracy,
        }
        report["comparison"] = {**asdict(comparison), "accuracy_gain": comparison.gain}
    decision, reason = verdict.decision, verdict.reason
    report.update(decision=decision, reason=reason, decided_by=verdict.decided_by)
    if verdict.details:
        report["guards"] = verdict.details
    after = version if verdict.promoted or champion is None else champion
    report["champion_after"] = str(after.version)
    publish_card(store.client, version, report)  # before the alias moves: all or nothing
    _record(store.client, version, champion, verdict, comparison)
    store.client.log_dict(challenger.run_id, report, "promotion/promotion.json")
    log.info("%s version %s: %s", decision, version.version, reason)
    return report


def check_served_accuracy(predicted: np.ndarray, labels: np.ndarray, evaluated: float) -> float:
    """The served model's test accuracy, refused if it is not the one evaluate measured."""
    served = float((predicted == labels).mean())
    if abs(served - evaluated) > _SKEW_TOLERANCE:
        raise PromotionError(
            f"the raw-text model scores {served:.4f} on the test reviews but evaluate "
            f"measured {evaluated:.4f}: serving and training encode differently"
        )
    return served


def _judge(
    store: TrackingStore,
    version: Any,
    champion: Any | None,
    challenger: tuple[Any, np.ndarray],
    labels: np.ndarray,
    texts: list[str],
    cfg: PromoteParams,
    guards: GuardInputs | None,
) -> tuple[PairedComparison | None, Verdict]:
    """The paired comparison if one ran, and whether the challenger's `version` wins, why.

    `challenger` is the version's loaded raw-text model and its labels on `texts`.
    """
    if champion is None:
        return None, Verdict(True, "no champion yet: the first model becomes champion")
    if str(champion.version) == str(version.version):
        return None, Verdict(True, "this version already is the champion")
    served, predicted = challenger
    old_model = load_text_model(store.uri, f"models:/{REGISTERED_MODEL}/{champion.version}")
    old = predicted_labels(old_model, texts)
    comparison = compare_paired(labels, predicted, old)
    verdict = Verdict(*decide(comparison, cfg))
    if verdict.promoted and guards is not None:
        models = (served, old_model)
        verdict = judge_guards(models, labels, (predicted, old), guards, cfg, verdict)
    return comparison, verdict


def _record(
    client: Any,
    version: Any,
    champion: Any | None,
    verdict: Verdict,
    comparison: PairedComparison | None,
) -> None:
    """Tag both versions with the outcome, then move the alias (last: the commit point)."""
    name, decision, reason = REGISTERED_MODEL, verdict.decision, verdict.reason
    tags = {"promotion.decision": decision, "promotion.reason": reason}
    tags["promotion.decided_by"] = verdict.decided_by
    if comparison is not None and champion is not None:
        tags.update(
            {
                "promotion.compared_with": str(champion.version),
                "promotion.p_value": f"{comparison.p_value:.6g}",
                "promotion.accuracy_gain": f"{comparison.gain:+.6f}",
            }
        )
        outcome = "replaced" if decision == "promoted" else "kept"
        client.set_model_version_tag(
            name, champion.version, f"promotion.vs_v{version.version}", f"{outcome}: {reason}"
        )
    for key, value in tags.items():
        client.set_model_version_tag(name, version.version, key, value)
    client.set_tag(version.run_id, "model.version", str(version.version))
    client.set_tag(version.run_id, "promotion.decision", decision)
    if decision == "promoted":
        client.set_registered_model_alias(name, CHAMPION, version.version)


@dataclass(frozen=True)
class RegisteredVersion:
    """A version of a registered model: its number, its run and its tags (the lineage)."""

    name: str
    version: str
    run_id: str
    tags: dict[str, str]


def find_version(
    store: TrackingStore, name: str, version: str | None, alias: str | None
) -> RegisteredVersion:
    """Version `version` of the registered model `name`, or the one `alias` points at."""
    with store_errors():
        found = (
            store.client.get_model_version(name, version)
            if alias is None
            else store.client.get_model_version_by_alias(name, alias)
        )
    return RegisteredVersion(name, str(found.version), found.run_id, dict(found.tags))


def tag_version(store: TrackingStore, version: RegisteredVersion, tags: Mapping[str, str]) -> None:
    """Set `tags` on the version: the MLflow UI shows them on the version's page."""
    with store_errors():
        for key, value in tags.items():
            store.client.set_model_version_tag(version.name, version.version, key, value)
