"""Matplotlib figures as inline base64 PNG (the report works offline, no CDN)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pandas as pd

# The object API (no pyplot): no global figure state, no display backend needed.
from matplotlib.figure import Figure

PALETTE = ["#3b6ea5", "#e07b39", "#5aa469", "#c94c4c", "#8e6bb8", "#8c6d31", "#d17fb3", "#7f7f7f"]


def _subplots(figsize: tuple[float, float]) -> tuple[Figure, Any]:
    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def to_img(fig: Figure, alt: str, dpi: int = 96) -> str:
    """``<img>`` tag holding ``fig`` as a base64 PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    safe_alt = alt.replace('"', "'").replace("<", "").replace(">", "")
    return f'<img class="chart" alt="{safe_alt}" src="data:image/png;base64,{data}">'


def bar(series: pd.Series, title: str, xlabel: str = "", horizontal: bool = False) -> Figure:
    """A single-series bar chart."""
    fig, ax = _subplots(figsize=(7, max(2.5, 0.3 * len(series)) if horizontal else 3.2))
    labels = [str(i) for i in series.index]
    if horizontal:
        ax.barh(labels, series.to_numpy(dtype=float), color=PALETTE[0])
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
    else:
        ax.bar(labels, series.to_numpy(dtype=float), color=PALETTE[0])
        ax.set_ylabel(xlabel)
        ax.tick_params(axis="x", labelrotation=30)
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def stacked(frame: pd.DataFrame, title: str, ylabel: str = "") -> Figure:
    """Stacked bars: rows are bars, columns are stacked parts."""
    fig, ax = _subplots(figsize=(8, 3.6))
    bottom = np.zeros(len(frame))
    for i, col in enumerate(frame.columns):
        values = frame[col].to_numpy(dtype=float)
        ax.bar(
            [str(x) for x in frame.index],
            values,
            bottom=bottom,
            label=str(col),
            color=PALETTE[i % len(PALETTE)],
        )
        bottom += values
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelrotation=30)
    ax.legend(fontsize=8, ncol=min(4, len(frame.columns)), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def heatmap(
    matrix: pd.DataFrame,
    title: str,
    annotate: pd.DataFrame | None = None,
    cmap: str = "RdBu_r",
    centre: bool = True,
) -> Figure:
    """Heat map of ``matrix`` (rows x columns), optionally annotated with other values."""
    rows, cols = matrix.shape
    fig, ax = _subplots(figsize=(max(5, 0.7 * cols + 2), max(2.5, 0.45 * rows + 1.5)))
    values = matrix.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
    kwargs = {"vmin": -vmax, "vmax": vmax} if centre else {}
    im = ax.imshow(values, cmap=cmap, aspect="auto", **kwargs)
    ax.set_xticks(range(cols), [str(c) for c in matrix.columns], rotation=45, ha="right")
    ax.set_yticks(range(rows), [str(r) for r in matrix.index])
    labels = annotate if annotate is not None else matrix
    if rows * cols <= 300:
        for i in range(rows):
            for j in range(cols):
                v = labels.iat[i, j]
                if pd.notna(v):
                    text = f"{v:.2g}" if isinstance(v, float) else str(v)
                    ax.text(j, i, text, ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title)
    return fig


def lines(
    frame: pd.DataFrame, title: str, xlabel: str, ylabel: str, reference: float | None
) -> Figure:
    """One line per column over the index (lift curves)."""
    fig, ax = _subplots(figsize=(7, 3.4))
    for i, col in enumerate(frame.columns):
        ax.plot(
            [str(x) for x in frame.index],
            frame[col].to_numpy(dtype=float),
            marker="o",
            label=str(col),
            color=PALETTE[i % len(PALETTE)],
        )
    if reference is not None:
        ax.axhline(reference, color="#999", linestyle="--", linewidth=1)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
