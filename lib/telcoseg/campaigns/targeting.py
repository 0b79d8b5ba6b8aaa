"""Audience selection for one offer: eligibility, contact policy, ranking, caps, arms.

Pure ``DataFrame -> DataFrame`` functions (no I/O). Row-level work uses built-in
functions only; the control arm is a deterministic hash of (campaign_id, subscriber_id),
so re-running a selection gives every subscriber the same arm.
"""

from __future__ import annotations

import datetime as dt

import pyspark.sql.functions as F
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import types as T

from telcoseg.campaigns.ab import ALL_SEGMENTS, UNASSIGNED
from telcoseg.campaigns.settings import ContactPolicy, Offer
from telcoseg.errors import SchemaMismatchError

AUDIENCE_SCHEMA = T.StructType(
    [
        T.StructField("campaign_id", T.StringType(), False),
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("micro_segment_id", T.StringType(), False),
        T.StructField("arm", T.StringType(), False),
        T.StructField("score", T.DoubleType(), False),
        T.StructField("expected_value", T.DoubleType(), False),
        T.StructField("channel", T.StringType(), False),
        T.StructField("snapshot_date", T.DateType(), False),
    ]
)
# 13 hex digits = 52 bits: exactly representable in a double, so the fraction is exact.
_HASH_HEX_DIGITS = 13


