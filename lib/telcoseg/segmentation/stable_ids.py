"""Stable segment ids across retrains, and the segment registry.

Rule: at each level (macro, micro) the new model's centroids are matched one-to-one to
the *active* segments of the registry (the previous model) by the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``) on the RMS distance per indicator, measured in
the new model's standard deviations on the indicators both models share. A pair whose
distance is at most ``match_threshold`` (default 0.5 sd) keeps the old id; unmatched new
segments get fresh ids (never reused); active segments left unmatched are retired.

The registry keeps centroids in the indicators' own units, and matching maps them through
the new model's transforms: with automatic heavy-tail detection two retrains may
log-transform different indicators, and comparing a log-unit centroid with a raw-unit
one made every segment of a retrain on the generated data look new.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T
from scipy.optimize import linear_sum_assignment

from telcoseg.segmentation.model import MACRO, MICRO, SegmentationModel

log = logging.getLogger(__name__)

ACTIVE, RETIRED = "active", "retired"
ID_PREFIX = {MACRO: "macro-", MICRO: "micro-"}
ID_DIGITS = {MACRO: 2, MICRO: 3}

REGISTRY_SCHEMA = T.StructType(
    [
        T.StructField("segment_id", T.StringType(), False),
        T.StructField("level", T.StringType(), False),
        T.StructField("parent_id", T.StringType()),
        T.StructField("status", T.StringType(), False),
        T.StructField("model_version", T.IntegerType(), False),  # last model that had it
        T.StructField("centroid", T.ArrayType(T.DoubleType(), False)),
        T.StructField("indicators", T.ArrayType(T.StringType(), False)),
        T.StructField("size", T.LongType()),
        T.StructField("share", T.DoubleType()),
        T.StructField("match_distance", T.DoubleType()),  # to the centroid it replaced
        T.StructField("first_seen_version", T.IntegerType(), False),
        T.StructField("last_seen_version", T.IntegerType(), False),
        T.StructField("first_seen_at", T.TimestampType(), False),
        T.StructField("last_seen_at", T.TimestampType(), False),
        T.StructField("retired_version", T.IntegerType()),
    ]
)


@dataclass(frozen=True)
class Match:
    """A new centroid (row ``new``) paired with a previous one (row ``previous``)."""

    new: int
    previous: int
    distance: float


def centroid_distances(new: np.ndarray, previous: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """RMS per-dimension distance between every new and previous centroid, in units of
    ``scale`` (dimensions with zero or NaN scale, or NaN coordinates, are left out)."""
    usable = np.isfinite(scale) & (scale > 0)
    usable &= np.all(np.isfinite(new), axis=0) & np.all(np.isfinite(previous), axis=0)
    if not usable.any():
        return np.full((len(new), len(previous)), np.inf)
    a = new[:, usable] / scale[usable]
    b = previous[:, usable] / scale[usable]
    diff = a[:, None, :] - b[None, :, :]
    return np.sqrt(np.mean(diff**2, axis=2))


def match_centroids(
    new: np.ndarray, previous: np.ndarray, scale: np.ndarray, threshold: float
) -> list[Match]:
    """One-to-one matches minimizing total distance; pairs above ``threshold`` dropped."""
    if len(new) == 0 or len(previous) == 0:
        return []
    dist = centroid_distances(new, previous, scale)
    # Hungarian assignment on a finite cost (inf would make it infeasible).
    cost = np.where(np.isfinite(dist), dist, 1e9)
    rows, cols = linear_sum_assignment(cost)
    return [
        Match(int(r), int(c), float(dist[r, c]))
        for r, c in zip(rows, cols, strict=True)
        if dist[r, c] <= threshold
    ]


def _align(
    centroid: Sequence[float], indicators: Sequence[str], target: Sequence[str]
) -> np.ndarray:
    by_name = dict(zip(indicators, centroid, strict=True))
    return np.array([by_name.get(n, np.nan) for n in target], dtype=float)


def _next_number(rows: Sequence[dict[str, Any]], level: str) -> int:
    prefix = ID_PREFIX[level]
    numbers = [
        int(r["segment_id"][len(prefix) :])
        for r in rows
        if r["level"] == level and r["segment_id"].startswith(prefix)
    ]
    return max(numbers, default=0) + 1


@dataclass
class IdAssignment:
    """Outcome of matching: ids per segment key, and what was kept, new and retired."""

    ids: dict[tuple[str, int, int | None], tuple[str, str | None]]
    distances: dict[str, float]
    kept: list[str]
    new: list[str]
    retired: list[str]

    def summary(self) -> dict[str, int]:
        return {"kept": len(self.kept), "new": len(self.new), "retired": len(self.retired)}


def match_segments(
    model: SegmentationModel, registry: Sequence[dict[str, Any]], threshold: float
) -> IdAssignment:
    """Ids for ``model``'s segments given the registry rows of earlier models."""
    scale = np.array(model.scaler_std, dtype=float)
    ids: dict[tuple[str, int, int | None], tuple[str, str | None]] = {}
    distances: dict[str, float] = {}
    kept: list[str] = []
    new_ids: list[str] = []
    retired: list[str] = []
    for level in (MACRO, MICRO):
        segs = model.level(level)
        active = [r for r in registry if r["level"] == level and r["status"] == ACTIVE]
        new_c = np.array([s.center for s in segs], dtype=float).reshape(len(segs), -1)
        # Registry centroids are in the indicators' own units; map them through *this*
        # model's transforms (a retrain may log-transform a different set of indicators).
        prev_c = np.array(
            [
                model.to_transformed(_align(r["centroid"], r["indicators"], model.inputs))
                for r in active
            ],
            dtype=float,
        ).reshape(len(active), len(model.inputs))
        # Compare on indicators both models have.
        shared = np.all(np.isfinite(prev_c), axis=0) if len(active) else np.ones(0, bool)
        if len(active) and shared.mean() < 0.5:
            log.warning("segmentation: < half the indicators shared with the registry; no match")
            matches: list[Match] = []
        else:
            matches = match_centroids(new_c, prev_c, scale, threshold)
        by_new = {m.new: m for m in matches}
        number = _next_number(registry, level)
        for k, seg in enumerate(segs):
            if k in by_new:
                sid = active[by_new[k].previous]["segment_id"]
                distances[sid] = by_new[k].distance
                kept.append(sid)
            else:
                sid = f"{ID_PREFIX[level]}{number:0{ID_DIGITS[level]}d}"
                number += 1
                new_ids.append(sid)
            parent = None if level == MACRO else ids[(MACRO, seg.macro_index, None)][0]
            ids[seg.key] = (sid, parent)
        matched_prev = {m.previous for m in matches}
        retired += [r["segment_id"] for i, r in enumerate(active) if i not in matched_prev]
    log.info(
        "segmentation ids: %d kept, %d new, %d retired (threshold %.2f sd)",
        len(kept),
        len(new_ids),
        len(retired),
        threshold,
    )
    return IdAssignment(ids, distances, kept, new_ids, retired)


