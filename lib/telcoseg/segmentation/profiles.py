"""Segment profiles people can read: size, share, distinguishing indicators, medians, name.

The standardized difference of an indicator for a segment is
``(segment mean - population mean) / population sd`` of the indicator *as the model sees
it* (imputed, heavy-tail transformed), so a heavy tail cannot dominate. Typical values
are medians in real units (before any transform; for 0/1 flags the share instead).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.segmentation.model import MACRO, MICRO, SegmentationModel, assign
from telcoseg.segmentation.naming import readable, segment_name, unique_names
from telcoseg.segmentation.preparation import FEATURES, RAW

_VALUE = T.StructType(
    [
        T.StructField("indicator", T.StringType(), False),
        T.StructField("label", T.StringType(), False),
        T.StructField("z", T.DoubleType()),
        T.StructField("segment_value", T.DoubleType()),
        T.StructField("population_value", T.DoubleType()),
    ]
)

PROFILE_SCHEMA = T.StructType(
    [
        T.StructField("model_version", T.IntegerType(), False),
        T.StructField("snapshot_date", T.DateType()),
        T.StructField("level", T.StringType(), False),
        T.StructField("segment_id", T.StringType(), False),
        T.StructField("parent_id", T.StringType()),
        T.StructField("name", T.StringType(), False),
        T.StructField("size", T.LongType(), False),
        T.StructField("share", T.DoubleType(), False),
        T.StructField("distinguishing", T.ArrayType(_VALUE, False), False),
        T.StructField("typical_values", T.ArrayType(_VALUE, False), False),
    ]
)


def is_flag(indicator: str, model: SegmentationModel) -> bool:
    """0/1 indicators made from categorical columns (their typical value is a share)."""
    categorical = model.info.get("settings", {}).get("categorical", {})
    return any(indicator.startswith(f"{c}__") for c in categorical)


def _stats(df: DataFrame, inputs: Sequence[str], model: SegmentationModel) -> list[Any]:
    arr = vector_to_array(F.col(FEATURES))
    aggs = [F.count(F.lit(1)).alias("n")]
    for j, name in enumerate(inputs):
        aggs.append(F.avg(arr[j]).alias(f"z{j}"))
        raw = F.col(f"`{RAW + name}`")
        typical = F.avg(raw) if is_flag(name, model) else F.percentile_approx(raw, 0.5, 1000)
        aggs.append(typical.alias(f"v{j}"))
    return aggs


def segment_statistics(
    scored_df: DataFrame, model: SegmentationModel
) -> tuple[dict[str, Any], dict[str, dict[str, dict[str, Any]]]]:
    """Population statistics and, per level and segment id, the segment's statistics."""
    inputs = model.inputs
    arr = vector_to_array(F.col(FEATURES))
    pop_sd = scored_df.agg(*[F.stddev_pop(arr[j]).alias(f"sd{j}") for j in range(len(inputs))])
    population = scored_df.agg(*_stats(scored_df, inputs, model)).crossJoin(pop_sd).first()
    assert population is not None
    by_level: dict[str, dict[str, dict[str, Any]]] = {}
    for level, column in ((MACRO, "macro_segment_id"), (MICRO, "micro_segment_id")):
        rows = scored_df.groupBy(column).agg(*_stats(scored_df, inputs, model)).collect()
        by_level[level] = {r[column]: r.asDict() for r in rows}
    return population.asDict(), by_level


def profile_rows(
    scored_df: DataFrame,
    model: SegmentationModel,
    model_version: int,
    snapshot_date: dt.date | None = None,
    top_n: int = 5,
    min_z: float = 0.4,
) -> list[dict[str, Any]]:
    """One profile per segment of ``model`` over ``scored_df`` (output of
    :func:`scored_for_profiles`). Segments with no rows get size 0 and no values."""
    population, by_level = segment_statistics(scored_df, model)
    n_pop = population["n"] or 1
    out: list[dict[str, Any]] = []
    for level in (MACRO, MICRO):
        level_rows = []
        for seg in model.level(level):
            stats = by_level[level].get(seg.segment_id)
            values = []
            for j, name in enumerate(model.inputs):
                sd = population[f"sd{j}"]
                mean_z = stats[f"z{j}"] if stats else None
                z = (
                    (mean_z - population[f"z{j}"]) / sd
                    if stats and sd and mean_z is not None
                    else None
                )
                values.append(
                    {
                        "indicator": name,
                        "label": readable(name),
                        "z": z,
                        "segment_value": _num(stats[f"v{j}"]) if stats else None,
                        "population_value": _num(population[f"v{j}"]),
                    }
                )
            ranked = sorted(
                (v for v in values if v["z"] is not None and abs(v["z"]) >= min_z),
                key=lambda v: -abs(v["z"]),
            )[:top_n]
            size = int(stats["n"]) if stats else 0
            level_rows.append(
                {
                    "model_version": model_version,
                    "snapshot_date": snapshot_date,
                    "level": level,
                    "segment_id": seg.segment_id,
                    "parent_id": seg.parent_id,
                    "name": segment_name([(v["indicator"], v["z"]) for v in ranked], min_z=min_z),
                    "size": size,
                    "share": size / n_pop,
                    "distinguishing": ranked,
                    "typical_values": values,
                }
            )
        names = unique_names([r["name"] for r in level_rows], [r["segment_id"] for r in level_rows])
        for row, name in zip(level_rows, names, strict=True):
            row["name"] = name
        out += level_rows
    return out


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def scored_for_profiles(model: SegmentationModel, vectors_df: DataFrame) -> DataFrame:
    """Assignment plus what profiles need: the feature vector and raw indicator values."""
    keep = (FEATURES, *[RAW + c for c in model.inputs])
    return assign(model, vectors_df, keep=keep)


def profiles_df(spark: SparkSession, rows: Sequence[dict[str, Any]]) -> DataFrame:
    """Profile rows as a DataFrame with :data:`PROFILE_SCHEMA` (the Delta table)."""
    names = PROFILE_SCHEMA.names
    return spark.createDataFrame([tuple(r[n] for n in names) for r in rows], PROFILE_SCHEMA)


def profiles_json(rows: Sequence[dict[str, Any]]) -> str:
    """The profiles as JSON (the MLflow artifact and what the report reads)."""
    return json.dumps(list(rows), indent=1, default=str)
