"""Telco indicators beyond bandicoot: data, apps, roaming, spend, plan, tenure, device.

All are over the same window as the bandicoot indicators (local dates ending at the
snapshot date). Shares are null when their denominator is empty; counts and volumes are
0. Protected attributes (birth_year, gender) are never read here.
"""

from __future__ import annotations

import datetime as dt
import re

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from telcoseg.features.population import SubscriberSubset, filter_subscribers
from telcoseg.features.records import filter_window, is_night, local_time, window_bounds
from telcoseg.features.settings import Settings
from telcoseg.features.stats import entropy_of_counts

TELCO_PREFIX = "tc_"


def _share(numerator: Column, denominator: Column) -> Column:
    return F.when(denominator > 0, numerator.cast("double") / denominator)


def category_column(category: str) -> str:
    """Column of an app category's byte share, e.g. ``tc_app_share_video``."""
    safe = re.sub(r"[^a-z0-9]+", "_", category.lower()).strip("_")
    return f"{TELCO_PREFIX}app_share_{safe}"


def cdr_indicators(window_df: DataFrame, *, timezone: str, settings: Settings) -> DataFrame:
    """Per subscriber: data volume/sessions, night data share, roaming, spend, call mix,
    the number of devices and the device most used in the window.

    One scan, three hash aggregations: per (subscriber, device, TAC), per (subscriber,
    TAC) and per subscriber. Each level adds up the sums of the one before, so distinct
    devices are a count of rows instead of a ``collect_set`` per subscriber, and the most
    used TAC needs no second scan. Shares are kept as sum and count, since averages do not
    add up. An ``imei_id`` has one TAC (both come from the same IMEI at ingestion).
    """
    is_data = F.col("event_type") == "data"
    is_voice = F.col("event_type") == "voice"
    local = local_time(F.col("event_time"), timezone)
    sod = F.hour(local) * 3600 + F.minute(local) * 60 + F.second(local)
    data_bytes = F.coalesce(F.col("bytes_up"), F.lit(0)) + F.coalesce(F.col("bytes_down"), F.lit(0))
    night_bytes = F.when(is_data & is_night(sod, settings), data_bytes).otherwise(0)
    voice_flag = {
        "intl": F.col("is_international").cast("double"),
        "offnet": (~F.col("is_on_net")).cast("double"),
    }
    per_device = window_df.groupBy("subscriber_id", "tac", "imei_id").agg(
        F.count(F.lit(1)).alias("n"),
        F.max("event_time").alias("last_seen"),
        F.count(F.when(is_data, 1)).alias("data_sessions"),
        F.sum(F.when(is_data, F.col("bytes_up")).otherwise(0)).alias("data_bytes_up"),
        F.sum(F.when(is_data, F.col("bytes_down")).otherwise(0)).alias("data_bytes_down"),
        F.sum(night_bytes).alias("night_bytes"),
        F.count(F.when(is_voice, 1)).alias("voice_records"),
        F.count(F.when(F.col("event_type") == "sms", 1)).alias("sms_records"),
        F.sum(F.col("roaming").cast("double")).alias("roaming_sum"),
        F.count("roaming").alias("roaming_n"),
        F.sum("charge").alias("spend"),
        *[
            agg(F.when(is_voice, flag)).alias(f"{name}_{suffix}")
            for name, flag in voice_flag.items()
            for agg, suffix in ((F.sum, "sum"), (F.count, "n"))
        ],
    )
    additive = [c for c in per_device.columns if c not in ("subscriber_id", "tac", "imei_id")]
    additive = [c for c in additive if c != "last_seen"]
    per_tac = per_device.groupBy("subscriber_id", "tac").agg(
        *[F.sum(c).alias(c) for c in additive],
        F.max("last_seen").alias("last_seen"),
        F.count("imei_id").alias("devices"),
    )
    # Most used TAC in the window; ties go to the most recent.
    top_tac = F.max(F.when(F.col("tac").isNotNull(), F.struct("n", "last_seen", "tac")))["tac"]
    per_sub = per_tac.groupBy("subscriber_id").agg(
        *[F.sum(c).alias(c) for c in additive if c != "n"],
        F.sum("devices").alias("devices"),
        top_tac.alias("cdr_tac"),
    )
    total_data = F.col("data_bytes_up") + F.col("data_bytes_down")
    return per_sub.select(
        "subscriber_id",
        F.col("data_sessions").alias("tc_data_sessions"),
        F.col("data_bytes_up").alias("tc_data_bytes_up"),
        F.col("data_bytes_down").alias("tc_data_bytes_down"),
        _share(F.col("night_bytes"), total_data).alias("tc_data_night_share"),
        F.col("voice_records").alias("tc_voice_records"),
        F.col("sms_records").alias("tc_sms_records"),
        _share(F.col("roaming_sum"), F.col("roaming_n")).alias("tc_roaming_share"),
        F.coalesce(F.col("spend").cast("double"), F.lit(0.0)).alias("tc_spend"),
        _share(F.col("intl_sum"), F.col("intl_n")).alias("tc_international_call_share"),
        _share(F.col("offnet_sum"), F.col("offnet_n")).alias("tc_offnet_call_share"),
        F.col("devices").alias("tc_devices"),
        "cdr_tac",
    )


