"""Binary-classification metrics, curves and their plots, from labels and probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics as skm

# Enough points to draw a smooth curve without committing a multi-megabyte plot file.
MAX_CURVE_POINTS = 500


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    confusion: dict[str, int]  # tn, fp, fn, tp
    roc: list[dict[str, float]]  # fpr, tpr, threshold
    pr: list[dict[str, float]]  # recall, precision, threshold


def compute_metrics(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> Evaluation:
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    proba = np.asarray(proba, dtype=np.float64).ravel()
    if y_true.shape != proba.shape or y_true.size == 0:
        raise ValueError(
            f"need equal, non-empty label and score arrays, got {y_true.shape} and {proba.shape}"
        )
    if len(np.unique(y_true)) < 2:
        raise ValueError("ROC/PR need both classes in the test labels; check the test split")
    y_pred = (proba >= threshold).astype(np.int64)
    tn, fp, fn, tp = skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    values = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "loss": skm.log_loss(y_true, np.clip(proba, 1e-7, 1 - 1e-7), labels=[0, 1]),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0),
        "f1": skm.f1_score(y_true, y_pred, zero_division=0),
        "roc_auc": skm.roc_auc_score(y_true, proba),
        "pr_auc": skm.average_precision_score(y_true, proba),
    }
    fpr, tpr, roc_thr = skm.roc_curve(y_true, proba)
    precision, recall, pr_thr = skm.precision_recall_curve(y_true, proba)
    return Evaluation(
        metrics={k: float(v) for k, v in values.items()},
        confusion={"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
        roc=_thin(
            [
                {"fpr": f, "tpr": t, "threshold": h}
                for f, t, h in zip(fpr, tpr, roc_thr, strict=True)
            ]
        ),
        # precision_recall_curve's last point (recall 0, precision 1) has no threshold.
        pr=_thin(
            [
                {"recall": r, "precision": p, "threshold": h}
                for r, p, h in zip(recall[:-1], precision[:-1], pr_thr, strict=True)
            ]
        ),
    )


def _thin(points: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Keep at most MAX_CURVE_POINTS, always including both ends; inf thresholds become 1.0."""
    if len(points) > MAX_CURVE_POINTS:
        keep = np.unique(np.linspace(0, len(points) - 1, MAX_CURVE_POINTS).round().astype(int))
        points = [points[i] for i in keep]
    return [
        {k: float(min(v, 1.0)) if k == "threshold" else float(v) for k, v in p.items()}
        for p in points
    ]


def plot_curves(evaluation: Evaluation, out_dir: Path) -> dict[str, Path]:
    """Write roc.png, pr.png and confusion_matrix.png; return their paths by name."""
    import matplotlib

    matplotlib.use("Agg")  # headless: CI and DVC stages have no display
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    m = evaluation.metrics

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([p["fpr"] for p in evaluation.roc], [p["tpr"] for p in evaluation.roc])
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set(
        xlabel="False positive rate",
        ylabel="True positive rate",
        title=f"ROC (AUC {m['roc_auc']:.4f})",
    )
    paths["roc"] = _save(fig, out_dir / "roc.png")

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([p["recall"] for p in evaluation.pr], [p["precision"] for p in evaluation.pr])
    ax.set(
        xlabel="Recall",
        ylabel="Precision",
        ylim=(0, 1.02),
        title=f"Precision-recall (AP {m['pr_auc']:.4f})",
    )
    paths["pr"] = _save(fig, out_dir / "pr.png")

    c = evaluation.confusion
    matrix = np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]])
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            f"{value:,}",
            ha="center",
            va="center",
            color="white" if value > matrix.max() / 2 else "black",
        )
    ax.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["neg", "pos"],
        yticklabels=["neg", "pos"],
        xlabel="Predicted",
        ylabel="True",
        title=f"Confusion (accuracy {m['accuracy']:.4f})",
    )
    paths["confusion_matrix"] = _save(fig, out_dir / "confusion_matrix.png")
    return paths


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    from imdb_sentiment.files import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
