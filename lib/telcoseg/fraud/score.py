"""The explainable SIM-box score: weighted ramps over indicators, with named reasons.

Each rule (see :class:`telcoseg.fraud.settings.Rule`) turns one indicator, or its robust
z-score in the population, into a contribution between 0 and its weight. Evidence of
legitimate heavy use (negative weights) subtracts. The rule score is

    rule_score = clip(sum of contributions / sum of positive weights, 0, 1)

so 1 means every piece of SIM-box evidence at full strength and no mitigating evidence.
``reasons`` lists the rules that added to the score, strongest first, with the value that
fired them; ``mitigations`` lists the ones that subtracted.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from telcoseg.fraud.indicators import require_columns
from telcoseg.fraud.settings import AllowList, Rule, Settings

log = logging.getLogger(__name__)

MAD_TO_SD = 1.4826  # MAD of a normal distribution * 1.4826 = its standard deviation


def z_column(indicator: str) -> str:
    return f"z_{indicator}"


def robust_stats(df: DataFrame, columns: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Population median and MAD of each column (approximate quantiles, nulls ignored)."""
    if not columns:
        return {}
    medians = df.select(*[F.percentile_approx(c, 0.5, 10000).alias(c) for c in columns]).first()
    assert medians is not None  # an aggregate always returns one row
    mads = df.select(
        *[
            F.percentile_approx(F.abs(F.col(c) - F.lit(medians[c])), 0.5, 10000).alias(c)
            for c in columns
        ]
    ).first()
    assert mads is not None
    return {c: (float(medians[c] or 0.0), float(mads[c] or 0.0)) for c in columns}


def with_robust_z(df: DataFrame, columns: Sequence[str], mad_floor: float) -> DataFrame:
    """Add ``z_<col>`` = (x - median) / max(1.4826 * MAD, mad_floor) for each column.

    Robust (median/MAD) rather than mean/sd because the lines we look for are the outliers
    that would inflate a standard deviation; the floor keeps near-constant indicators
    from turning tiny differences into huge z-scores.
    """
    stats = robust_stats(df, columns)
    zs = [
        ((F.col(c) - F.lit(med)) / F.lit(max(MAD_TO_SD * mad, mad_floor))).alias(z_column(c))
        for c, (med, mad) in stats.items()
    ]
    return df.select("*", *zs)


def ramp(value: Column, start: float, full: float) -> Column:
    """0 at ``start``, 1 at ``full`` (either direction), linear between, clipped; null -> 0."""
    scaled = (value - F.lit(start)) / F.lit(full - start)
    return F.coalesce(F.least(F.lit(1.0), F.greatest(F.lit(0.0), scaled)), F.lit(0.0))


def _rule_input(rule: Rule) -> Column:
    return F.col(z_column(rule.indicator) if rule.zscore else rule.indicator).cast("double")


def _reason(name: str, rule: Rule, contribution: Column) -> Column:
    """``name (text): indicator=value, +contribution`` when the rule moved the score."""
    label = f"z({rule.indicator})" if rule.zscore else rule.indicator
    head = f"{name} ({rule.text})" if rule.text else name
    # format_string is Java's String.format: literal % in the config text must be escaped.
    pattern = head.replace("%", "%%") + f": {label}=%.3f, %+.2f"
    text = F.format_string(pattern, _rule_input(rule), contribution)
    return F.when(contribution != 0, F.struct(F.abs(contribution).alias("w"), text.alias("t")))


def _sorted_texts(items: list[Column]) -> Column:
    """Non-null (weight, text) structs, strongest first -> their texts."""
    if not items:
        return F.array().cast("array<string>")
    kept = F.filter(F.array(*items), lambda x: x.isNotNull())
    return F.transform(F.sort_array(kept, asc=False), lambda x: x["t"])


