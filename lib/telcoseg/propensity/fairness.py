"""Fairness audit by gender and age band at the operating threshold, before promotion.

Protected attributes are joined here, after scoring, and nowhere else. Per group: the
selection rate and its ratio to the most-selected group (four-fifths rule), the true
positive rate and its ratio to the best-served group, and calibration (mean predicted
probability vs observed rate). Groups too small to judge are reported but not gated. A
gap fails only when it is beyond its limit *and* significant at a family-wise error rate
over the audit's comparisons (Bonferroni), so chance alone rarely blocks a fair model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from telcoseg.propensity.model import SCORE
from telcoseg.propensity.settings import FairnessSettings

AUDIT_COLUMNS = [
    "attribute",
    "group",
    "n",
    "positives",
    "selected",
    "selection_rate",
    "selection_rate_ratio",
    "tpr",
    "tpr_ratio",
    "mean_predicted",
    "observed_rate",
    "calibration_gap",
    "selection_z",
    "tpr_z",
    "calibration_z",
    "gated",
    "passed",
    "failure",
]


@dataclass(frozen=True)
class AuditResult:
    """The per-group table and whether every gated group passed."""

    table: DataFrame
    passed: bool
    failures: tuple[str, ...]


def age_band(birth_year: F.Column, at: F.Column, edges: Sequence[int]) -> F.Column:
    """``"25-34"``-style band of the age in the year of ``at``; ``unknown`` when null."""
    age = F.year(at) - birth_year
    expr = F.lit(f"<{edges[0]}")
    for lo, hi in zip(edges, [*edges[1:], None], strict=True):
        label = f"{lo}+" if hi is None else f"{lo}-{hi - 1}"
        expr = F.when(age >= lo, F.lit(label)).otherwise(expr)
    return F.when(birth_year.isNull(), F.lit("unknown")).otherwise(expr)


def with_protected_groups(
    scored_df: DataFrame, subscribers_df: DataFrame, settings: FairnessSettings
) -> DataFrame:
    """Join ``gender`` and ``age_band`` onto scored rows (audit only; never model inputs)."""
    people = subscribers_df.select("subscriber_id", "birth_year", "gender")
    joined = scored_df.join(people, on="subscriber_id", how="left")
    return joined.select(
        *scored_df.columns,
        F.coalesce(F.lower(F.col("gender")), F.lit("unknown")).alias("gender"),
        age_band(F.col("birth_year"), F.col("snapshot_date"), settings.age_band_edges).alias(
            "age_band"
        ),
    )


def _z(x1: F.Column, n1: F.Column, x2: F.Column, n2: F.Column) -> F.Column:
    """Two-proportion z statistic of rate x2/n2 above rate x1/n1 (pooled variance)."""
    # try_divide: a group with no positives (n = 0 for the TPR) has no z, not an error;
    # under ANSI mode a plain division by zero fails the whole audit.
    one = F.lit(1.0)
    pooled = F.try_divide(x1 + x2, n1 + n2)
    se = F.sqrt(pooled * (one - pooled) * (F.try_divide(one, n1) + F.try_divide(one, n2)))
    z = F.try_divide(F.try_divide(x2, n2) - F.try_divide(x1, n1), se)
    return F.when(se > 0, z).otherwise(F.lit(0.0))


def critical_z(alpha: float, comparisons: int) -> float:
    """Two-sided Bonferroni critical |z| for ``comparisons`` tests at family-wise ``alpha``."""
    if alpha >= 1.0 or comparisons <= 0:
        return 0.0
    return NormalDist().inv_cdf(1.0 - alpha / (2.0 * comparisons))


def _comparisons(rates: DataFrame) -> int:
    """How many tests the audit makes: selection and calibration per gated group, TPR per
    TPR-gated group (one row per group: a tiny collect)."""
    row = rates.agg(
        F.sum(F.col("gated").cast("int")).alias("g"),
        F.sum(F.col("tpr_gated").cast("int")).alias("t"),
    ).first()
    return 2 * int(row["g"] or 0) + int(row["t"] or 0)


def audit(
    scored_df: DataFrame,
    subscribers_df: DataFrame,
    threshold: float,
    settings: FairnessSettings,
) -> AuditResult:
    """Audit scored rows (``subscriber_id, snapshot_date, label, propensity``) at ``threshold``."""
    grouped = with_protected_groups(scored_df, subscribers_df, settings)
    is_selected = (F.col(SCORE) >= F.lit(threshold)).cast("long")
    y = F.col("label").cast("long")
    parts = [
        grouped.groupBy(F.col(attr).alias("group"))
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.sum(y).alias("positives"),
            F.sum(is_selected).alias("selected"),
            F.sum(is_selected * y).alias("true_positives"),
            F.avg(F.col(SCORE)).alias("mean_predicted"),
        )
        .withColumn("attribute", F.lit(attr))
        for attr in settings.attributes
    ]
    stats = parts[0]
    for part in parts[1:]:
        stats = stats.unionByName(part)
    # One row per group, read by several actions (the comparison count, the failures, the
    # caller's writes): collect it once instead of re-joining and re-aggregating the
    # scored rows for each (not localCheckpoint: blocks can vanish under autoscaling).
    stats = scored_df.sparkSession.createDataFrame(stats.collect(), stats.schema)
    per_attr = Window.partitionBy("attribute").rowsBetween(
        Window.unboundedPreceding, Window.unboundedFollowing
    )
    gated = (F.col("n") >= settings.min_group_size) & (F.col("group") != "unknown")
    tpr_gated = gated & (F.col("positives") >= settings.min_group_positives)
    rates = stats.select(
        "attribute",
        "group",
        "n",
        "positives",
        "selected",
        (F.col("selected") / F.col("n")).alias("selection_rate"),
        F.when(F.col("positives") > 0, F.col("true_positives") / F.col("positives")).alias("tpr"),
        "mean_predicted",
        "true_positives",
        (F.col("positives") / F.col("n")).alias("observed_rate"),
        gated.alias("gated"),
        tpr_gated.alias("tpr_gated"),
    )
    sel_key = F.when(F.col("gated"), F.col("selection_rate"))
    tpr_key = F.when(F.col("tpr_gated"), F.col("tpr"))
    best_sel = F.max(sel_key).over(per_attr)
    best_tpr = F.max(tpr_key).over(per_attr)
    # The reference group (highest rate) for the significance tests.
    ref_n = F.max_by(F.col("n"), sel_key).over(per_attr)
    ref_sel = F.max_by(F.col("selected"), sel_key).over(per_attr)
    ref_pos = F.max_by(F.col("positives"), tpr_key).over(per_attr)
    ref_tp = F.max_by(F.col("true_positives"), tpr_key).over(per_attr)
    mp = F.col("mean_predicted")
    ratios = rates.select(
        "*",
        _z(F.col("selected"), F.col("n"), ref_sel, ref_n).alias("selection_z"),
        _z(F.col("true_positives"), F.col("positives"), ref_tp, ref_pos).alias("tpr_z"),
        F.when(
            (mp > 0) & (mp < 1),
            F.try_divide(
                F.col("observed_rate") - mp,
                F.sqrt(F.try_divide(mp * (F.lit(1.0) - mp), F.col("n"))),
            ),
        )
        .otherwise(F.lit(0.0))
        .alias("calibration_z"),
        F.when(best_sel > 0, F.col("selection_rate") / best_sel).alias("selection_rate_ratio"),
        F.when(best_tpr > 0, F.col("tpr") / best_tpr).alias("tpr_ratio"),
        (F.col("mean_predicted") - F.col("observed_rate")).alias("calibration_gap"),
    )
    s = settings
    # A ratio is null when no gated group has a rate above zero: nothing to compare, no fail.
    z = critical_z(s.alpha, _comparisons(rates))
    fail_sel = F.coalesce(
        F.col("gated")
        & (F.col("selection_rate_ratio") < s.min_selection_rate_ratio)
        & (F.col("selection_z") > z),
        F.lit(False),
    )
    fail_tpr = F.coalesce(
        F.col("tpr_gated") & (F.col("tpr_ratio") < s.min_tpr_ratio) & (F.col("tpr_z") > z),
        F.lit(False),
    )
    fail_cal = F.coalesce(
        F.col("gated")
        & (F.abs(F.col("calibration_gap")) > s.max_calibration_gap)
        & (F.abs(F.col("calibration_z")) > z),
        F.lit(False),
    )
    failure = F.concat_ws(
        "; ",
        F.when(
            fail_sel,
            F.format_string(
                "selection_rate_ratio %.3f < %s (z=%.1f, critical %.2f)",
                F.col("selection_rate_ratio"),
                F.lit(str(s.min_selection_rate_ratio)),
                F.col("selection_z"),
                F.lit(z),
            ),
        ),
        F.when(
            fail_tpr,
            F.format_string(
                "tpr_ratio %.3f < %s (z=%.1f, critical %.2f)",
                F.col("tpr_ratio"),
                F.lit(str(s.min_tpr_ratio)),
                F.col("tpr_z"),
                F.lit(z),
            ),
        ),
        F.when(
            fail_cal,
            F.format_string(
                "calibration_gap %.3f exceeds %s (z=%.1f, critical %.2f)",
                F.col("calibration_gap"),
                F.lit(str(s.max_calibration_gap)),
                F.col("calibration_z"),
                F.lit(z),
            ),
        ),
    )
    table = ratios.select(
        "attribute",
        "group",
        F.col("n").cast("long").alias("n"),
        F.col("positives").cast("long").alias("positives"),
        F.col("selected").cast("long").alias("selected"),
        # The metric columns, in AUDIT_COLUMNS order (from selection_rate to gated).
        *AUDIT_COLUMNS[AUDIT_COLUMNS.index("selection_rate") : AUDIT_COLUMNS.index("passed")],
        (~(fail_sel | fail_tpr | fail_cal)).alias("passed"),
        F.when(failure != "", failure).alias("failure"),
    ).orderBy("attribute", "group")
    rows = table.where(F.col("failure").isNotNull()).collect()
    failures = tuple(f"{r['attribute']}={r['group']}: {r['failure']}" for r in rows)
    return AuditResult(table=table, passed=not failures, failures=failures)