def app_indicators(app_df: DataFrame, *, snapshot_date: dt.date, settings: Settings) -> DataFrame:
    """Per subscriber: app bytes and sessions, byte share per category, category entropy."""
    first, last = window_bounds(snapshot_date, settings.window_days)
    known = [c.lower() for c in settings.app_categories]
    label = F.lower(F.coalesce(F.col("category"), F.lit("other")))
    category = F.when(label.isin(*known), label).otherwise(F.lit("other"))
    app_bytes = F.coalesce(F.col("bytes_up"), F.lit(0)) + F.coalesce(F.col("bytes_down"), F.lit(0))
    per_category = (
        app_df.filter(F.col("usage_date").between(F.lit(first), F.lit(last)))
        .groupBy("subscriber_id", category.alias("category"))
        .agg(
            F.sum(app_bytes).alias("bytes"),
            F.sum(F.coalesce(F.col("sessions"), F.lit(0))).alias("sessions"),
        )
    )
    total = F.sum("bytes")
    per_sub = per_category.groupBy("subscriber_id").agg(
        total.alias("bytes"),
        F.sum("sessions").alias("sessions"),
        F.collect_list(F.when(F.col("bytes") > 0, F.col("bytes"))).alias("volumes"),
        *[F.sum(F.when(F.col("category") == c, F.col("bytes"))).alias(f"b_{c}") for c in known],
    )
    return per_sub.select(
        "subscriber_id",
        F.col("bytes").alias("tc_app_bytes"),
        F.col("sessions").alias("tc_app_sessions"),
        *[
            _share(F.coalesce(F.col(f"b_{c}"), F.lit(0)), F.col("bytes")).alias(category_column(c))
            for c in known
        ],
        F.when(F.col("bytes") > 0, entropy_of_counts(F.col("volumes"), F.col("bytes"))).alias(
            "tc_app_category_entropy"
        ),
    )


def subscriber_indicators(subscribers_df: DataFrame, *, snapshot_date: dt.date) -> DataFrame:
    """Per subscriber known at the snapshot: tenure, plan, fee, lines of its account, TAC.

    The row valid at the snapshot is the latest ``as_of_date`` not after it (rows without
    one count as oldest); lines are counted over all subscribers of the account.
    """
    snap = F.lit(snapshot_date)
    valid = subscribers_df.filter(
        (F.col("as_of_date").isNull() | (F.col("as_of_date") <= snap))
        & (F.col("activation_date").isNull() | (F.col("activation_date") <= snap))
    )
    latest = Window.partitionBy("subscriber_id").orderBy(F.col("as_of_date").desc_nulls_last())
    current = (
        valid.withColumn("rank", F.row_number().over(latest))
        .filter(F.col("rank") == 1)
        .select(
            "subscriber_id",
            "account_id",
            "activation_date",
            "plan",
            "plan_type",
            "monthly_fee",
            "device_tac",
        )
    )
    account = Window.partitionBy("account_id").rowsBetween(
        Window.unboundedPreceding, Window.unboundedFollowing
    )
    lines = F.when(F.col("account_id").isNull(), F.lit(1)).otherwise(
        F.count(F.lit(1)).over(account)
    )
    return current.select(
        "subscriber_id",
        F.datediff(snap, F.col("activation_date")).alias("tc_tenure_days"),
        F.col("plan").alias("tc_plan"),
        F.col("plan_type").alias("tc_plan_type"),
        F.col("monthly_fee").cast("double").alias("tc_monthly_fee"),
        lines.cast("long").alias("tc_lines_per_account"),
        F.col("device_tac").alias("registered_tac"),
    )


def telco_features(
    cdr_df: DataFrame,
    subscribers_df: DataFrame,
    app_usage_df: DataFrame,
    *,
    snapshot_date: dt.date,
    timezone: str,
    settings: Settings,
    subscribers: SubscriberSubset = None,
) -> DataFrame:
    """``subscriber_id`` + ``tc_*`` columns for everyone in the subscribers table at the
    snapshot, in the CDR window or in the app usage window (only ``subscribers`` if given).
    """
    window_df = filter_window(cdr_df, snapshot_date, settings.window_days, timezone)
    window_df = filter_subscribers(window_df, subscribers)
    app_usage_df = filter_subscribers(app_usage_df, subscribers)
    cdr_part = cdr_indicators(window_df, timezone=timezone, settings=settings)
    app_part = app_indicators(app_usage_df, snapshot_date=snapshot_date, settings=settings)
    # Lines per account need the whole table: filter after counting.
    sub_part = filter_subscribers(
        subscriber_indicators(subscribers_df, snapshot_date=snapshot_date), subscribers
    )
    population = (
        sub_part.select("subscriber_id")
        .unionByName(cdr_part.select("subscriber_id"))
        .unionByName(app_part.select("subscriber_id"))
        .distinct()
    )
    joined = (
        population.join(sub_part, on="subscriber_id", how="left")
        .join(cdr_part, on="subscriber_id", how="left")
        .join(app_part, on="subscriber_id", how="left")
    )
    zero_if_absent = [
        "tc_data_sessions",
        "tc_data_bytes_up",
        "tc_data_bytes_down",
        "tc_voice_records",
        "tc_sms_records",
        "tc_spend",
        "tc_app_bytes",
        "tc_app_sessions",
    ]
    return joined.select(
        "subscriber_id",
        *[F.coalesce(F.col(c), F.lit(0)).alias(c) for c in zero_if_absent],
        "tc_data_night_share",
        "tc_roaming_share",
        "tc_international_call_share",
        "tc_offnet_call_share",
        *[category_column(c.lower()) for c in settings.app_categories],
        "tc_app_category_entropy",
        "tc_tenure_days",
        "tc_plan",
        "tc_plan_type",
        "tc_monthly_fee",
        "tc_lines_per_account",
        F.coalesce("cdr_tac", "registered_tac").alias("tc_device_tac"),
        F.coalesce(F.col("tc_devices"), F.lit(0)).alias("tc_devices"),
    )
