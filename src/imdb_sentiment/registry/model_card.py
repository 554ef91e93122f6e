"""A model card for each registered version, written from what its run recorded.

The card says what the model is for and not for, what it learned from (each split's rows and
the md5 dvc.lock records), how it scored on the test set, by slice and on the behavioural
checks where the run has them, the spread over seeds where one was measured, its known limits
(front truncation, vocabulary, out-of-vocabulary rate) and the gate's decision with its
p-value. `read_card_facts` gathers plain dicts from the run, `render_card` writes Markdown
from them (no store needed: unit-tested from dicts), `publish_card` logs it as the run's
`model_card.md` and makes it the version's description.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CARD_FILE = "model_card.md"  # in the run's artifacts
DESCRIPTION_LIMIT = 5000  # characters MLflow's SQL stores keep for a version's description
_META_ARTIFACT = "data/meta.json"  # prepare's facts, logged by train
_SPLITS = ("train", "val", "test")

INTENDED_USE = (
    "Binary sentiment (positive or negative) of English movie reviews like those of IMDB"
    " (aclImdb v1): a probability of the positive class and a label at `evaluate.threshold`."
)
NOT_FOR = (
    "Other languages, other kinds of text (product reviews, tweets, news), neutral or mixed"
    " sentiment, ratings on a scale, or decisions about people; it has not been tested for"
    " fairness or against adversarial input."
)


@dataclass(frozen=True)
class CardFacts:
    """What a card is written from: plain values read from the run and the gate's report."""

    model_name: str
    version: str
    run_id: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    datasets: list[dict[str, Any]] = field(default_factory=list)  # name, digest, source, rows
    meta: dict[str, Any] = field(default_factory=dict)  # prepare's meta.json, {} if absent
    gate: dict[str, Any] = field(default_factory=dict)  # run_gate's report
    # Measure -> "mean ± sd (n seeds)" over the runs of this configuration (seed_spread()).
    seed_spread: dict[str, str] = field(default_factory=dict)


# evaluate's names (stages/evaluate_checks.py): test_slice/<slice>.accuracy and
# test_behaviour/<check>.pass_rate.
SLICE_PREFIX, CHECK_PREFIX = "test_slice/", "test_behaviour/"