def _require(df: DataFrame, where: str, *columns: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaMismatchError(where, missing, df.columns)


def hash_fraction(campaign_id: Column, subscriber_id: Column) -> Column:
    """A uniform number in [0, 1) fixed by (campaign_id, subscriber_id).

    SHA-256 rather than ``xxhash64``: its value is specified outside Spark, so the arms can
    be reproduced by any tool (and by future Spark versions).
    """
    digest = F.sha2(F.concat_ws("|", campaign_id, subscriber_id), 256)
    prefix = F.substring(digest, 1, _HASH_HEX_DIGITS)
    return F.conv(prefix, 16, 10).cast("double") / float(16**_HASH_HEX_DIGITS)


def with_arm(df: DataFrame, campaign_id: str, control_share: float) -> DataFrame:
    """Add ``arm`` (control when the hash fraction is below ``control_share``)."""
    is_control = hash_fraction(F.lit(campaign_id), F.col("subscriber_id")) < control_share
    return df.withColumn("arm", F.when(is_control, "control").otherwise("treatment"))


def candidates(
    propensity_df: DataFrame, assignments_df: DataFrame, outcome: str, snapshot_date: dt.date
) -> DataFrame:
    """subscriber_id, micro_segment_id, propensity for one outcome at one snapshot.

    Subscribers without a segment assignment get ``unassigned`` (eligible only for "*").
    """
    _require(propensity_df, "propensity_scores", "subscriber_id", "snapshot_date", "outcome")
    _require(assignments_df, "segment_assignments", "subscriber_id", "micro_segment_id")
    scores = propensity_df.filter(
        (F.col("snapshot_date") == F.lit(snapshot_date)) & (F.col("outcome") == outcome)
    ).select("subscriber_id", F.col("propensity").cast("double").alias("propensity"))
    seg = assignments_df
    if "snapshot_date" in seg.columns:
        seg = seg.filter(F.col("snapshot_date") == F.lit(snapshot_date))
    seg = seg.select("subscriber_id", F.col("micro_segment_id").cast("string"))
    return scores.join(seg, on="subscriber_id", how="left").select(
        "subscriber_id",
        F.coalesce(F.col("micro_segment_id"), F.lit(UNASSIGNED)).alias("micro_segment_id"),
        "propensity",
    )


def filter_eligible(df: DataFrame, offer: Offer) -> DataFrame:
    """Keep the offer's micro segments ("*" keeps all) and propensities >= its floor."""
    has_score = F.col("propensity").isNotNull() & (F.col("propensity") >= offer.min_propensity)
    if "*" in offer.segments:
        return df.filter(has_score)
    return df.filter(has_score & F.col("micro_segment_id").isin(list(offer.segments)))


def contact_history(
    audiences_df: DataFrame | None, campaigns_df: DataFrame | None, exclude_campaign: str
) -> DataFrame | None:
    """(subscriber_id, contact_date) of treatment-arm contacts from audiences and sends.

    Controls were never contacted, so they do not count. The campaign being targeted is
    left out so that re-running its own selection does not cap itself.
    """
    parts = []
    if audiences_df is not None:
        parts.append(
            audiences_df.filter(
                (F.col("arm") == "treatment") & (F.col("campaign_id") != exclude_campaign)
            ).select("subscriber_id", F.col("snapshot_date").alias("contact_date"))
        )
    if campaigns_df is not None:
        parts.append(
            campaigns_df.filter(
                (F.col("arm") == "treatment") & (F.col("campaign_id") != exclude_campaign)
            ).select("subscriber_id", F.col("sent_date").alias("contact_date"))
        )
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


def filter_contact_policy(
    df: DataFrame,
    policy: ContactPolicy,
    snapshot_date: dt.date,
    history_df: DataFrame | None = None,
    opt_out_df: DataFrame | None = None,
) -> DataFrame:
    """Drop opted-out subscribers and those already contacted ``max_contacts`` times.

    The period is the ``period_days`` days ending the day before the snapshot: a contact
    on the snapshot date itself belongs to a parallel selection, not to history.
    """
    out = df
    if policy.opt_out_ids:
        out = out.filter(~F.col("subscriber_id").isin(list(policy.opt_out_ids)))
    if opt_out_df is not None:
        _require(opt_out_df, "opt-out table", "subscriber_id")
        opted = opt_out_df.select("subscriber_id").where(F.col("subscriber_id").isNotNull())
        out = out.join(opted, on="subscriber_id", how="left_anti")
    if history_df is not None:
        first = snapshot_date - dt.timedelta(days=policy.period_days)
        in_period = (F.col("contact_date") >= F.lit(first)) & (
            F.col("contact_date") < F.lit(snapshot_date)
        )
        fatigued = (
            history_df.filter(in_period)
            .groupBy("subscriber_id")
            .agg(F.count(F.lit(1)).alias("contacts"))
            .filter(F.col("contacts") >= policy.max_contacts)
            .select("subscriber_id")
        )
        out = out.join(fatigued, on="subscriber_id", how="left_anti")
    return out.select(*df.columns)


def uplift_index(ab_df: DataFrame | None, offer: Offer, max_index: float) -> DataFrame | None:
    """micro_segment_id -> uplift index from the latest A/B measurement of this offer.

    The index is the segment's absolute lift over the campaign's overall lift, clipped to
    [0, max_index]: 1 = an average responder, 0 = no (or negative) measured effect. Only
    segments with an adequate sample (not ``is_small_sample``) enter; the rest keep the
    neutral 1 (absence of evidence is not evidence of no effect).
    """
    if ab_df is None or not offer.use_uplift:
        return None
    match = F.col("offer") == (offer.offer or offer.campaign_id)
    mine = ab_df.filter(match | (F.col("campaign_id") == offer.campaign_id))
    latest = mine.agg(F.max("snapshot_date")).first()
    if latest is None or latest[0] is None:
        return None
    mine = mine.filter(F.col("snapshot_date") == F.lit(latest[0]))
    overall = (
        mine.filter(F.col("micro_segment_id") == ALL_SEGMENTS)
        .groupBy()
        .agg(F.avg("abs_lift").alias("overall_lift"))
    )
    measured = ~F.col("is_small_sample") & F.col("abs_lift").isNotNull()
    index = F.when(F.col("overall_lift") > 0, F.col("abs_lift") / F.col("overall_lift"))
    return (
        mine.filter((F.col("micro_segment_id") != ALL_SEGMENTS) & measured)
        .crossJoin(overall)
        .groupBy("micro_segment_id")
        .agg(F.avg(index).alias("raw_index"))
        .select(
            "micro_segment_id",
            F.least(F.greatest(F.col("raw_index"), F.lit(0.0)), F.lit(max_index)).alias(
                "uplift_index"
            ),
        )
        .filter(F.col("uplift_index").isNotNull())
    )


def with_score(df: DataFrame, offer: Offer, uplift_df: DataFrame | None = None) -> DataFrame:
    """expected_value = propensity * value; score = expected_value * uplift index (or 1)."""
    value = F.col("propensity") * F.lit(float(offer.value_per_conversion))
    out = df.withColumn("expected_value", value)
    if uplift_df is None:
        return out.withColumn("score", F.col("expected_value"))
    return (
        out.join(uplift_df, on="micro_segment_id", how="left")
        .withColumn(
            "score", F.col("expected_value") * F.coalesce(F.col("uplift_index"), F.lit(1.0))
        )
        .drop("uplift_index")
    )


def filter_top(df: DataFrame, offer: Offer) -> DataFrame:
    """Best scores first: at most ``max_per_segment`` per segment, ``budget`` overall.

    Ties are broken by subscriber_id so that the selection is reproducible.
    """
    order = [F.col("score").desc(), F.col("subscriber_id").asc()]
    out = df
    if offer.max_per_segment is not None:
        per_segment = Window.partitionBy("micro_segment_id").orderBy(*order)
        out = out.withColumn("_rank", F.row_number().over(per_segment)).filter(
            F.col("_rank") <= offer.max_per_segment
        )
        out = out.drop("_rank")
    if offer.budget is not None:
        out = out.orderBy(*order).limit(offer.budget)
    return out


def select_audience(
    candidates_df: DataFrame,
    offer: Offer,
    policy: ContactPolicy,
    snapshot_date: dt.date,
    history_df: DataFrame | None = None,
    opt_out_df: DataFrame | None = None,
    uplift_df: DataFrame | None = None,
) -> DataFrame:
    """The whole chain for one offer -> rows of gold ``campaign_audience``."""
    return (
        candidates_df.transform(filter_eligible, offer)
        .transform(filter_contact_policy, policy, snapshot_date, history_df, opt_out_df)
        .transform(with_score, offer, uplift_df)
        .transform(filter_top, offer)
        .transform(with_arm, offer.campaign_id, offer.control_share)
        .select(
            F.lit(offer.campaign_id).alias("campaign_id"),
            "subscriber_id",
            "micro_segment_id",
            "arm",
            F.col("score").cast("double").alias("score"),
            F.col("expected_value").cast("double").alias("expected_value"),
            F.lit(offer.channel).alias("channel"),
            F.lit(snapshot_date).alias("snapshot_date"),
        )
    )
