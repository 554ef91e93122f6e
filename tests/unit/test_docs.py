"""The docs site builds strictly, and the README stays a small front door with working links."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
README_LIMIT = 10_240  # bytes: the README is the front door, the reference lives in docs/
# [text](target) and ![alt](target), with an optional "title" after the target.
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def build_site(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config)]
    return subprocess.run(
        [*command, "--site-dir", str(site)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_docs_build_strictly(tmp_path: Path) -> None:
    result = build_site(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_the_docs_config_fails_on_a_broken_link_and_a_page_missing_from_nav(
    tmp_path: Path,
) -> None:
    # The project's own settings on a two-page site: strict mode and the validation levels
    # must turn both mistakes into a failed build, or the test above could never fail.
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    config.update(docs_dir="docs", nav=[{"Home": "index.md"}])
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Home\n\nSee [gone](gone.md).\n")
    (tmp_path / "docs" / "orphan.md").write_text("# Not in the nav\n")
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")

    result = build_site(tmp_path / "mkdocs.yml", tmp_path / "site")

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "gone.md" in output
    assert "orphan.md" in output


def relative_links(markdown: str) -> list[str]:
    """Link targets that point into the repository (no URLs, no same-page anchors)."""
    targets = MARKDOWN_LINK.findall(markdown)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:|#", t)]


def test_relative_links_ignore_urls_and_anchors() -> None:
    markdown = (
        "[a](docs/a.md) ![b](docs/ui/b.png) [c](https://example.org/x) [d](#setup) "
        '[e](docs/e.md#part "title") [f](mailto:x@example.org)'
    )
    assert relative_links(markdown) == ["docs/a.md", "docs/ui/b.png", "docs/e.md#part"]


def test_readme_is_small_and_its_relative_links_point_at_files() -> None:
    readme = ROOT / "README.md"
    size = readme.stat().st_size
    assert size <= README_LIMIT, f"README.md is {size} bytes; move reference material to docs/"

    links = relative_links(readme.read_text(encoding="utf-8"))
    assert links, "README.md links to no file: the index of docs pages is missing"
    missing = [link for link in links if not (ROOT / link.split("#")[0]).exists()]
    assert not missing, f"README.md links to missing files: {missing}"
