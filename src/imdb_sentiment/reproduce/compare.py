"""The comparison of a rebuild with the original: which rule applies, and what each check found.

On CPUs, with the backend and package versions that trained the original, training is
deterministic: the rule is exact, and the weights and every test metric must be identical.
Anywhere else (a GPU, another backend, other versions of Keras, the backend or NumPy) the
weights need not match bit for bit and each test metric must fall within a tolerance. Either
way the served model file must be the one the lineage records, and the rebuild must have
read the very data files the original did. Pure: plain values in, checks out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

EXACT, TOLERANCE = "exact", "tolerance"
# Confusion counts: judged as a share of the test reviews under the tolerance rule.
COUNT_METRICS = ("test_tn", "test_fp", "test_fn", "test_tp")


@dataclass(frozen=True)
class Side:
    """Where one training ran: the Keras backend, the device and the package versions."""

    backend: str
    device: str  # cpu, gpu, tpu; "" when not recorded
    packages: Mapping[str, str]  # name -> version, of `numeric_packages(backend)` where known


def numeric_packages(backend: str) -> tuple[str, ...]:
    """The packages whose versions change the numbers: Keras, the backend's package, NumPy."""
    return ("keras", backend, "numpy")


@dataclass(frozen=True)
class Rule:
    name: str  # EXACT or TOLERANCE
    reason: str
    tolerance: float | None  # for TOLERANCE


@dataclass(frozen=True)
class Check:
    """One thing compared: what the original records, what was found, and whether they agree."""

    item: str
    expected: str
    found: str
    ok: bool | None  # None: shown, not judged under this rule
    result: str


def choose_rule(original: Side, rebuilt: Side, tolerance: float) -> Rule:
    """Exact on CPUs with the same backend and package versions; the tolerance elsewhere."""
    differences = []
    if original.backend != rebuilt.backend:
        differences.append(f"backend {original.backend} vs {rebuilt.backend}")
    for who, side in (("original", original), ("rebuild", rebuilt)):
        if side.device != "cpu":
            differences.append(f"the {who} ran on {side.device or 'an unrecorded device'}")
    packages = dict.fromkeys(numeric_packages(original.backend) + numeric_packages(rebuilt.backend))
    if not original.packages:
        differences.append("the original records no package versions")
    for package in packages if original.packages else ():
        before, now = original.packages.get(package), rebuilt.packages.get(package)
        if before != now:
            differences.append(f"{package} {before or 'not recorded'} vs {now or 'not installed'}")
    if differences:
        reason = "; ".join(differences) + f": each test metric within {tolerance:g}"
        return Rule(TOLERANCE, reason, tolerance)
    versions = ", ".join(f"{p} {original.packages[p]}" for p in packages if p in original.packages)
    return Rule(
        EXACT,
        f"same backend ({original.backend}), same {versions}, CPU on both: weights and test "
        "metrics must be identical",
        None,
    )


def model_file_check(recorded_md5: str, served_md5: str) -> Check:
    """The served .keras file must be the bytes the lineage records (any rule)."""
    ok = recorded_md5 == served_md5
    result = "identical" if ok else "differs: the served model is not the one trained"
    return Check("served model file md5", recorded_md5, served_md5, ok, result)


def weights_check(rule: Rule, original: str, rebuilt: str) -> Check:
    item = "weights md5 (the weight arrays in order)"
    if rule.name != EXACT:
        return Check(item, original, rebuilt, None, "not judged under the tolerance rule")
    ok = bool(original) and original == rebuilt
    return Check(item, original or "unreadable", rebuilt, ok, "identical" if ok else "differs")


def data_checks(recorded: Mapping[str, str], used: Mapping[str, str]) -> list[Check]:
    """Each recorded input's md5 against the one the rebuilt run read (any rule)."""
    checks = []
    for path, md5 in recorded.items():
        found = used.get(path, "")
        ok = found == md5
        result = "identical" if ok else ("not recorded by the rebuild" if not found else "differs")
        checks.append(Check(f"{path} md5", md5, found or "-", ok, result))
    return checks


def metric_checks(
    rule: Rule, original: Mapping[str, float], rebuilt: Mapping[str, float]
) -> list[Check]:
    """Every test metric of either run: identical (exact) or within the tolerance."""
    reviews = sum(original.get(name, 0.0) for name in COUNT_METRICS)
    checks = []
    for name in sorted(set(original) | set(rebuilt)):
        before, now = original.get(name), rebuilt.get(name)
        if before is None or now is None:
            checks.append(Check(name, _show(before), _show(now), False, "missing"))
            continue
        checks.append(
            Check(name, _show(before), _show(now), *_judge(rule, name, before, now, reviews))
        )
    return checks


def _judge(rule: Rule, name: str, before: float, now: float, reviews: float) -> tuple[bool, str]:
    if rule.name == EXACT or rule.tolerance is None:
        return (True, "identical") if before == now else (False, f"differs by {now - before:+.6g}")
    gap = abs(now - before)
    if name in COUNT_METRICS:
        gap = gap / reviews if reviews else float("inf")
    ok = gap <= rule.tolerance
    return ok, f"{'within' if ok else 'beyond'} {rule.tolerance:g} (off by {gap:.6g})"


def verdict_of(checks: list[Check]) -> bool:
    """True when every judged check agrees (there must be some)."""
    judged = [check.ok for check in checks if check.ok is not None]
    return bool(judged) and all(judged)


def _show(value: float | None) -> str:
    return "-" if value is None else repr(value)