def with_rule_score(df: DataFrame, rules: Mapping[str, Rule], mad_floor: float = 1.0) -> DataFrame:
    """Add ``rule_score`` (0-1), ``reasons`` and ``mitigations`` (arrays of strings)."""
    require_columns(df, sorted({r.indicator for r in rules.values()}), "fraud indicators")
    z_needed = sorted({r.indicator for r in rules.values() if r.zscore})
    scored = with_robust_z(df, z_needed, mad_floor) if z_needed else df
    contributions = {
        name: (F.lit(rule.weight) * ramp(_rule_input(rule), rule.start, rule.full))
        for name, rule in rules.items()
    }
    positive_total = sum(r.weight for r in rules.values() if r.weight > 0)
    total = sum(contributions.values(), F.lit(0.0))
    score = F.least(F.lit(1.0), F.greatest(F.lit(0.0), total / F.lit(positive_total)))
    reasons = [_reason(n, r, contributions[n]) for n, r in rules.items() if r.weight > 0]
    mitigations = [_reason(n, r, contributions[n]) for n, r in rules.items() if r.weight < 0]
    return scored.select(
        *df.columns,
        score.alias("rule_score"),
        _sorted_texts(reasons).alias("reasons"),
        _sorted_texts(mitigations).alias("mitigations"),
    )


def with_allow_list(
    df: DataFrame, allow: AllowList, allow_ids_df: DataFrame | None = None
) -> DataFrame:
    """Add ``is_allow_listed``: id in the config list or the allow table, or plan listed."""
    ids = list(dict.fromkeys(allow.subscriber_ids))
    plans = [p.lower() for p in allow.plans]
    listed = F.col("subscriber_id").isin(ids) if ids else F.lit(False)
    if plans:
        listed = listed | F.coalesce(F.lower(F.col("plan")).isin(plans), F.lit(False))
    if allow_ids_df is not None:
        require_columns(allow_ids_df, ["subscriber_id"], "allow-list table")
        table_ids = (
            allow_ids_df.select("subscriber_id").distinct().withColumn("_in_table", F.lit(True))
        )
        df = df.join(F.broadcast(table_ids), on="subscriber_id", how="left")
        listed = listed | F.coalesce(F.col("_in_table"), F.lit(False))
        return df.select(
            *[c for c in df.columns if c != "_in_table"], listed.alias("is_allow_listed")
        )
    return df.select("*", listed.alias("is_allow_listed"))


def with_final_score(df: DataFrame, blend_weight: float | None) -> DataFrame:
    """``score``: the rule score, or, when a model ran (``blend_weight`` given), the blend
    ``(1 - w) * rule_score + w * model_score``. Adds a null ``model_score`` if absent."""
    if "model_score" not in df.columns:
        df = df.select("*", F.lit(None).cast("double").alias("model_score"))
    if blend_weight is None:
        return df.select("*", F.col("rule_score").alias("score"))
    model = F.coalesce(F.col("model_score"), F.col("rule_score"))
    blended = F.lit(1.0 - blend_weight) * F.col("rule_score") + F.lit(blend_weight) * model
    return df.select("*", blended.alias("score"))


def select_alerts(
    scored_df: DataFrame,
    settings: Settings,
    *,
    snapshot_date: dt.date,
    score_version: str,
) -> DataFrame:
    """Ranked alerts: score >= threshold, enough outgoing calls, not allow-listed.

    Columns: subscriber_id, snapshot_date, score, rule_score, model_score, score_version,
    rank (1 = most suspicious; ties broken by subscriber_id), reasons, mitigations,
    reasons_text, plan, plan_type, then the key indicators.
    """
    eligible = (
        (F.col("score") >= F.lit(settings.alert_threshold))
        & (F.col("voice_out_calls") >= F.lit(settings.min_out_calls))
        & ~F.col("is_allow_listed")
    )
    # One global ordering: the alert set is small (a threshold has been applied).
    order = Window.orderBy(F.col("score").desc(), F.col("subscriber_id")).rowsBetween(
        Window.unboundedPreceding, Window.currentRow
    )
    ranked = scored_df.filter(eligible).select("*", F.row_number().over(order).alias("rank"))
    if settings.max_alerts:
        ranked = ranked.filter(F.col("rank") <= settings.max_alerts)
    keys = [c for c in settings.key_indicators if c in scored_df.columns]
    return ranked.select(
        "subscriber_id",
        F.lit(snapshot_date).alias("snapshot_date"),
        F.col("score").cast("double").alias("score"),
        F.col("rule_score").cast("double").alias("rule_score"),
        F.col("model_score").cast("double").alias("model_score"),
        F.lit(score_version).alias("score_version"),
        F.col("rank").cast("int").alias("rank"),
        "reasons",
        "mitigations",
        F.array_join("reasons", "; ").alias("reasons_text"),
        "plan",
        "plan_type",
        *[F.col(c).cast("double").alias(c) for c in keys],
    )
