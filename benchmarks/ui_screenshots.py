"""Screenshots of the MLflow UI comparing runs, from any tracking store: docs/ui/*.png.

Run by hand from the repository root, on a copy of the store (`mlflow server` may migrate
its schema), after `apt-get install chromium` and `pip install -e ".[dev]"`:

    cp mlflow.db /tmp/ui.db
    python -m benchmarks.ui_screenshots --backend-store-uri sqlite:////tmp/ui.db --out docs/ui

It starts `mlflow server` on a free loopback port, opens the experiment in headless
Chromium (Debian's, driven by Playwright), selects the runs (by default the three latest),
opens the compare page, the chart view of the same runs and the first run's page, and saves
one PNG per view.
tests/pipeline/test_mlflow_ui.py drives the same code and asserts on what each view shows.
It sits with the benchmarks because, like them, it is run by hand to refresh files in
docs/.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.servers import mlflow_server
from imdb_sentiment.tracking.names import EXPERIMENT

CHROMIUM = Path("/usr/bin/chromium")  # Debian's: `playwright install` would download its own
VIEWPORT = {"width": 1600, "height": 1000}
MAX_HEIGHT = 8000  # px: a full-page shot taller than this is cut (evaluate logs ~40 metrics)
CHART_CARD = "[data-testid=experiment-view-compare-runs-card]"
# The elements that scroll their content (the UI scrolls a <main> panel, not the page), in JS.
SCROLLERS = """[...document.querySelectorAll('*')].filter(e => e.scrollHeight > e.clientHeight
    && ['auto', 'scroll'].includes(getComputedStyle(e).overflowY))"""


@dataclass(frozen=True)
class Chart:
    steps: dict[str, list[float]]  # run name -> x values (steps) of its line
    drawn_lines: int  # SVG line paths through two or more points, as the browser drew them


@dataclass(frozen=True)
class View:
    screenshot: Path
    text: str  # the page's text as a user reads it
    charts: dict[str, Chart]  # metric -> its line chart; empty on pages without them


@contextlib.contextmanager
def chromium(executable: Path = CHROMIUM) -> Iterator[Any]:
    """A headless Chromium browser (a Playwright `Browser`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable))
        try:
            yield browser
        finally:
            browser.close()


