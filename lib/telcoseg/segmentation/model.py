"""The segmentation model: preparation pipeline + macro/micro bisecting k-means + segment ids.

Persisted as one directory (Spark ML's own formats plus ``segments.json``) so it can be
logged to MLflow as plain artifacts and loaded by version without extra jars::

    <dir>/preparation/      PipelineModel
    <dir>/macro/            BisectingKMeansModel
    <dir>/micro/<i>/        BisectingKMeansModel of macro segment i (absent: not split)
    <dir>/segments.json     inputs, segments (ids, parents, centroids), diagnostics
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import reduce
from typing import Any

import numpy as np
from pyspark.ml import PipelineModel
from pyspark.ml.clustering import BisectingKMeansModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.segmentation.hierarchy import MACRO_PRED, MICRO_PRED, Hierarchy, fit_hierarchy
from telcoseg.segmentation.preparation import (
    FEATURES,
    KEY_COLUMNS,
    fit_preparation_with_transforms,
    scaler_of,
)
from telcoseg.segmentation.settings import Settings
from telcoseg.session import for_iterative_fitting

log = logging.getLogger(__name__)

MACRO, MICRO = "macro", "micro"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Segment:
    """One macro or micro segment of a model.

    ``center`` is in transformed units (after imputation and the heavy-tail transform,
    before scaling), so models with different scalers can be compared.
    """

    level: str
    macro_index: int
    micro_index: int | None
    size: int
    center: tuple[float, ...]
    segment_id: str | None = None
    parent_id: str | None = None

    @property
    def key(self) -> tuple[str, int, int | None]:
        return (self.level, self.macro_index, self.micro_index)


@dataclass
class SegmentationModel:
    """A fitted segmentation: what :func:`assign` needs, and what id matching compares."""

    preparation: PipelineModel
    macro: BisectingKMeansModel
    micro: dict[int, BisectingKMeansModel]
    inputs: list[str]
    scaler_mean: list[float]
    scaler_std: list[float]
    segments: list[Segment]
    info: dict[str, Any] = field(default_factory=dict)

    def level(self, level: str) -> list[Segment]:
        return [s for s in self.segments if s.level == level]

    def signed_log_mask(self) -> np.ndarray:
        """Per input: did the preparation apply ``sign(x) * ln(1 + |x|)`` to it?"""
        chosen = set(self.info.get("signed_log_inputs", []))
        return np.array([c in chosen for c in self.inputs], dtype=bool)

    def to_real_units(self, center: Sequence[float]) -> np.ndarray:
        """A center in transformed units mapped back to the indicators' own units."""
        x = np.array(center, dtype=float)
        mask = self.signed_log_mask()
        x[mask] = np.sign(x[mask]) * np.expm1(np.abs(x[mask]))
        return x

    def to_transformed(self, values: Sequence[float]) -> np.ndarray:
        """Values in the indicators' own units mapped into this model's transformed units."""
        x = np.array(values, dtype=float)
        mask = self.signed_log_mask()
        x[mask] = np.sign(x[mask]) * np.log1p(np.abs(x[mask]))
        return x

    def with_ids(self, ids: dict[tuple[str, int, int | None], tuple[str, str | None]]) -> None:
        """Set ``(segment_id, parent_id)`` per segment key (from stable-id matching)."""
        self.segments = [
            replace(s, segment_id=ids[s.key][0], parent_id=ids[s.key][1]) for s in self.segments
        ]

    # ------------------------------------------------------------------ persistence

    def save(self, path: str) -> None:
        """Write the model directory (overwrites Spark ML parts of an existing one)."""
        self.preparation.write().overwrite().save(os.path.join(path, "preparation"))
        self.macro.write().overwrite().save(os.path.join(path, "macro"))
        for i, model in self.micro.items():
            model.write().overwrite().save(os.path.join(path, "micro", str(i)))
        meta = {
            "format_version": FORMAT_VERSION,
            "inputs": self.inputs,
            "scaler_mean": self.scaler_mean,
            "scaler_std": self.scaler_std,
            "micro_split": sorted(self.micro),
            "segments": [asdict(s) for s in self.segments],
            "info": self.info,
        }
        with open(os.path.join(path, "segments.json"), "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=1, default=str)

    @classmethod
    def load(cls, path: str) -> SegmentationModel:
        """Read a directory written by :meth:`save`."""
        with open(os.path.join(path, "segments.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
        segments = [
            Segment(**{**s, "center": tuple(s["center"])})  # JSON has lists
            for s in meta["segments"]
        ]
        return cls(
            preparation=PipelineModel.load(os.path.join(path, "preparation")),
            macro=BisectingKMeansModel.load(os.path.join(path, "macro")),
            micro={
                int(i): BisectingKMeansModel.load(os.path.join(path, "micro", str(i)))
                for i in meta["micro_split"]
            },
            inputs=list(meta["inputs"]),
            scaler_mean=list(meta["scaler_mean"]),
            scaler_std=list(meta["scaler_std"]),
            segments=segments,
            info=dict(meta["info"]),
        )


# ---------------------------------------------------------------------- training


def _sample_rows(df: DataFrame, size: int, seed: int) -> tuple[DataFrame, int]:
    n = df.count()
    if n <= size:
        return df, n
    return df.sample(fraction=min(1.0, 1.05 * size / n), seed=seed).limit(size), n


def _to_transformed(center: np.ndarray, std: np.ndarray) -> tuple[float, ...]:
    # The scaler divides by std without centring (see preparation).
    return tuple(float(v) for v in center * std)


def settings_dict(settings: Settings) -> dict[str, Any]:
    """``settings`` as JSON-ready data (recorded with the model and logged as params)."""
    out: dict[str, Any] = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if f.name == "categorical":
            value = {k: list(v) for k, v in value.items()}
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def train(vectors_df: DataFrame, settings: Settings) -> SegmentationModel:
    """Fit preparation and hierarchy on (a sample of) ``vectors_df``; ids are not set yet.

    Clustering needs a sample, not everyone: at most ``train_sample_size`` rows are used,
    and every subscriber is scored by :func:`assign` afterwards.
    """
    sample_df, n_total = _sample_rows(vectors_df, settings.train_sample_size, settings.seed)
    sample_df = sample_df.persist()
    preparation, inputs, signed_log = fit_preparation_with_transforms(sample_df, settings)
    prepared = for_iterative_fitting(preparation.transform(sample_df).select(FEATURES))
    prepared = prepared.persist()
    hierarchy: Hierarchy = fit_hierarchy(prepared, settings)
    prepared.unpersist()
    sample_df.unpersist()
    scaler = scaler_of(preparation)
    mean, std = scaler.mean.toArray(), scaler.std.toArray()
    segments: list[Segment] = []
    macro_centers = hierarchy.macro.clusterCenters()
    for i, center in enumerate(macro_centers):
        segments.append(
            Segment(MACRO, i, None, hierarchy.macro_sizes[i], _to_transformed(center, std))
        )
        if i in hierarchy.micro:
            micro_centers = hierarchy.micro[i].clusterCenters()
            for j, mc in enumerate(micro_centers):
                size = hierarchy.micro_sizes[i][j]
                segments.append(Segment(MICRO, i, j, size, _to_transformed(mc, std)))
        else:
            segments.append(Segment(MICRO, i, 0, hierarchy.macro_sizes[i], segments[-1].center))
    info = {
        **hierarchy.info,
        "signed_log_inputs": signed_log,
        "population_rows": n_total,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "settings": settings_dict(settings),
    }
    return SegmentationModel(
        preparation=preparation,
        macro=hierarchy.macro,
        micro=hierarchy.micro,
        inputs=inputs,
        scaler_mean=[float(v) for v in mean],
        scaler_std=[float(v) for v in std],
        segments=segments,
        info=info,
    )


# ---------------------------------------------------------------------- assignment

ASSIGNMENT_SCHEMA = T.StructType(
    [
        T.StructField("__m", T.IntegerType(), False),
        T.StructField("__u", T.IntegerType(), False),
        T.StructField("macro_segment_id", T.StringType(), False),
        T.StructField("micro_segment_id", T.StringType(), False),
    ]
)


def segment_lookup(spark: SparkSession, model: SegmentationModel) -> DataFrame:
    """(macro index, micro index) -> stable ids, small enough to broadcast."""
    macro_ids = {s.macro_index: s.segment_id for s in model.level(MACRO)}
    rows = [
        (s.macro_index, s.micro_index, macro_ids[s.macro_index], s.segment_id)
        for s in model.level(MICRO)
    ]
    if any(r[2] is None or r[3] is None for r in rows):
        raise ValueError("segment ids are not set: run stable-id matching before assigning")
    return spark.createDataFrame(rows, ASSIGNMENT_SCHEMA)


def with_segment_indices(model: SegmentationModel, df: DataFrame) -> DataFrame:
    """``df`` + preparation columns + ``__macro`` and ``__micro`` indices.

    Each macro segment's micro model scores only that segment's rows, so the input is
    scanned once per macro segment: cache it if it is expensive to compute.
    """
    prepared = model.preparation.transform(df)
    with_macro = model.macro.copy({model.macro.predictionCol: MACRO_PRED}).transform(prepared)
    parts = []
    for i in range(len(model.level(MACRO))):
        part = with_macro.filter(F.col(MACRO_PRED) == i)
        if i in model.micro:
            micro = model.micro[i]
            part = micro.copy({micro.predictionCol: MICRO_PRED}).transform(part)
        else:
            part = part.withColumn(MICRO_PRED, F.lit(0))
        parts.append(part)
    return reduce(lambda a, b: a.unionByName(b), parts)


def assign(model: SegmentationModel, df: DataFrame, keep: tuple[str, ...] = ()) -> DataFrame:
    """``subscriber_id, snapshot_date, macro_segment_id, micro_segment_id`` (+ ``keep``)."""
    lookup = F.broadcast(segment_lookup(df.sparkSession, model))
    scored = with_segment_indices(model, df)
    keys = [c for c in KEY_COLUMNS if c in df.columns]
    joined = scored.join(
        lookup,
        on=(F.col(MACRO_PRED) == lookup["__m"]) & (F.col(MICRO_PRED) == lookup["__u"]),
        how="inner",
    )
    return joined.select(*keys, "macro_segment_id", "micro_segment_id", *keep)
