"""One privacy-safe release: aggregate in Spark, then suppress, check and add noise on the driver.

Only the aggregated table (one row per cell, a few hundred at most) reaches the driver;
row-level work stays in built-in Spark functions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.privacy.dp import make_noise, noisy_counts, noisy_means
from telcoseg.privacy.kanon import SUPPRESSED, check_k_anonymity, suppress
from telcoseg.privacy.settings import Settings

log = logging.getLogger(__name__)

COUNT = "subscribers"  # the published (noisy) count column
_N = "_n"  # the true count: never leaves this module


@dataclass(frozen=True)
class Release:
    """What one release publishes and how it was protected (the report shows the latter)."""

    table: str
    data: pd.DataFrame
    dims: tuple[str, ...]
    epsilon: float
    mechanism: str
    count_scale: float
    cells: int
    suppressed_primary: int
    suppressed_complementary: int
    means: tuple[str, ...] = ()
    unbounded: tuple[str, ...] = ()  # asked-for means without clamp bounds: not published
    notes: tuple[str, ...] = field(default_factory=tuple)


def bound_contributions(
    df: DataFrame, order_by: Sequence[str], key: str = "subscriber_id", max_rows: int = 1
) -> DataFrame:
    """Keep at most ``max_rows`` rows per subscriber (the first by ``order_by``).

    This is what bounds a subscriber's influence on a release (its sensitivity).
    """
    w = Window.partitionBy(key).orderBy(*[F.col(c).asc_nulls_last() for c in order_by])
    rn = F.row_number().over(w.rowsBetween(Window.unboundedPreceding, Window.currentRow))
    return df.withColumn("_rn", rn).where(F.col("_rn") <= max_rows).drop("_rn")


def _sum_col(column: str) -> str:
    return f"_sum_{column}"


def aggregate(
    df: DataFrame, dims: Sequence[str], means: Sequence[str], settings: Settings
) -> pd.DataFrame:
    """True counts (and sums of clamped, centred values) per cell, collected to the driver.

    ``df`` must hold one row per subscriber (see :func:`bound_contributions`). Means
    without configured clamp bounds are left out.
    """
    aggs = [F.count(F.lit(1)).alias(_N)]
    for m in means:
        bounds = settings.bounds_for(m)
        if bounds is None:
            continue
        lo, hi = bounds
        clamped = F.least(F.greatest(F.col(m).cast("double"), F.lit(lo)), F.lit(hi))
        # A missing value counts as the midpoint: it adds nothing to the centred sum.
        aggs.append(
            F.sum(F.coalesce(clamped - F.lit((lo + hi) / 2), F.lit(0.0))).alias(_sum_col(m))
        )
    keyed = df.select(
        *[F.coalesce(F.col(d).cast("string"), F.lit("unknown")).alias(d) for d in dims],
        *[F.col(m) for m in means],
    )
    rows = keyed.groupBy(*dims).agg(*aggs).collect() if dims else keyed.agg(*aggs).collect()
    names = [*dims, _N, *[_sum_col(m) for m in means if settings.bounds_for(m)]]
    return pd.DataFrame([r.asDict() for r in rows], columns=names)


def release_crosstab(
    cells: pd.DataFrame,
    table: str,
    dims: Sequence[str],
    means: Sequence[str],
    settings: Settings,
    count: str = _N,
) -> Release:
    """Suppress small cells, check k on every row to publish, add calibrated noise.

    ``cells`` is :func:`aggregate`'s output (true counts in ``count``).
    """
    k = settings.k
    cells = cells.rename(columns={count: _N})
    bounded = [m for m in means if settings.bounds_for(m) is not None]
    unbounded = tuple(m for m in means if settings.bounds_for(m) is None)
    epsilon = settings.epsilon_for(table)
    parts = 1 + len(bounded)
    eps_part, delta_part = epsilon / parts, settings.delta / parts
    delta = delta_part if settings.mechanism == "gaussian" else 0.0
    marked = suppress(cells, list(dims), k, count=_N)
    kept = marked[~marked[SUPPRESSED]].reset_index(drop=True)
    check_k_anonymity(kept, k, count=_N, table=table)
    scale = make_noise(eps_part, 1, settings.mechanism, delta).scale
    noisy_n = noisy_counts(kept[_N].tolist(), eps_part, 1, settings.mechanism, delta)
    out = kept[list(dims)].copy()
    out[COUNT] = pd.Series(noisy_n, dtype="int64")
    for m in bounded:
        bounds = settings.bounds_for(m)
        assert bounds is not None
        out[f"mean_{m}"] = noisy_means(
            kept[_sum_col(m)].tolist(), noisy_n, bounds, eps_part, settings.mechanism, delta
        )
    n_primary = int((marked["suppression"] == "primary").sum())
    n_compl = int((marked["suppression"] == "complementary").sum())
    log.info(
        "release %s: %d cell(s) published, %d suppressed (%d primary, %d complementary), "
        "epsilon %.3g",
        table,
        len(out),
        n_primary + n_compl,
        n_primary,
        n_compl,
        epsilon,
    )
    return Release(
        table=table,
        data=out,
        dims=tuple(dims),
        epsilon=epsilon,
        mechanism=settings.mechanism,
        count_scale=scale,
        cells=len(marked),
        suppressed_primary=n_primary,
        suppressed_complementary=n_compl,
        means=tuple(bounded),
        unbounded=unbounded,
    )


# ----------------------------------------------------------------- already-aggregated inputs

SIZE_NAMES = ("n", "count", "size", "subscribers", "n_subscribers", "population", "sent")
SIZE_NAMES += ("n_sent", "support", "group_size", "n_total", "total")
KEY_INT_NAMES = ("decile", "bucket", "bin", "rank", "quantile", "segment", "percentile")
# Keys that split an aggregated input into independent tables (margins stay inside one).
STACK_KEYS = ("outcome", "attribute", "model_name", "model", "target", "campaign_id", "metric")
RATE_NAMES = ("rate", "response_rate", "positive_rate", "conversion_rate", "base_rate")
POSITIVE_NAMES = ("positives", "n_positive", "n_positives", "conversions", "converted")
POSITIVE_NAMES += ("n_converted", "responders", "hits", "n_hits")


@dataclass(frozen=True)
class InputShape:
    """How an aggregated input table's columns were read (listed in the report)."""

    keys: tuple[str, ...]
    size: str | None
    counts: tuple[str, ...]
    metrics: tuple[str, ...]  # float columns that are not recomputed from noisy counts


