"""The attestation: what was rebuilt, from what, where, how it compared, and the verdict.

A JSON document logged with the version's run, and tags on the version that sum it up. The
environment part says where the rebuild ran: Python, the key packages, the CPU, and a sha256
of every installed distribution, so two attestations can tell whether they ran on the same set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import platform
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from imdb_sentiment.reproduce.outcome import Outcome

ATTESTATION_FORMAT = 1
KEY_PACKAGES = ("keras", "tensorflow", "jax", "torch", "mlflow", "dvc", "numpy")
VERDICT_TAG, AT_TAG = "reproduced.verdict", "reproduced.at"
_CPUINFO = Path("/proc/cpuinfo")


def canonical_name(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503): `Foo_Bar` is `foo-bar`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_distributions() -> list[str]:
    """`name==version` of every distribution this interpreter sees, sorted, without repeats."""
    found = {
        f"{canonical_name(dist.metadata['Name'])}=={dist.version}"
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }
    return sorted(found)


def distributions_sha256(distributions: Iterable[str]) -> str:
    """sha256 of the sorted `name==version` lines: equal sets, equal digests."""
    text = "".join(f"{line}\n" for line in sorted(set(distributions)))
    return hashlib.sha256(text.encode()).hexdigest()


def package_versions(names: Iterable[str] = KEY_PACKAGES) -> dict[str, str | None]:
    """The installed version of each package; None when it is not installed."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    """The CPU's model name (Linux), else what `platform` says: kernels differ by CPU."""
    try:
        for line in _CPUINFO.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def capture_environment() -> dict[str, Any]:
    """Where this process runs: Python, platform, CPU, key packages, the installed set."""
    distributions = installed_distributions()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "packages": package_versions(),
        "installed_distributions": len(distributions),
        "installed_sha256": distributions_sha256(distributions),
    }


def build_attestation(outcome: Outcome, at: str) -> dict[str, Any]:
    """The attestation of a finished comparison (`outcome.verdict` set)."""
    recorded, rebuilt, original = outcome.recorded, outcome.rebuilt, outcome.original
    assert recorded is not None and rebuilt is not None and original is not None
    assert outcome.rule is not None
    options = outcome.options
    return {
        "format": ATTESTATION_FORMAT,
        "verdict": outcome.verdict,
        "at": at,
        "model": {
            "uri": options.model.uri,
            "name": options.model.name,
            "version": recorded.version,
            "run_id": recorded.run_id,
        },
        "commit": recorded.commit,
        "data": {
            path: {"md5": md5, "from": outcome.data_sources.get(path, "")}
            for path, md5 in recorded.data_md5.items()
        },
        "model_file": {"path": "models/model.keras", "md5": recorded.model_md5},
        "original": {
            "backend": recorded.backend,
            "device": recorded.device or None,
            "packages": original.packages,
            "weights_md5": original.weights_md5,
        },
        "rebuild": {
            "run_id": rebuilt.run_id,
            "backend": rebuilt.backend,
            "device": rebuilt.device,
            "weights_md5": rebuilt.weights_md5,
            "stages_run": rebuilt.stages_run,
        },
        "environment": outcome.environment,
        "rule": {"name": outcome.rule.name, "reason": outcome.rule.reason},
        "tolerance": outcome.rule.tolerance,
        "comparison": [dataclasses.asdict(check) for check in outcome.checks],
        "steps": [{"name": s.name, "seconds": round(s.seconds, 1)} for s in outcome.steps],
    }


def version_tags(attestation: dict[str, Any], attestation_uri: str) -> dict[str, str]:
    """What the version's page shows: the verdict, when, by which rule, where the details are."""
    environment = attestation["environment"]
    return {
        VERDICT_TAG: attestation["verdict"],
        AT_TAG: attestation["at"],
        "reproduced.rule": attestation["rule"]["name"],
        "reproduced.weights_md5": attestation["rebuild"]["weights_md5"],
        "reproduced.environment": (
            f"python {environment['python']}, {environment['cpu']}, installed set "
            f"sha256 {environment['installed_sha256'][:16]}"
        ),
        "reproduced.attestation": attestation_uri,
    }