def render_card(facts: CardFacts) -> str:
    """The card in Markdown; a section whose facts the run lacks is left out."""
    sections = [
        f"# {facts.model_name} version {facts.version}\n\nRun `{facts.run_id}`.",
        f"## Intended use\n\n{INTENDED_USE}\n\nNot for: {NOT_FOR}",
        _data_section(facts),
        _table_section("Test metrics", "Metric", _overall(facts.metrics)),
        _table_section("Slices (test set)", "Slice", _grouped(facts.metrics, SLICE_PREFIX)),
        _table_section("Behavioural checks", "Check", _grouped(facts.metrics, CHECK_PREFIX)),
        _table_section("Spread over seeds", "Measure", facts.seed_spread),
        _limits_section(facts),
        _gate_section(facts.gate),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def fit_description(card: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """The card, or as many whole sections as fit in `limit` and a pointer to the file."""
    if len(card) <= limit:
        return card
    note = f"\n\n(Shortened: the whole card is the run's `{CARD_FILE}`.)\n"
    kept = ""
    for section in card.split("\n\n## "):
        candidate = f"{kept}\n\n## {section}" if kept else section
        if len(candidate) + len(note) > limit:
            break
        kept = candidate
    return kept.rstrip() + note


def _data_section(facts: CardFacts) -> str:
    rows = []
    for dataset in sorted(facts.datasets, key=lambda d: _split_order(d["name"])):
        rows.append(
            f"| {dataset['name']} | {dataset.get('rows', '')} | `{dataset['source']}`"
            f" | `{dataset['digest']}` |"
        )
    if not rows:
        counts = {s: facts.params.get(f"data.n_{s}") for s in _SPLITS}
        rows = [f"| {s} | {n} | | |" for s, n in counts.items() if n is not None]
    if not rows:
        return ""
    header = "| Split | Reviews | File (DVC) | md5 |\n|---|---|---|---|"
    return "## Data\n\n" + header + "\n" + "\n".join(rows)


def _split_order(name: str) -> int:
    return _SPLITS.index(name) if name in _SPLITS else len(_SPLITS)


def _prefixed(metrics: dict[str, float], prefix: str) -> dict[str, str]:
    return {k.removeprefix(prefix): _number(v) for k, v in metrics.items() if k.startswith(prefix)}


def _overall(metrics: dict[str, float]) -> dict[str, str]:
    """The `test_*` metrics of the whole test set (a slice's or a check's has a `/`)."""
    return {k: v for k, v in _prefixed(metrics, "test_").items() if "/" not in k}


def _grouped(metrics: dict[str, float], prefix: str) -> dict[str, str]:
    """`<prefix><name>.<measure>` metrics as one row per name: `measure value, ...`."""
    rows: dict[str, list[str]] = {}
    for key, value in _prefixed(metrics, prefix).items():
        name, _, measure = key.rpartition(".")
        rows.setdefault(name or measure, []).append(f"{measure} {value}" if name else value)
    return {name: ", ".join(sorted(values)) for name, values in rows.items()}


def _table_section(title: str, column: str, rows: dict[str, str]) -> str:
    if not rows:
        return ""
    lines = [f"| {key} | {value} |" for key, value in sorted(rows.items())]
    return f"## {title}\n\n| {column} | Value |\n|---|---|\n" + "\n".join(lines)


def _limits_section(facts: CardFacts) -> str:
    meta, params = facts.meta, facts.params
    maxlen = meta.get("maxlen", params.get("prepare.maxlen"))
    vocab = meta.get("vocab_size", params.get("data.vocab_size"))
    limits = []
    if maxlen is not None:
        limits.append(
            f"- Reads at most the last {maxlen} tokens of a review: a longer review is cut at"
            " the front (padding and truncation `pre`), so its opening is never seen."
        )
    if vocab is not None:
        limits.append(
            f"- Knows {vocab} token ids (3 reserved: padding, start, out-of-vocabulary); every"
            " other word reads as out-of-vocabulary."
        )
    oov = meta.get("oov_rate") or {}
    if oov:
        rates = ", ".join(f"{s} {oov[s]:.3f}" for s in _SPLITS if s in oov)
        limits.append(f"- Out-of-vocabulary share of word positions: {rates}.")
    threshold = params.get("evaluate.threshold")
    if threshold is not None:
        limits.append(f"- Labels a review positive at probability >= {threshold}.")
    return "## Known limits\n\n" + "\n".join(limits) if limits else ""


def _gate_section(gate: dict[str, Any]) -> str:
    if not gate:
        return ""
    lines = [f"- Decision: **{gate.get('decision', 'unknown')}**: {gate.get('reason', '')}"]
    comparison = gate.get("comparison")
    if comparison:
        champion = gate.get("champion", {}).get("version", "?")
        lines.append(
            f"- Against champion version {champion} on {comparison['n']} test reviews:"
            f" accuracy {comparison['challenger_accuracy']:.4f} vs"
            f" {comparison['champion_accuracy']:.4f}, McNemar exact p-value"
            f" {comparison['p_value']:.4g}"
        )
    else:
        lines.append("- No paired comparison (no other champion): no p-value.")
    if "champion_after" in gate:
        lines.append(f"- Champion after the decision: version {gate['champion_after']}")
    if "decided_at" in gate:
        lines.append(f"- Decided at {gate['decided_at']}")
    return "## Promotion gate\n\n" + "\n".join(lines)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4f}"


def read_card_facts(client: Any, version: Any, gate: dict[str, Any]) -> CardFacts:
    """The facts of registered `version` (an MLflow ModelVersion) from its run and `gate`."""
    run = client.get_run(version.run_id)
    datasets = []
    for item in run.inputs.dataset_inputs:
        dataset = item.dataset
        profile = json.loads(dataset.profile) if dataset.profile else {}
        source = json.loads(dataset.source).get("uri", dataset.source)
        rows = profile.get("num_rows", "")
        datasets.append(dict(name=dataset.name, digest=dataset.digest, source=source, rows=rows))
    return CardFacts(
        model_name=version.name,
        version=str(version.version),
        run_id=version.run_id,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        datasets=datasets,
        meta=_read_meta(client, version.run_id),
        gate=gate,
        seed_spread=seed_spread(client, run),
    )


def seed_spread(client: Any, run: Any) -> dict[str, str]:
    """Validation and test accuracy over the seeds of `run`'s configuration in the store.

    Finished runs with the same model and data params and the same validation set
    (tracking/configurations.py's rule), one per effective seed (the newest: a rerun of one
    seed is not another sample); empty unless there are at least two seeds.
    """
    from imdb_sentiment.tracking.configurations import (
        VAL_SET_PARAMS,
        Spread,
        effective_seed,
        is_configuration_param,
    )
    from imdb_sentiment.tracking.names import REFERENCE_TAG

    mine = run.data.params
    key = {k: v for k, v in mine.items() if is_configuration_param(k) or k in VAL_SET_PARAMS}
    finished = client.search_runs(
        [run.info.experiment_id], "attributes.status = 'FINISHED'", order_by=["start_time ASC"]
    )
    by_seed: dict[str, Any] = {}
    for other in finished:
        params = other.data.params
        # A param an older run did not log yet does not set it apart (configurations' rule).
        if REFERENCE_TAG not in other.data.tags and all(
            params.get(k, v) == v for k, v in key.items()
        ):
            by_seed[effective_seed(params)] = other
    if len(by_seed) < 2:
        return {}
    rows = {"seeds": ", ".join(sorted(by_seed, key=lambda s: (len(s), s)))}
    for name, metric in _SPREAD_METRICS:
        values = [_kept(r.data.metrics, metric) for r in by_seed.values()]
        values = [v for v in values if v is not None]
        if values:
            rows[name] = f"{Spread.of(values).format()} ({len(values)} seeds)"
    return rows


_SPREAD_METRICS = (("validation accuracy", "val_accuracy"), ("test accuracy", "test_accuracy"))


def _kept(metrics: dict[str, float], name: str) -> float | None:
    """The saved model's figure: `model_<name>` under early stopping, else `<name>`."""
    return metrics.get(f"model_{name}", metrics.get(name))


def _read_meta(client: Any, run_id: str) -> dict[str, Any]:
    logged = {a.path for a in client.list_artifacts(run_id, Path(_META_ARTIFACT).parent.name)}
    if _META_ARTIFACT not in logged:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        return json.loads(Path(client.download_artifacts(run_id, _META_ARTIFACT, tmp)).read_text())


def publish_card(client: Any, version: Any, gate: dict[str, Any]) -> str:
    """Write `version`'s card into its run as `model_card.md` and as its description."""
    card = render_card(read_card_facts(client, version, gate))
    client.log_text(version.run_id, card, CARD_FILE)
    client.update_model_version(version.name, version.version, description=fit_description(card))
    return card
