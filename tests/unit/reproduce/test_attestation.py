"""The attestation's content, the environment it records and the tags it puts on the version."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from imdb_sentiment.reproduce.attestation import (
    build_attestation,
    canonical_name,
    capture_environment,
    distributions_sha256,
    installed_distributions,
    package_versions,
    version_tags,
)
from tests.unit.reproduce.outcomes import COMMIT, DATA, compared

AT = "2026-01-05T04:26:00+00:00"


def test_the_installed_set_digest_ignores_order_and_repeats_but_not_versions() -> None:
    digest = distributions_sha256(["numpy==2.4.6", "keras==3.15.1"])
    assert digest == distributions_sha256(["keras==3.15.1", "numpy==2.4.6", "keras==3.15.1"])
    assert digest != distributions_sha256(["keras==3.15.2", "numpy==2.4.6"])
    assert len(digest) == 64


def test_distribution_names_compare_as_pip_compares_them() -> None:
    assert canonical_name("Great_Expectations") == canonical_name("great-expectations")
    assert canonical_name("zope.interface") == "zope-interface"


def test_the_environment_names_python_the_key_packages_and_the_installed_set() -> None:
    environment = capture_environment()
    assert environment["python"] == platform.python_version()
    assert environment["packages"]["keras"] == package_versions(["keras"])["keras"]
    assert set(environment["packages"]) >= {"keras", "tensorflow", "jax", "mlflow", "dvc", "numpy"}
    installed = installed_distributions()
    assert environment["installed_distributions"] == len(installed)
    assert environment["installed_sha256"] == distributions_sha256(installed)
    assert any(line.startswith("mlflow==") for line in installed)


def test_a_package_that_is_not_installed_has_no_version() -> None:
    assert package_versions(["no-such-package-here"]) == {"no-such-package-here": None}


def test_the_attestation_holds_commit_data_environment_comparison_and_verdict(
    tmp_path: Path,
) -> None:
    attestation = build_attestation(compared(tmp_path), AT)
    assert attestation["verdict"] == "reproduced" and attestation["at"] == AT
    assert attestation["model"] == {
        "uri": "models:/imdb-sentiment@champion",
        "name": "imdb-sentiment",
        "version": "4",
        "run_id": "run-4",
    }
    assert attestation["commit"] == COMMIT
    assert {path: entry["md5"] for path, entry in attestation["data"].items()} == DATA
    assert attestation["data"]["data/prepared/train.npz"]["from"] == "DVC remote s3"
    assert attestation["model_file"]["md5"] == "a" * 32
    assert attestation["original"]["weights_md5"] == attestation["rebuild"]["weights_md5"]
    assert attestation["environment"]["installed_sha256"] == "f" * 64
    assert attestation["rule"]["name"] == "exact" and attestation["tolerance"] is None
    assert [c["item"] for c in attestation["comparison"]][1] == "test_accuracy"
    assert json.loads(json.dumps(attestation)) == attestation  # plain JSON


def test_a_difference_is_the_verdict_too(tmp_path: Path) -> None:
    attestation = build_attestation(compared(tmp_path, same=False), AT)
    assert attestation["verdict"] == "differs"
    assert attestation["comparison"][0]["ok"] is False


def test_the_version_tags_sum_the_attestation_up(tmp_path: Path) -> None:
    attestation = build_attestation(compared(tmp_path), AT)
    tags = version_tags(attestation, "runs:/run-4/reproduce/x/attestation.json")
    assert tags["reproduced.verdict"] == "reproduced"
    assert tags["reproduced.at"] == AT
    assert tags["reproduced.rule"] == "exact"
    assert tags["reproduced.attestation"] == "runs:/run-4/reproduce/x/attestation.json"
    assert "python 3.11.7" in tags["reproduced.environment"]
    assert all(isinstance(value, str) for value in tags.values())
