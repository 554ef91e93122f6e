"""dvc.yaml must declare what each stage really uses, or edits would not re-run it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, committed_params

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def library_modules(path: Path, seen: set[str] | None = None) -> set[str]:
    """src/ files imported by `path`, transitively, with the __init__.py of each subpackage
    on the way; also files it names (MLflow runs those)."""
    seen = set() if seen is None else seen
    for node in ast.walk(ast.parse(path.read_text())):
        modules: list[str] = []
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("imdb_sentiment"):
            parts = node.module.split(".")
            modules = [".".join(parts[:i]) for i in range(2, len(parts) + 1)]
            modules += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Constant) and str(node.value).endswith(".py"):
            modules = [name for name in _named_files(path, str(node.value))]
        for module in modules:
            file = _module_file(module)
            if file and file not in seen:
                seen.add(file)
                library_modules(REPO / file, seen)
    return seen


def _module_file(module: str) -> str | None:
    """src/-relative file of a dotted module (a package's __init__.py), if it exists."""
    base = "src/" + module.replace(".", "/")
    for file in (f"{base}.py", f"{base}/__init__.py"):
        if (REPO / file).is_file():
            return file
    return None


def _named_files(path: Path, name: str) -> list[str]:
    """A .py file named in `path`'s code, as a dotted module beside `path`."""
    file = path.parent / name
    if not file.is_file() or "src" not in file.parts:
        return []
    relative = file.relative_to(REPO / "src").with_suffix("")
    return [".".join(relative.parts)]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_lists_every_library_module_it_imports(stage: str) -> None:
    deps = set(STAGES[stage]["deps"])
    used = library_modules(REPO / "pipeline" / f"{stage}.py")
    assert used - deps == set(), "missing deps"
    assert {d for d in deps if d.startswith("src/")} - used == set(), "stale deps"
    assert f"pipeline/{stage}.py" in deps
    assert f"python -m pipeline.{stage} " in STAGES[stage]["cmd"]


def test_stages_depend_on_existing_params_sections() -> None:
    params = committed_params()
    for stage, spec in STAGES.items():
        assert stage in spec["params"], f"{stage} does not depend on its own section"
        assert set(spec["params"]) <= set(params), stage


def test_train_waits_for_validation() -> None:
    assert "reports/validation.json" in STAGES["train"]["deps"]
