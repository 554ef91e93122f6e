"""Which rule applies to a rebuild, and what each check makes of the numbers."""

from __future__ import annotations

import pytest

from imdb_sentiment.reproduce.compare import (
    EXACT,
    TOLERANCE,
    Check,
    Rule,
    Side,
    choose_rule,
    data_checks,
    metric_checks,
    model_file_check,
    verdict_of,
    weights_check,
)

PACKAGES = {"keras": "3.15.1", "tensorflow": "2.21.0", "numpy": "2.4.6"}
CPU = Side("tensorflow", "cpu", PACKAGES)
EXACT_RULE = Rule(EXACT, "", None)
LOOSE = Rule(TOLERANCE, "", 0.005)


def test_same_backend_and_packages_on_cpus_is_the_exact_rule() -> None:
    rule = choose_rule(CPU, Side("tensorflow", "cpu", dict(PACKAGES)), 0.005)
    assert rule.name == EXACT and rule.tolerance is None
    assert "same backend (tensorflow)" in rule.reason
    assert "keras 3.15.1, tensorflow 2.21.0, numpy 2.4.6" in rule.reason


@pytest.mark.parametrize(
    ("original", "rebuilt", "why"),
    [
        (Side("tensorflow", "gpu", PACKAGES), CPU, "the original ran on gpu"),
        (CPU, Side("tensorflow", "gpu", PACKAGES), "the rebuild ran on gpu"),
        (Side("tensorflow", "", PACKAGES), CPU, "the original ran on an unrecorded device"),
        (
            Side("jax", "cpu", {"keras": "3.15.1", "jax": "0.10.2", "numpy": "2.4.6"}),
            CPU,
            "backend jax vs tensorflow",
        ),
        (CPU, Side("tensorflow", "cpu", {**PACKAGES, "keras": "3.16.0"}), "keras 3.15.1 vs 3.16.0"),
        (CPU, Side("tensorflow", "cpu", {"keras": "3.15.1"}), "numpy 2.4.6 vs not installed"),
        (Side("tensorflow", "cpu", {}), CPU, "the original records no package versions"),
    ],
)
def test_anything_else_gets_the_tolerance_and_says_why(
    original: Side, rebuilt: Side, why: str
) -> None:
    rule = choose_rule(original, rebuilt, 0.005)
    assert rule.name == TOLERANCE and rule.tolerance == 0.005
    assert why in rule.reason and rule.reason.endswith("each test metric within 0.005")


def test_exact_metrics_must_be_equal_to_the_last_bit() -> None:
    checks = metric_checks(
        EXACT_RULE,
        {"test_accuracy": 0.85064, "test_loss": 0.35},
        {"test_accuracy": 0.85064, "test_loss": 0.35 + 1e-16},
    )
    assert [(c.item, c.ok) for c in checks] == [("test_accuracy", True), ("test_loss", False)]
    assert checks[1].result.startswith("differs by +")


def test_tolerance_is_absolute_and_counts_are_shares_of_the_test_reviews() -> None:
    original = {
        "test_accuracy": 0.850,
        "test_tp": 400.0,
        "test_tn": 450.0,
        "test_fp": 50.0,
        "test_fn": 100.0,
    }
    within = {**original, "test_accuracy": 0.854, "test_tp": 404.0}  # 4 of 1,000 reviews
    beyond = {**original, "test_accuracy": 0.844, "test_tp": 410.0}  # 10 of 1,000
    assert verdict_of(metric_checks(LOOSE, original, within))
    judged = {c.item: c for c in metric_checks(LOOSE, original, beyond)}
    assert not judged["test_accuracy"].ok and judged["test_accuracy"].result.startswith(
        "beyond 0.005"
    )
    assert not judged["test_tp"].ok and "off by 0.01" in judged["test_tp"].result
    assert judged["test_tn"].ok


def test_a_metric_on_one_side_only_differs() -> None:
    (check,) = metric_checks(EXACT_RULE, {"test_f1": 0.8}, {})
    assert (check.ok, check.result, check.found) == (False, "missing", "-")


def test_weights_are_judged_only_under_the_exact_rule() -> None:
    assert weights_check(EXACT_RULE, "a" * 32, "a" * 32).ok is True
    assert weights_check(EXACT_RULE, "a" * 32, "b" * 32).ok is False
    unreadable = weights_check(EXACT_RULE, "", "b" * 32)
    assert (unreadable.ok, unreadable.expected) == (False, "unreadable")
    assert weights_check(LOOSE, "a" * 32, "b" * 32).ok is None


def test_the_served_file_and_the_data_must_match_the_lineage_under_any_rule() -> None:
    assert model_file_check("a" * 32, "a" * 32).ok
    tampered = model_file_check("a" * 32, "c" * 32)
    assert not tampered.ok and "not the one trained" in tampered.result
    checks = data_checks({"x.npz": "1" * 32, "y.npz": "2" * 32}, {"x.npz": "1" * 32})
    assert [(c.item, c.ok, c.result) for c in checks] == [
        ("x.npz md5", True, "identical"),
        ("y.npz md5", False, "not recorded by the rebuild"),
    ]


def test_the_verdict_needs_every_judged_check_and_at_least_one() -> None:
    ok, bad, shown = (Check("c", "", "", value, "") for value in (True, False, None))
    assert verdict_of([ok, shown])
    assert not verdict_of([ok, bad, shown])
    assert not verdict_of([shown])
