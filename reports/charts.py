"""The report's charts, drawn with matplotlib's object API (no pyplot: no global state, no GUI).

Each function takes plain data and returns a :class:`~matplotlib.figure.Figure`;
:func:`reports.embed.svg_uri` turns it into something the page can hold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fer_data.faces import EMOTIONS

FONT = 9
BLUE, ORANGE, GREY = "#1f77b4", "#ff7f0e", "#9a9a9a"


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, list]:
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0].tolist()
    for ax in axes:
        ax.tick_params(labelsize=FONT)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes


def _grouped_bars(ax, frame: pd.DataFrame, ylabel: str) -> None:
    """One group per row of ``frame``, one bar per column."""
    n_groups, n_bars = frame.shape
    width = 0.8 / max(n_bars, 1)
    x = np.arange(n_groups)
    for k, column in enumerate(frame.columns):
        ax.bar(
            x + (k - (n_bars - 1) / 2) * width,
            frame[column].to_numpy(float),
            width,
            label=str(column),
        )
    ax.set_xticks(x, [str(i) for i in frame.index], fontsize=FONT)
    ax.set_ylabel(ylabel, fontsize=FONT)
    ax.grid(axis="y", alpha=0.3)


def class_distribution(counts: pd.DataFrame) -> Figure:
    """``counts``: classes x splits. Left: images per class; right: each class's share (%)."""
    fig, (left, right) = _figure(10, 3.2, 2)
    _grouped_bars(left, counts, "images")
    _grouped_bars(right, 100 * counts / counts.sum(axis=0), "% of the split")
    right.legend(fontsize=FONT, frameon=False)
    return fig


def confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str] = EMOTIONS) -> Figure:
    """Counts and row-normalised (% of each actual class) heatmaps side by side."""
    counts = np.asarray(matrix, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    normalised = 100 * np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    fig, axes = _figure(10, 4.2, 2)
    for ax, values, title, fmt in (
        (axes[0], counts, "counts", "{:.0f}"),
        (axes[1], normalised, "% of actual class (recall on the diagonal)", "{:.0f}"),
    ):
        ax.imshow(values, cmap="Blues", vmin=0, vmax=max(values.max(), 1e-9))
        threshold = values.max() / 2
        for (i, j), value in np.ndenumerate(values):
            ax.text(
                j,
                i,
                fmt.format(value),
                ha="center",
                va="center",
                fontsize=FONT - 1,
                color="white" if value > threshold else "black",
            )
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=FONT)
        ax.set_yticks(range(len(labels)), labels, fontsize=FONT)
        ax.set_xlabel("predicted", fontsize=FONT)
        ax.set_ylabel("actual", fontsize=FONT)
        ax.set_title(title, fontsize=FONT + 1)
        ax.spines[["top", "right"]].set_visible(True)
    return fig


def search_history(trials: pd.DataFrame, metric: str) -> Figure:
    """Score per completed trial and the best so far; unscored trials marked at the bottom."""
    fig, (ax,) = _figure(7, 3)
    done = trials[trials["state"] == "COMPLETE"]
    ax.plot(done["number"], done["value"], "o", color=BLUE, ms=4, label="trial")
    best = trials["value"].where(trials["state"] == "COMPLETE").cummax()
    ax.step(trials["number"], best, where="post", color=ORANGE, label="best so far")
    lost = trials[trials["state"] != "COMPLETE"]
    if len(lost):
        bottom = done["value"].min() if len(done) else 0.0
        for state, marker in (("PRUNED", "v"), ("FAIL", "x")):
            hit = lost[lost["state"] == state]
            if len(hit):
                label = "pruned" if state == "PRUNED" else "failed or timed out"
                ax.plot(hit["number"], np.full(len(hit), bottom), marker, color=GREY, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial", fontsize=FONT)
    ax.set_ylabel(f"{metric} (search split)", fontsize=FONT)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=FONT, frameon=False)
    return fig


def competency(accuracy: pd.DataFrame) -> Figure:
    """``accuracy``: models x feature sets (NaN where a cell did not finish), as grouped bars."""
    fig, (ax,) = _figure(max(6.0, 1.1 * len(accuracy) + 2), 3.4)
    _grouped_bars(ax, 100 * accuracy, "test accuracy (%)")
    fig.legend(
        loc="outside upper center",
        title="feature set",
        fontsize=FONT,
        title_fontsize=FONT,
        frameon=False,
        ncols=len(accuracy.columns),
    )
    return fig


def timing(
    models: Sequence[str], fit_seconds: Sequence[float], predict_ms: Sequence[float]
) -> Figure:
    """Fit seconds and prediction milliseconds per image, one bar per model (log scale)."""
    fig, axes = _figure(10, 0.35 * len(models) + 1.2, 2)
    y = np.arange(len(models))
    for ax, values, label, color in (
        (axes[0], fit_seconds, "fit (s)", BLUE),
        (axes[1], predict_ms, "predict (ms per image)", ORANGE),
    ):
        ax.barh(y, values, color=color)
        ax.set_xscale("log")
        ax.set_yticks(y, models, fontsize=FONT)
        ax.invert_yaxis()
        ax.set_xlabel(label, fontsize=FONT)
        ax.grid(axis="x", alpha=0.3, which="both")
    return fig


def training_curves(history: pd.DataFrame, best_epoch: int | None) -> Figure:
    """Loss and accuracy per epoch, train vs dev; fine-tune epochs shaded, chosen epoch marked."""
    fig, axes = _figure(10, 3.2, 2)
    epochs = history["epoch"]
    finetune = history[history["finetune"] == 1]["epoch"] if "finetune" in history else []
    for ax, metric, label in ((axes[0], "loss", "cross-entropy"), (axes[1], "acc", "accuracy")):
        ax.plot(epochs, history[f"train_{metric}"], color=BLUE, label="train (random crops)")
        ax.plot(epochs, history[f"dev_{metric}"], color=ORANGE, label="dev (centre crop)")
        if len(finetune):
            ax.axvspan(
                min(finetune) - 0.5,
                max(finetune) + 0.5,
                color=GREY,
                alpha=0.15,
                label="fine-tune on train + dev",
            )
        if best_epoch:
            ax.axvline(
                best_epoch, color=GREY, ls="--", lw=1, label=f"chosen on dev (epoch {best_epoch})"
            )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch", fontsize=FONT)
        ax.set_ylabel(label, fontsize=FONT)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=FONT, frameon=False)
    return fig