def read_shape(schema: T.StructType) -> InputShape:
    """Guess keys, the size column, count columns and metric columns from names and types."""
    keys, counts, metrics = [], [], []
    skip = {"subscriber_id", "snapshot_date", "model_version", "run_id", "created_at"}
    for f in schema.fields:
        name, tp = f.name, f.dataType
        if name in skip:
            continue
        is_int = isinstance(tp, T.IntegerType | T.LongType | T.ShortType | T.ByteType)
        if isinstance(tp, T.StringType | T.BooleanType) or (
            is_int and (name.endswith("_id") or any(w in name for w in KEY_INT_NAMES))
        ):
            keys.append(name)
        elif is_int:
            counts.append(name)
        elif isinstance(tp, T.FloatType | T.DoubleType | T.DecimalType):
            metrics.append(name)
    size = next((c for c in SIZE_NAMES if c in counts), None)
    return InputShape(tuple(keys), size, tuple(counts), tuple(metrics))


def release_aggregate_input(
    pdf: pd.DataFrame, table: str, shape: InputShape, settings: Settings
) -> Release:
    """Publish an already-aggregated table (model evaluation, fairness audit, campaigns).

    Rows need a size column (subscribers per row); rows under k are suppressed with
    the same complementary rule. Every integer count gets noise with the configured
    sensitivity (rows one subscriber can add to). Rates and lifts are recomputed from
    the noisy counts when a positives column exists; other float metrics are kept as
    computed (model metrics) and the report flags them as not noised.
    """
    notes: list[str] = []
    if shape.size is None:
        raise ValueError(f"{table}: no size column among {SIZE_NAMES}; cannot check k")
    k = settings.k
    sens = settings.input_sensitivity.get(table, 1)
    epsilon = settings.epsilon_for(table)
    delta = settings.delta / len(shape.counts) if settings.mechanism == "gaussian" else 0.0
    eps_part = epsilon / len(shape.counts)
    cells = pdf.copy()
    for key in shape.keys:
        cells[key] = cells[key].astype("string").fillna("unknown")
    cells = cells.rename(columns={shape.size: _N})
    fixed = [c for c in shape.keys if c in STACK_KEYS]
    marked = suppress(cells, list(shape.keys), k, count=_N, fixed=fixed)
    kept = marked[~marked[SUPPRESSED]].reset_index(drop=True)
    check_k_anonymity(kept, k, count=_N, table=table)
    out = kept[list(shape.keys)].copy()
    scale = make_noise(eps_part, sens, settings.mechanism, delta).scale
    for c in shape.counts:
        src = _N if c == shape.size else c
        values = kept[src].fillna(0).astype("int64").tolist()
        out[c] = pd.Series(
            noisy_counts(values, eps_part, sens, settings.mechanism, delta), dtype="int64"
        )
    positives = next((c for c in POSITIVE_NAMES if c in shape.counts), None)
    metrics = list(shape.metrics)
    if positives is not None:
        rate = out[positives] / out[shape.size].where(out[shape.size] > 0)
        for r in [m for m in metrics if m in RATE_NAMES]:
            out[r] = rate.clip(0, 1)
            metrics.remove(r)
        if "lift" in metrics:
            group = [c for c in shape.keys if not any(w in c for w in KEY_INT_NAMES)]
            tot = out.groupby(group, dropna=False)[[positives, shape.size]].transform("sum")
            base = tot[positives] / tot[shape.size].where(tot[shape.size] > 0)
            out["lift"] = rate.clip(0, 1) / base.where(base > 0)
            metrics.remove("lift")
        notes.append(f"rates and lift recomputed from noisy {positives}/{shape.size}")
    for m in metrics:
        out[m] = kept[m].astype("float64").round(3)
    if metrics:
        notes.append(f"model metrics shown as computed, not noised: {', '.join(metrics)}")
    n_primary = int((marked["suppression"] == "primary").sum())
    n_compl = int((marked["suppression"] == "complementary").sum())
    return Release(
        table=table,
        data=out,
        dims=shape.keys,
        epsilon=epsilon,
        mechanism=settings.mechanism,
        count_scale=scale,
        cells=len(marked),
        suppressed_primary=n_primary,
        suppressed_complementary=n_compl,
        notes=tuple(notes),
    )
