"""A/B analysis of sent campaigns, per campaign and micro segment.

Spark only aggregates (n and conversions per arm per campaign x micro segment, plus one
``ALL`` row per campaign); the statistics run in plain Python/scipy on that small table:

* absolute lift ``p_t - p_c`` with Newcombe's hybrid score interval (or Wald),
* relative lift ``p_t / p_c - 1`` with a delta-method interval on ``log(p_t / p_c)``,
* two-sided pooled two-proportion z-test (Fisher's exact test when an expected cell
  count is below 5), Benjamini-Hochberg (or Holm) across the segments of one campaign,
* sample-ratio mismatch: chi-square of the arm counts against the planned control share,
* a small-sample warning (too few subjects or conversions in an arm).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pyspark.sql.functions as F
from pyspark.sql import DataFrame, Window
from pyspark.sql import types as T
from scipy import stats

from telcoseg.campaigns.settings import Settings
from telcoseg.errors import SchemaMismatchError

ALL_SEGMENTS = "ALL"
UNASSIGNED = "unassigned"

COUNTS_SCHEMA = T.StructType(
    [
        T.StructField("campaign_id", T.StringType(), False),
        T.StructField("offer", T.StringType()),
        T.StructField("micro_segment_id", T.StringType(), False),
        T.StructField("n_treatment", T.LongType(), False),
        T.StructField("conversions_treatment", T.LongType(), False),
        T.StructField("n_control", T.LongType(), False),
        T.StructField("conversions_control", T.LongType(), False),
    ]
)

_D = T.DoubleType()
AB_SCHEMA = T.StructType(
    [
        *COUNTS_SCHEMA.fields,
        T.StructField("rate_treatment", _D),
        T.StructField("rate_control", _D),
        T.StructField("abs_lift", _D),
        T.StructField("abs_lift_lo", _D),
        T.StructField("abs_lift_hi", _D),
        T.StructField("rel_lift", _D),
        T.StructField("rel_lift_lo", _D),
        T.StructField("rel_lift_hi", _D),
        T.StructField("z", _D),
        T.StructField("p_value", _D),
        T.StructField("test", T.StringType()),  # z, or fisher when an expected count < 5
        T.StructField("p_adjusted", _D),
        T.StructField("is_significant", T.BooleanType()),
        T.StructField("control_share_planned", _D),
        T.StructField("control_share_observed", _D),
        T.StructField("srm_p_value", _D),
        T.StructField("has_srm", T.BooleanType()),
        T.StructField("is_small_sample", T.BooleanType()),
        T.StructField("warnings", T.StringType()),
        T.StructField("snapshot_date", T.DateType(), False),
    ]
)


# --------------------------------------------------------------------------- statistics


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def diff_ci(
    x_t: int, n_t: int, x_c: int, n_c: int, confidence: float = 0.95
) -> tuple[float, float, float, float]:
    """Difference of proportions ``p_t - p_c``: (diff, Wald SE, lower, upper)."""
    p_t, p_c = x_t / n_t, x_c / n_c
    se = math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    diff = p_t - p_c
    half = _z(confidence) * se
    return diff, se, diff - half, diff + half


def wilson_ci(x: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of one proportion (stays inside [0, 1], sane at x = 0)."""
    z = _z(confidence)
    p = x / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, center - half), min(1.0, center + half)


