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
    Configuration,
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
    lines = [
        "# Experiments: runs ranked by validation accuracy",
        "",
        f"Generated {_now()} from the MLflow store `{store}` (experiment `{EXPERIMENT}`).",
        "",
        f"- Ranked: {len(ranking.ranked)} finished runs validated on the same reviews "
        f"({describe_val_set(ranking.reference)}); {ranking.other_val_sets} runs on other "
        "validation sets are left out.",
        "- Order: the saved model's validation accuracy (the epoch early stopping kept, else the "
        "last), then lower validation loss. Accuracies are fractions of the validation reviews.",
        *_seeds_note(ranking),
        f"- Test accuracy is read for the top {len(ranking.selected)} "
        f"{_also_current(ranking)}only, after ranking: selection never looks at the test set.",
        "",
        *_table(ranking, top),
        *_references(ranking),
        "",
        "## Selected",
        "",
    ]
    for config in ranking.selected:
        lines += _selected(config, ranking.test_accuracy, current)
    if ranking.current is not None and ranking.current not in ranking.selected:
        config = ranking.current
        lines.append(
            f"- Beside it, params.yaml's configuration **{_run_label(config.best)}**: "
            f"validation accuracy {config.val_accuracy.format()}, test accuracy "
            f"{format_test(config, ranking.test_accuracy)}{_over_seeds(config)}."
        )
    return "\n".join(lines) + "\n"


def _seeds_note(ranking: RunRanking) -> list[str]:
    if not _seeded(ranking):
        return []
    return [
        f"- Runs that differ only in `train.seed` are one configuration "
        f"({len(ranking.configurations)} here): figures are the mean ± sample standard "
        "deviation over its seeds, and configurations rank by mean validation accuracy."
    ]


def _also_current(ranking: RunRanking) -> str:
    if ranking.current is None or ranking.current in ranking.selected:
        return ""
    return "and for the configuration params.yaml sets up (marked) "


def _table(ranking: RunRanking, top: int) -> list[str]:
    """The ranked configurations as a Markdown table, `top` rows and a line on the rest."""
    configs = ranking.configurations
    shown = configs[:top]
    seeded = _seeded(ranking)
    columns = varying_params(ranking.ranked)
    header = ["rank", "run", *[k.removeprefix("train.") for k in columns]]
    header += ["seeds"] if seeded else []
    header += ["epoch kept / trained", "val accuracy", "val loss", "fit (min)", "test accuracy"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, config in enumerate(shown, start=1):
        best = config.best
        read = best.run_id in ranking.test_accuracy
        marked = " (params.yaml)" if read and config is ranking.current else ""
        cells = [str(i), _run_label(best) + marked]
        cells += [best.params.get(k, "not logged") for k in columns]
        cells += [str(len(config.runs))] if seeded else []
        epochs = dict.fromkeys(f"{c.model_epoch}/{c.epochs}" for c in config.runs)
        fit = config.fit_seconds
        cells += [
            ", ".join(epochs),
            config.val_accuracy.format(),
            f"{config.val_loss:.4f}",
            "" if math.isnan(fit) else f"{fit / 60:.1f}",
            format_test(config, ranking.test_accuracy) if read else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if len(configs) > len(shown):
        kind = "configurations" if seeded else "runs"
        lines.append(f"\n{len(configs) - len(shown)} lower-ranked {kind} not shown (`--top`).")
    return lines


def _references(ranking: RunRanking) -> list[str]:
    """Reference models (NBSVM): the mark to beat, never candidates for selection."""
    if not ranking.references:
        return []
    lines = [
        "",
        "## Reference baselines",
        "",
        "Never candidates for selection or promotion (tag `reference_baseline`): trained on the "
        "same train reviews and scored on the same validation and test reviews as the runs above.",
        "",
        "| run | model | val accuracy | test accuracy |",
        "|---|---|---|---|",
    ]
    for r in ranking.references:
        test = "not evaluated" if r.test_accuracy is None else f"{r.test_accuracy:.4f}"
        lines.append(f"| {r.name} | {r.model_family} | {r.val_accuracy:.4f} | {test} |")
    return lines


def _selected(
    config: Configuration, read: Mapping[str, float | None], current: Mapping[str, Any]
) -> list[str]:
    best = config.best
    reproduce = " ".join(overrides(best, current)) or "(params.yaml as it is)"
    if len(config.runs) == 1:
        return [
            f"- **{_run_label(best)}** (run `{best.run_id}`): validation accuracy "
            f"{best.val_accuracy:.4f}, test accuracy {format_test(config, read)}; model from "
            f"epoch {best.model_epoch} of {best.epochs}.",
            f"  Reproduce: `dvc exp run {reproduce}`",
        ]
    ordered = sorted(config.seeds, key=lambda s: (s != "None", len(s), s))  # null, 1, 2, 10
    seeds = ", ".join("null" if s == "None" else s for s in ordered)
    runs = ", ".join(f"`{c.run_id}`" for c in config.runs)
    return [
        f"- **{_run_label(best)}** and its other seeds (runs {runs}): validation accuracy "
        f"{config.val_accuracy.format()}, test accuracy {format_test(config, read)}"
        f"{_over_seeds(config)}.",
        f"  Reproduce: `dvc exp run {reproduce}`, once per `-S train.seed=` {seeds}",
    ]


def _over_seeds(config: Configuration) -> str:
    return "" if len(config.runs) == 1 else f", mean ± sd over {len(config.runs)} seeds"


def _seeded(ranking: RunRanking) -> bool:
    return any(len(c.runs) > 1 for c in ranking.configurations)


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
    for rank, config in enumerate(ranking.selected, start=1):
        for c in config.runs:
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
        params,
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


def format_test(config: Configuration, read: Mapping[str, float | None]) -> str:
    """Mean ± sd over the runs evaluated on test, in bold, or "not evaluated"."""
    spread = config.test_accuracy(read)
    if spread is None:
        return "not evaluated"
    some = f" ({spread.n} of {len(config.runs)} evaluated)" if spread.n < len(config.runs) else ""
    return f"**{spread.format()}**{some}"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
