"""The `experiments` report: the store's runs ranked, as Markdown, logged to the selected runs."""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imdb_sentiment.files import atomic_path
from imdb_sentiment.tracking.names import EXPERIMENT
from imdb_sentiment.tracking.ranking import (
    RankedRun,
    RankingError,
    RunRanking,
    describe_val_set,
    overrides,
    rank_runs,
    reference_val_set,
    varying_params,
)
from imdb_sentiment.tracking.store import (
    TrackingStore,
    TrackingStoreError,
    find_store,
    store_errors,
)

log = logging.getLogger(__name__)

ARTIFACT_DIR = "selection"


def render_ranking(ranking: RunRanking, current: Mapping[str, Any], store: str, top: int) -> str:
    """The Markdown report; `store` is the URI to name, `top` the rows to show."""
    ranked = ranking.ranked
    lines = [
        "# Experiments: runs ranked by validation accuracy",
        "",
        f"Generated {_now()} from the MLflow store `{store}` (experiment `{EXPERIMENT}`).",
        "",
        f"- Ranked: {len(ranked)} finished runs validated on the same reviews "
        f"({describe_val_set(ranking.reference)}); {ranking.other_val_sets} runs on other "
        "validation sets are left out.",
        "- Order: the saved model's validation accuracy (the epoch early stopping kept, else the "
        "last), then lower validation loss. Accuracies are fractions of the validation reviews.",
        f"- Test accuracy is read for the top {len(ranking.selected)} only, after ranking: "
        "selection never looks at the test set.",
        "",
        *_table(ranking, top),
        "",
        "## Selected",
        "",
    ]
    for c in ranking.selected:
        test = _format_test(ranking.test_accuracy.get(c.run_id))
        reproduce = " ".join(overrides(c, current)) or "(params.yaml as it is)"
        lines += [
            f"- **{_run_label(c)}** (run `{c.run_id}`): validation accuracy "
            f"{c.val_accuracy:.4f}, test accuracy {test}; model from epoch {c.model_epoch} "
            f"of {c.epochs}.",
            f"  Reproduce: `dvc exp run {reproduce}`",
        ]
    return "\n".join(lines) + "\n"


def _table(ranking: RunRanking, top: int) -> list[str]:
    """The ranked runs as a Markdown table, `top` rows and a line on the rest."""
    ranked = ranking.ranked
    shown = ranked[:top]
    columns = varying_params(ranked)
    header = ["rank", "run", *[k.removeprefix("train.") for k in columns]]
    header += ["epoch kept / trained", "val accuracy", "val loss", "fit (min)", "test accuracy"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, c in enumerate(shown, start=1):
        selected = c.run_id in ranking.test_accuracy
        test = _format_test(ranking.test_accuracy[c.run_id]) if selected else ""
        cells = [str(i), _run_label(c), *[c.params.get(k, "not logged") for k in columns]]
        cells += [
            f"{c.model_epoch}/{c.epochs}",
            f"{c.val_accuracy:.4f}",
            f"{c.val_loss:.4f}",
            "" if math.isnan(c.fit_seconds) else f"{c.fit_seconds / 60:.1f}",
            test,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if len(ranked) > len(shown):
        lines.append(f"\n{len(ranked) - len(shown)} lower-ranked runs not shown (`--top`).")
    return lines


def write_ranking_report(
    uri: str, params: Mapping[str, Any], out: Path, select: int = 1, top: int = 20
) -> RunRanking:
    """Rank the runs of the store at `uri`, write the Markdown report, log it to the selected."""
    try:
        with store_errors():
            store = find_store(uri)
            if store is None:
                raise RankingError(f"no experiment '{EXPERIMENT}' in {uri}; run `dvc repro` first")
            ranking = _rank_store(store, params, select)
    except TrackingStoreError as exc:
        raise RankingError(f"cannot read runs from {uri}: {exc}") from exc
    text = render_ranking(ranking, params, uri, top)
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    stamp = _now()
    for rank, c in enumerate(ranking.selected, start=1):
        store.client.log_text(c.run_id, text, f"{ARTIFACT_DIR}/{out.name}")
        store.client.set_tag(c.run_id, "selection.val_rank", str(rank))
        store.client.set_tag(c.run_id, "selection.compared_runs", str(len(ranking.ranked)))
        store.client.set_tag(c.run_id, "selection.at", stamp)
    log.info("%d runs ranked; report in %s", len(ranking.ranked), out)
    return ranking


def _rank_store(store: TrackingStore, params: Mapping[str, Any], select: int) -> RunRanking:
    client = store.client
    return rank_runs(
        _finished_runs(store),
        reference_val_set(params),
        select,
        lambda run_id: client.get_run(run_id).data.metrics.get("test_accuracy"),
        lambda run_id: len(client.get_metric_history(run_id, "loss")),
    )


def _finished_runs(store: TrackingStore) -> list[Any]:
    runs: list[Any] = []
    token = None
    while True:
        page = store.client.search_runs(
            [store.experiment_id],
            filter_string="attributes.status = 'FINISHED'",
            max_results=1000,
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _run_label(c: RankedRun) -> str:
    return c.name if not c.exp_name or c.exp_name == c.name else f"{c.name} ({c.exp_name})"


def _format_test(value: float | None) -> str:
    return "not evaluated" if value is None else f"**{float(value):.4f}**"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
