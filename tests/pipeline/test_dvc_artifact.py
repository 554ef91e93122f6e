"""The trained model as a DVC artifact: declared in dvc.yaml, fetched by the real `dvc` and GTO."""

from __future__ import annotations

import json
from pathlib import Path

import dvc.api
import pytest
import yaml

from imdb_sentiment.tracking.lineage import file_md5
from imdb_sentiment.tracking.names import REGISTERED_MODEL
from tests.conftest import REPO
from tests.pipeline.dvc_repo import commit, sh

ARTIFACT = "imdb-sentiment"


def test_the_artifact_is_trains_model_declared_as_a_model() -> None:
    dvc_yaml = yaml.safe_load((REPO / "dvc.yaml").read_text())
    artifact = dvc_yaml["artifacts"][ARTIFACT]
    train_outs = [
        next(iter(o)) if isinstance(o, dict) else o for o in dvc_yaml["stages"]["train"]["outs"]
    ]
    assert artifact["path"] in train_outs
    assert artifact["type"] == "model" and artifact["desc"]
    assert {"keras", "sentiment"} <= set(artifact["labels"])
    assert artifact["meta"]["mlflow_registered_model"] == REGISTERED_MODEL


@pytest.mark.slow
def test_dvc_artifacts_get_fetches_the_trained_model_by_version_and_stage(
    repo: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, env = repo
    sh(["dvc", "repro", "train"], root, env)
    commit(root, env, "trained")
    model = root / "models" / "model.keras"
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    outs = {o["path"]: o["md5"] for o in lock["stages"]["train"]["outs"]}
    assert outs["models/model.keras"] == file_md5(model)
    # DVC's registry: a version and a stage are git tags; GTO (installed with DVC) writes them.
    sh(["gto", "register", ARTIFACT, "--version", "v1.0.0", "-m", "MLflow version 1"], root, env)
    sh(["gto", "assign", ARTIFACT, "--version", "v1.0.0", "--stage", "champion"], root, env)
    shown = json.loads(sh(["gto", "show", "--json"], root, env))
    assert shown[ARTIFACT]["version"] == "v1.0.0"
    assert shown[ARTIFACT]["stage"] == {"champion": "v1.0.0"}

    for flags, name in (([], "latest.keras"), (["--stage", "champion"], "champion.keras")):
        out = tmp_path / name
        sh(["dvc", "artifacts", "get", str(root), ARTIFACT, *flags, "-o", str(out)], tmp_path, env)
        assert out.read_bytes() == model.read_bytes(), flags
    head = sh(["git", "rev-parse", "HEAD"], root, env).strip()
    found = dvc.api.artifacts_show(ARTIFACT, version="v1.0.0", repo=str(root))
    assert found == {"rev": head, "path": "models/model.keras"}