def newcombe_ci(
    x_t: int, n_t: int, x_c: int, n_c: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Difference of proportions with Newcombe's hybrid score interval: (diff, lower, upper).

    Combines the two Wilson intervals (Newcombe 1998, method 10). Unlike Wald it does not
    collapse when an arm has 0 conversions, which small micro segments often do.
    """
    p_t, p_c = x_t / n_t, x_c / n_c
    l_t, u_t = wilson_ci(x_t, n_t, confidence)
    l_c, u_c = wilson_ci(x_c, n_c, confidence)
    diff = p_t - p_c
    lower = diff - math.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2)
    upper = diff + math.sqrt((u_t - p_t) ** 2 + (p_c - l_c) ** 2)
    return diff, lower, upper


def ratio_ci(
    x_t: int, n_t: int, x_c: int, n_c: int, confidence: float = 0.95
) -> tuple[float, float, float] | None:
    """Relative lift ``p_t/p_c - 1`` with a delta-method CI on the log ratio.

    ``Var(log p_hat) ~ (1 - p) / (n p) = 1/x - 1/n``. None when either arm has no
    conversion (the log ratio is then undefined).
    """
    if x_t == 0 or x_c == 0:
        return None
    log_rr = math.log((x_t / n_t) / (x_c / n_c))
    se = math.sqrt(1 / x_t - 1 / n_t + 1 / x_c - 1 / n_c)
    half = _z(confidence) * se
    return math.exp(log_rr) - 1, math.exp(log_rr - half) - 1, math.exp(log_rr + half) - 1


def two_proportion_z(x_t: int, n_t: int, x_c: int, n_c: int) -> tuple[float, float]:
    """Pooled two-proportion z-test: (z, two-sided p). (0, 1) when nobody/everybody converted."""
    pooled = (x_t + x_c) / (n_t + n_c)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    if se == 0:
        return 0.0, 1.0
    z = (x_t / n_t - x_c / n_c) / se
    return z, float(2 * stats.norm.sf(abs(z)))


def fisher_p(x_t: int, n_t: int, x_c: int, n_c: int) -> float:
    """Two-sided Fisher exact p-value of the 2x2 table (used when counts are small)."""
    table = [[x_t, n_t - x_t], [x_c, n_c - x_c]]
    return float(stats.fisher_exact(table, alternative="two-sided").pvalue)


def needs_exact_test(x_t: int, n_t: int, x_c: int, n_c: int) -> bool:
    """True when an expected cell count is below 5: the z-test's normal approximation fails."""
    pooled = (x_t + x_c) / (n_t + n_c)
    expected = (n_t * pooled, n_t * (1 - pooled), n_c * pooled, n_c * (1 - pooled))
    return min(expected) < 5


def bh_adjust(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1), input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):  # from the largest p down keeps the adjustment monotone
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = running
    return adjusted


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error), input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def srm_p_value(n_t: int, n_c: int, control_share: float) -> float:
    """Chi-square (1 df) p-value of the arm sizes against the planned control share."""
    n = n_t + n_c
    if n == 0:
        return 1.0
    expected = (n * (1 - control_share), n * control_share)
    chi2 = sum((o - e) ** 2 / e for o, e in zip((n_t, n_c), expected, strict=True))
    return float(stats.chi2.sf(chi2, df=1))


@dataclass(frozen=True)
class ArmCounts:
    """One row of the aggregated table."""

    campaign_id: str
    offer: str | None
    micro_segment_id: str
    n_treatment: int
    conversions_treatment: int
    n_control: int
    conversions_control: int


def analyze_counts(
    counts: Sequence[ArmCounts], settings: Settings, snapshot_date: dt.date
) -> list[dict[str, Any]]:
    """Statistics for every row; corrections run per campaign over its segment rows."""
    conf = settings.confidence
    out: list[dict[str, Any]] = []
    for c in counts:
        row: dict[str, Any] = asdict(c)
        n_t, x_t, n_c, x_c = (
            c.n_treatment,
            c.conversions_treatment,
            c.n_control,
            c.conversions_control,
        )
        warnings: list[str] = []
        row.update(
            rate_treatment=x_t / n_t if n_t else None,
            rate_control=x_c / n_c if n_c else None,
            abs_lift=None,
            abs_lift_lo=None,
            abs_lift_hi=None,
            rel_lift=None,
            rel_lift_lo=None,
            rel_lift_hi=None,
            z=None,
            p_value=None,
            test=None,
        )
        if n_t and n_c:
            if settings.diff_interval == "newcombe":
                d, lo, hi = newcombe_ci(x_t, n_t, x_c, n_c, conf)
            else:
                d, _se, lo, hi = diff_ci(x_t, n_t, x_c, n_c, conf)
            row.update(abs_lift=d, abs_lift_lo=lo, abs_lift_hi=hi)
            rel = ratio_ci(x_t, n_t, x_c, n_c, conf)
            if rel is None:
                warnings.append("no_conversions_in_an_arm")
            else:
                row.update(rel_lift=rel[0], rel_lift_lo=rel[1], rel_lift_hi=rel[2])
            z, p = two_proportion_z(x_t, n_t, x_c, n_c)
            test = "z"
            if needs_exact_test(x_t, n_t, x_c, n_c):
                p, test = fisher_p(x_t, n_t, x_c, n_c), "fisher"
            row.update(z=z, p_value=p, test=test)
        else:
            warnings.append("empty_arm")
        planned = settings.control_share(c.campaign_id)
        srm_p = srm_p_value(n_t, n_c, planned)
        has_srm = srm_p < settings.srm_alpha
        if has_srm:
            warnings.append("sample_ratio_mismatch")
        small = min(n_t, n_c) < settings.min_per_arm or min(x_t, x_c) < settings.min_conversions
        if small:
            warnings.append("small_sample")
        row.update(
            control_share_planned=planned,
            control_share_observed=n_c / (n_t + n_c) if n_t + n_c else None,
            srm_p_value=srm_p,
            has_srm=has_srm,
            is_small_sample=small,
            warnings=",".join(warnings),
            snapshot_date=snapshot_date,
        )
        out.append(row)
    _adjust(out, settings)
    return out