def capture_views(
    browser: Any, base_url: str, experiment_id: str, runs: dict[str, str], out_dir: Path
) -> dict[str, View]:
    """Select `runs` (run id -> name) in the runs table, compare them, chart them, open one.

    Returns the "runs", "compare", "charts" and "run" (the first run's page) views, each
    saved as `<view>.png` in `out_dir`.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(60_000)  # the first load compiles a large bundle on slow CPUs
    try:
        page.goto(f"{base_url}/#/experiments/{experiment_id}/runs")
        for name in runs.values():
            page.get_by_text(name, exact=True).first.wait_for()
        close_assistant(page)
        for run_id in runs:  # by id: names can repeat (MLflow's random ones did)
            row = page.locator(f"[role=row][row-id='{run_id}']")
            row.get_by_role("checkbox").first.check()
        views = {"runs": snap(page, out_dir / "runs.png")}

        page.get_by_role("button", name="Compare", exact=True).click()
        page.get_by_text(f"Comparing {len(runs)} Runs").wait_for()
        # What a comparison is about; the other ~40 params fill a scroll box and hide them.
        page.get_by_role("switch", name="Parameters - Show diff only").click()
        views["compare"] = snap(page, out_dir / "compare.png")

        # The chart view of the experiment page: one line chart per per-epoch metric.
        query = urllib.parse.urlencode(
            {"compareRunsMode": "CHART", "searchFilter": run_filter(list(runs))}
        )
        page.goto(f"{base_url}/#/experiments/{experiment_id}/runs?{query}")
        page.locator(f"{CHART_CARD} .js-plotly-plot").first.wait_for()
        views["charts"] = snap(page, out_dir / "charts.png")

        run_id, name = next(iter(runs.items()))
        page.goto(f"{base_url}/#/experiments/{experiment_id}/runs/{run_id}")
        page.get_by_text(name, exact=True).first.wait_for()
        page.get_by_text("Parameters (").first.wait_for()
        more = page.get_by_role("button", name="Expand description")  # past its third line
        if more.count():
            more.first.click()
        views["run"] = snap(page, out_dir / "run.png")
        return views
    finally:
        page.close()


def run_filter(run_ids: list[str]) -> str:
    """An MLflow search filter that keeps exactly these runs."""
    return "attributes.run_id IN ({})".format(", ".join(f"'{run_id}'" for run_id in run_ids))


def close_assistant(page: Any) -> None:
    """Close the assistant side panel, which takes a third of the width, if it is open."""
    button = page.get_by_role("button", name="Close", exact=True)
    if button.count():
        button.first.click()


def snap(page: Any, path: Path) -> View:
    """Save the whole page as `path` and read what it shows.

    The UI scrolls an inner panel, not the page: the viewport grows until that panel needs no
    scrolling, so the shot shows everything and every lazily drawn chart gets drawn.
    """
    page.wait_for_timeout(1000)  # let the last requests land and charts settle
    overflow = page.evaluate(
        f"() => Math.max(0, ...{SCROLLERS}.map(e => e.scrollHeight - e.clientHeight))"
    )
    if overflow > 0:
        height = min(VIEWPORT["height"] + overflow, MAX_HEIGHT)
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        page.wait_for_function(
            "(card) => [...document.querySelectorAll(card)]"
            ".every(c => c.querySelector('.js-plotly-plot'))",
            arg=CHART_CARD,
        )
        page.wait_for_timeout(500)  # the new layout's last transitions
    try:
        # Clicks scroll the panel (the compare page's switch does): show it from the top.
        page.evaluate(f"() => {SCROLLERS}.forEach(e => {{ e.scrollTop = 0; }})")
        page.screenshot(path=str(path), full_page=True)
        shrink_png(path)
        return View(path, page.inner_text("body"), read_charts(page))
    finally:
        page.set_viewport_size(VIEWPORT)


def read_charts(page: Any) -> dict[str, Chart]:
    """Each chart card's line traces (Plotly's data) and the SVG lines actually drawn."""
    cards = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].map(card => {
            const plot = card.querySelector('.js-plotly-plot');
            const traces = (plot && plot.data) || [];
            const drawn = plot ? [...plot.querySelectorAll('path.js-line')]
                .filter(p => ((p.getAttribute('d') || '').match(/[ML]/g) || []).length >= 2)
                .length : 0;
            return {
                title: card.innerText.trim().split('\\n')[0],
                lines: traces.filter(t => (t.mode || '').includes('lines'))
                    .map(t => [t.name, Array.from(t.x || [])]),
                drawn,
            };
        })""",
        CHART_CARD,
    )
    return {
        card["title"]: Chart(dict(card["lines"]), card["drawn"]) for card in cards if card["lines"]
    }


def shrink_png(path: Path) -> None:
    """Rewrite a screenshot with a 256-colour palette: flat UI colours survive, size drops ~4x."""
    from PIL import Image

    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(colors=256)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    path.write_bytes(buffer.getvalue())


def latest_runs(backend_store_uri: str, count: int, where: str = "") -> tuple[str, dict[str, str]]:
    """The experiment's id and its `count` latest finished runs (also matching the MLflow
    filter `where`, e.g. a sweep's `tags.dvc.baseline_rev`), as run id -> name."""
    from mlflow import MlflowClient

    client = MlflowClient(backend_store_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        raise SystemExit(f"no experiment {EXPERIMENT!r} in {backend_store_uri}")
    found = client.search_runs(
        [experiment.experiment_id],
        filter_string=" and ".join(filter(None, ["attributes.status = 'FINISHED'", where])),
        order_by=["attributes.start_time DESC"],
        max_results=count,
    )
    return experiment.experiment_id, {r.info.run_id: r.info.run_name for r in found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend-store-uri", required=True, help="a copy of the store")
    parser.add_argument("--out", type=Path, default=Path("docs/ui"))
    parser.add_argument("--runs", type=int, default=3, help="how many latest runs to compare")
    parser.add_argument(
        "--filter",
        default="",
        help="only runs matching this MLflow filter, e.g. \"tags.dvc.exp_name LIKE 's-%%'\"",
    )
    args = parser.parse_args(argv)

    experiment_id, runs = latest_runs(args.backend_store_uri, args.runs, args.filter)
    with (
        tempfile.TemporaryDirectory() as workdir,
        mlflow_server(args.backend_store_uri, Path(workdir)) as server,
        chromium() as browser,
    ):
        views = capture_views(browser, server.wait_until_up(), experiment_id, runs, args.out)
    for name, view in views.items():
        size_kb = view.screenshot.stat().st_size / 1024
        print(f"{name}: {view.screenshot} ({size_kb:.0f} KB, {len(view.charts)} line charts)")
    print(json.dumps({"runs": list(runs.values())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