def updated_registry(
    registry: Sequence[dict[str, Any]],
    model: SegmentationModel,
    assignment: IdAssignment,
    model_version: int,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The registry after ``model_version``: its segments active, unmatched ones retired,
    earlier retired ones unchanged. One row per segment id."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    previous = {r["segment_id"]: dict(r) for r in registry}
    totals = {lvl: sum(s.size for s in model.level(lvl)) or 1 for lvl in (MACRO, MICRO)}
    out: dict[str, dict[str, Any]] = {}
    for seg in model.segments:
        sid, parent = assignment.ids[seg.key]
        before = previous.get(sid, {})
        out[sid] = {
            "segment_id": sid,
            "level": seg.level,
            "parent_id": parent,
            "status": ACTIVE,
            "model_version": model_version,
            "centroid": [float(v) for v in model.to_real_units(seg.center)],
            "indicators": list(model.inputs),
            "size": int(seg.size),
            "share": seg.size / totals[seg.level],
            "match_distance": assignment.distances.get(sid),
            "first_seen_version": before.get("first_seen_version", model_version),
            "last_seen_version": model_version,
            "first_seen_at": before.get("first_seen_at", now),
            "last_seen_at": now,
            "retired_version": None,
        }
    for sid, row in previous.items():
        if sid in out:
            continue
        if sid in assignment.retired:
            row = {**row, "status": RETIRED, "retired_version": model_version}
        out[sid] = row
    return sorted(out.values(), key=lambda r: (r["level"] != MACRO, r["segment_id"]))


def registry_df(spark: SparkSession, rows: Sequence[dict[str, Any]]) -> DataFrame:
    """The registry rows as a DataFrame with :data:`REGISTRY_SCHEMA`."""
    names = REGISTRY_SCHEMA.names
    return spark.createDataFrame([tuple(r.get(n) for n in names) for r in rows], REGISTRY_SCHEMA)


def registry_rows(df: DataFrame) -> list[dict[str, Any]]:
    """Collect a (small) registry table into plain dicts."""
    return [r.asDict(recursive=True) for r in df.collect()]
