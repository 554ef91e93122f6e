"""dvc.yaml must declare what each stage really uses, or edits would not re-run it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def library_modules(path: Path, seen: set[str] | None = None) -> set[str]:
    """src/ files imported by `path`, transitively; also files it names (MLflow runs those)."""
    seen = set() if seen is None else seen
    for node in ast.walk(ast.parse(path.read_text())):
        module = None
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("imdb_sentiment."):
            module = "src/" + node.module.replace(".", "/") + ".py"
        elif isinstance(node, ast.Constant) and str(node.value).endswith(".py"):
            named = f"src/imdb_sentiment/{node.value}"
            module = named if (REPO / named).is_file() else None
        if module and module not in seen:
            seen.add(module)
            library_modules(REPO / module, seen)
    return seen


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_lists_every_library_module_it_imports(stage: str) -> None:
    deps = set(STAGES[stage]["deps"])
    used = library_modules(REPO / "pipeline" / f"{stage}.py")
    assert used - deps == set(), "missing deps"
    assert {d for d in deps if d.startswith("src/")} - used == set(), "stale deps"
    assert f"pipeline/{stage}.py" in deps
    assert f"python -m pipeline.{stage} " in STAGES[stage]["cmd"]


def test_stages_depend_on_existing_params_sections() -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for stage, spec in STAGES.items():
        assert stage in spec["params"], f"{stage} does not depend on its own section"
        assert set(spec["params"]) <= set(params), stage


def test_train_waits_for_validation() -> None:
    assert "reports/validation.json" in STAGES["train"]["deps"]