def _adjust(rows: list[dict[str, Any]], settings: Settings) -> None:
    """Fill p_adjusted / is_significant: segments of one campaign are one family.

    The ALL row is a separate, pre-specified test and keeps its raw p-value.
    """
    adjust: Callable[[Sequence[float]], list[float]] = (
        bh_adjust if settings.correction == "bh" else holm_adjust
    )
    families: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["p_value"] is None:
            r["p_adjusted"], r["is_significant"] = None, False
        elif r["micro_segment_id"] == ALL_SEGMENTS:
            r["p_adjusted"] = r["p_value"]
        else:
            families.setdefault(r["campaign_id"], []).append(r)
    for fam in families.values():
        for r, p in zip(fam, adjust([r["p_value"] for r in fam]), strict=True):
            r["p_adjusted"] = p
    for r in rows:
        if r["p_adjusted"] is not None:
            r["is_significant"] = r["p_adjusted"] < settings.alpha


# --------------------------------------------------------------------------- Spark side


def with_segment_as_of(campaigns_df: DataFrame, assignments_df: DataFrame) -> DataFrame:
    """Each campaign row with the subscriber's micro segment as of its ``sent_date``.

    The latest assignment on or before the send date: a segment measured after the
    treatment could itself be an effect of it. No assignment -> ``unassigned``.
    """
    need = {"subscriber_id", "snapshot_date", "micro_segment_id"}
    missing = sorted(need - set(assignments_df.columns))
    if missing:
        raise SchemaMismatchError("segment_assignments", missing, assignments_df.columns)
    seg = assignments_df.select(
        "subscriber_id",
        F.col("snapshot_date").alias("segment_date"),
        F.col("micro_segment_id").cast("string").alias("micro_segment_id"),
    )
    joined = campaigns_df.alias("c").join(
        seg.alias("s"),
        on=(F.col("c.subscriber_id") == F.col("s.subscriber_id"))
        & (F.col("s.segment_date") <= F.col("c.sent_date")),
        how="left",
    )
    latest = Window.partitionBy("c.campaign_id", "c.subscriber_id", "c.sent_date").orderBy(
        F.col("s.segment_date").desc_nulls_last()
    )
    return (
        joined.withColumn("_rank", F.row_number().over(latest))
        .filter(F.col("_rank") == 1)
        .select(
            "c.campaign_id",
            "c.subscriber_id",
            "c.offer",
            "c.sent_date",
            "c.arm",
            "c.converted",
            F.coalesce(F.col("s.micro_segment_id"), F.lit(UNASSIGNED)).alias("micro_segment_id"),
        )
    )


def arm_counts(campaign_segments_df: DataFrame) -> DataFrame:
    """n and conversions per arm per campaign x micro segment, plus an ``ALL`` row each.

    Rows whose arm is neither treatment nor control are not counted. A null ``converted``
    counts as not converted (the contract: converted is a boolean outcome).
    """
    is_t = F.col("arm") == "treatment"
    is_c = F.col("arm") == "control"
    is_conv = F.coalesce(F.col("converted"), F.lit(False))
    aggs = [
        F.sum(is_t.cast("long")).alias("n_treatment"),
        F.sum((is_t & is_conv).cast("long")).alias("conversions_treatment"),
        F.sum(is_c.cast("long")).alias("n_control"),
        F.sum((is_c & is_conv).cast("long")).alias("conversions_control"),
        F.first("offer", ignorenulls=True).alias("offer"),
    ]
    df = campaign_segments_df.filter(is_t | is_c)
    per_segment = df.groupBy("campaign_id", "micro_segment_id").agg(*aggs)
    overall = (
        df.groupBy("campaign_id").agg(*aggs).withColumn("micro_segment_id", F.lit(ALL_SEGMENTS))
    )
    return per_segment.unionByName(overall).select(*COUNTS_SCHEMA.names)


def ab_from_segments(
    campaign_segments_df: DataFrame, settings: Settings, snapshot_date: dt.date
) -> DataFrame:
    """Rows with campaign_id, offer, micro_segment_id, arm, converted -> campaign_ab rows."""
    counts_df = arm_counts(campaign_segments_df)
    rows = [ArmCounts(**r.asDict()) for r in counts_df.collect()]  # small: campaigns x segments
    result = analyze_counts(rows, settings, snapshot_date)
    return campaign_segments_df.sparkSession.createDataFrame(
        [tuple(r[f] for f in AB_SCHEMA.names) for r in result], AB_SCHEMA
    )


def ab_table(
    campaigns_df: DataFrame,
    assignments_df: DataFrame,
    settings: Settings,
    snapshot_date: dt.date,
) -> DataFrame:
    """Silver campaigns sent on or before the snapshot + segment assignments -> campaign_ab."""
    sent = campaigns_df.filter(F.col("sent_date") <= F.lit(snapshot_date))
    return ab_from_segments(with_segment_as_of(sent, assignments_df), settings, snapshot_date)
