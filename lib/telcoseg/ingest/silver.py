"""Bronze rows (strings) -> validated, typed silver rows or quarantine rows.

Each ``validate_<source>`` is a ``DataFrame -> DataFrame`` step: it takes the cleaned
bronze rows joined with the phone lookup and returns the silver columns plus ``reason`` /
``field`` (null when the row is valid), ``raw`` (JSON of the row as read), ``source_file``
and ``file_order``. Built-in functions only; the phone attributes come from
:mod:`telcoseg.ingest.phones` through joins.

Natural keys and how repeats collapse (a collapsed row counts as a duplicate):

========== ============================== =================================================
source     key                            winner
========== ============================== =================================================
cdr        record_id                      first seen (file order); existing silver wins
app_usage  subscriber_id, usage_date, app first seen; existing silver wins
outcomes   subscriber_id, event_date,     first seen; existing silver wins
           outcome
campaigns  campaign_id, subscriber_id     latest file (a later export carries conversion)
subscribers subscriber_id                 latest as_of_date, then latest file
cells      cell_id                        latest file
========== ============================== =================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from telcoseg.ingest import rules as R
from telcoseg.ingest.contract import SOURCES
from telcoseg.ingest.phones import IMEI, normalized_imei
from telcoseg.schemas import NUMBER_ATTRS, SILVER

ATTR_NAMES = [f.name for f in NUMBER_ATTRS]
EVENT_TYPES = ("voice", "sms", "data")
DIRECTIONS = ("in", "out")
PLAN_TYPES = ("prepaid", "postpaid")
CHANNELS = ("sms", "email", "app", "call")
ARMS = ("treatment", "control")
OUTCOME = r"^(upgrade|add_line|adopt:[a-z0-9][a-z0-9_\-]*)$"


@dataclass(frozen=True)
class Keys:
    """How a silver table collapses repeats."""

    columns: tuple[str, ...]
    latest_wins: bool  # False: first seen wins and existing rows are kept
    partition_by: tuple[str, ...] = ()
    order_desc: tuple[str, ...] = ()  # extra "latest" ordering before file order


KEYS: dict[str, Keys] = {
    "cdr": Keys(("record_id",), False, ("event_date",)),
    "app_usage": Keys(("subscriber_id", "usage_date", "app"), False, ("usage_date",)),
    "outcomes": Keys(("subscriber_id", "event_date", "outcome"), False),
    "campaigns": Keys(("campaign_id", "subscriber_id"), True),
    "subscribers": Keys(("subscriber_id",), True, (), ("as_of_date",)),
    "cells": Keys(("cell_id",), True),
}

# ---------------------------------------------------------------------------- inputs


def with_clean_text(df: DataFrame, source: str) -> DataFrame:
    """Trim every contract column (empty -> null) and keep the row as read in ``raw``."""
    columns = SOURCES[source].columns
    raw = F.to_json(F.struct(*[F.col(c) for c in columns]), {"ignoreNullFields": "false"})
    return df.select(
        *[R.cleaned(c).alias(c) for c in columns],
        raw.alias("raw"),
        "source_file",
        "ingest_run_id",
    )


def with_file_order(df: DataFrame, order: Mapping[str, int]) -> DataFrame:
    """``file_order``: arrival rank of the row's file (bronze run, then mtime, then path)."""
    pairs = [x for key, rank in sorted(order.items()) for x in (F.lit(key), F.lit(rank))]
    ranks = F.create_map(*pairs) if pairs else F.create_map().cast("map<string,int>")
    key = F.concat_ws("|", F.col("ingest_run_id"), F.col("source_file"))
    return df.withColumn("file_order", F.coalesce(ranks[key], F.lit(0)).cast("int"))


def with_number(df: DataFrame, lookup: DataFrame, column: str, prefix: str) -> DataFrame:
    """Left-join the phone lookup on the raw text of ``column``; its fields get ``prefix``."""
    renamed = lookup.select(
        F.col("raw").alias(f"{prefix}raw"),
        *[F.col(c).alias(prefix + c) for c in lookup.columns if c not in ("raw", "e164")],
    )
    return df.join(renamed, df[column] == renamed[f"{prefix}raw"], "left").drop(f"{prefix}raw")


def _attrs(prefix: str, out_prefix: str, when: Column | None = None) -> list[Column]:
    cols = []
    for name in ATTR_NAMES:
        value = F.col(prefix + name)
        cols.append((F.when(when, value) if when is not None else value).alias(out_prefix + name))
    return cols


def _phone_rule(text: str, prefix: str, allow_short: bool) -> Column:
    parsed = F.coalesce(F.col(prefix + "is_parsed"), F.lit(False))
    if not allow_short:
        parsed = parsed & (F.col(prefix + "number_type") != "short_code")
    return F.col(text).isNotNull() & ~parsed


def _outputs(
    df: DataFrame, source: str, rules: Sequence[R.Rule], typed: dict[str, Column]
) -> DataFrame:
    """Silver columns (in schema order) + reason, field, raw, source_file, file_order."""
    broken = R.first_broken(rules)
    schema = SILVER[source]
    cols = [
        typed[f.name].cast(f.dataType).alias(f.name)
        for f in schema.fields
        if f.name not in ("source_file", "ingest_run_id")
    ]
    return df.select(
        *cols,
        broken["reason"].alias("reason"),
        broken["field"].alias("field"),
        "raw",
        "source_file",
        "file_order",
    )


# ---------------------------------------------------------------------------- sources


def validate_cdr(df: DataFrame, numbers: DataFrame, imeis: DataFrame, timezone: str) -> DataFrame:
    """CDR rules: required fields, ISO timestamp, enums, numbers >= 0, field per event type."""
    df = with_number(df, numbers, "msisdn", "own_")
    df = with_number(df, numbers, "counterparty", "cp_")
    imei = F.broadcast(
        imeis.select(F.col("raw").alias("imei_raw"), "tac", F.col("id").alias("imei_id"))
    )
    df = df.withColumn("imei_norm", normalized_imei("imei"))
    df = df.join(imei, df["imei_norm"] == imei["imei_raw"], "left")

    c = F.col
    event_type, direction = F.lower(c("event_type")), F.lower(c("direction"))
    is_voice, is_sms, is_data = event_type == "voice", event_type == "sms", event_type == "data"
    is_talk = is_voice | is_sms
    event_time = R.parse_instant(c("event_time"), timezone)
    nums = {n: R.parse_long(c(n)) for n in ("duration_s", "bytes_up", "bytes_down")}
    charge = R.parse_decimal(c("charge"))
    roaming = R.parse_bool(c("roaming"))
    rules: list[R.Rule] = [
        *[("missing_required", n, c(n).isNull()) for n in ("record_id", "event_time", "msisdn")],
        ("missing_required", "event_type", c("event_type").isNull()),
        ("missing_required", "direction", is_talk & c("direction").isNull()),
        ("bad_timestamp", "event_time", R.bad_text(c("event_time"), event_time)),
        ("bad_enum", "event_type", c("event_type").isNotNull() & ~event_type.isin(*EVENT_TYPES)),
        ("bad_enum", "direction", c("direction").isNotNull() & ~direction.isin(*DIRECTIONS)),
        *[("bad_number", n, R.bad_text(c(n), v)) for n, v in nums.items()],
        ("bad_number", "charge", R.bad_text(c("charge"), charge)),
        ("bad_number", "imei", c("imei").isNotNull() & ~c("imei_norm").rlike(IMEI.pattern)),
        *[("negative_number", n, v < 0) for n, v in nums.items()],
        ("negative_number", "charge", charge < 0),
        ("bad_boolean", "roaming", R.bad_text(c("roaming"), roaming)),
        ("field_not_allowed", "bytes_up", is_talk & c("bytes_up").isNotNull()),
        ("field_not_allowed", "bytes_down", is_talk & c("bytes_down").isNotNull()),
        ("field_not_allowed", "duration_s", is_sms & c("duration_s").isNotNull()),
        ("field_not_allowed", "direction", is_data & c("direction").isNotNull()),
        ("field_not_allowed", "counterparty", is_data & c("counterparty").isNotNull()),
        ("unparseable_phone", "msisdn", _phone_rule("msisdn", "own_", allow_short=False)),
        ("unparseable_phone", "counterparty", _phone_rule("counterparty", "cp_", True)),
    ]
    has_cp = is_talk & c("cp_id").isNotNull()
    typed = {
        "record_id": c("record_id"),
        "subscriber_id": c("own_id"),
        "event_time": event_time,
        "event_date": R.local_date(event_time, timezone),
        "event_type": event_type,
        "direction": F.when(is_talk, direction),
        "counterparty_id": F.when(is_talk, c("cp_id")),
        **{f"counterparty_{n}": F.when(has_cp, c("cp_" + n)) for n in ATTR_NAMES},
        "is_on_net": F.when(has_cp, c("cp_is_own_network")),
        "is_international": F.when(has_cp, c("cp_is_international")),
        **nums,
        "cell_id": c("cell_id"),
        "tac": c("tac"),
        "imei_id": c("imei_id"),
        "roaming": F.coalesce(roaming, F.lit(False)),
        "charge": charge,
    }
    return _outputs(df, "cdr", rules, typed)


def validate_app_usage(df: DataFrame, numbers: DataFrame) -> DataFrame:
    df = with_number(df, numbers, "msisdn", "own_")
    c = F.col
    usage_date = R.parse_date(c("usage_date"))
    nums = {n: R.parse_long(c(n)) for n in ("bytes_up", "bytes_down", "sessions", "duration_s")}
    rules: list[R.Rule] = [
        *[("missing_required", n, c(n).isNull()) for n in ("msisdn", "usage_date", "app")],
        ("bad_timestamp", "usage_date", R.bad_text(c("usage_date"), usage_date)),
        *[("bad_number", n, R.bad_text(c(n), v)) for n, v in nums.items()],
        *[("negative_number", n, v < 0) for n, v in nums.items()],
        ("unparseable_phone", "msisdn", _phone_rule("msisdn", "own_", allow_short=False)),
    ]
    typed = {
        "subscriber_id": c("own_id"),
        "usage_date": usage_date,
        "app": c("app"),
        "category": F.lower(c("category")),
        **nums,
    }
    return _outputs(df, "app_usage", rules, typed)


def validate_subscribers(df: DataFrame, numbers: DataFrame) -> DataFrame:
    df = with_number(df, numbers, "msisdn", "own_")
    c = F.col
    dates = {n: R.parse_date(c(n)) for n in ("activation_date", "as_of_date")}
    fee, birth = R.parse_decimal(c("monthly_fee")), R.parse_long(c("birth_year"))
    plan_type = F.lower(c("plan_type"))
    rules: list[R.Rule] = [
        ("missing_required", "msisdn", c("msisdn").isNull()),
        *[("bad_timestamp", n, R.bad_text(c(n), v)) for n, v in dates.items()],
        ("bad_enum", "plan_type", c("plan_type").isNotNull() & ~plan_type.isin(*PLAN_TYPES)),
        ("bad_number", "monthly_fee", R.bad_text(c("monthly_fee"), fee)),
        ("bad_number", "birth_year", R.bad_text(c("birth_year"), birth)),
        ("negative_number", "monthly_fee", fee < 0),
        ("negative_number", "birth_year", birth < 0),
        ("unparseable_phone", "msisdn", _phone_rule("msisdn", "own_", allow_short=False)),
    ]
    typed = {
        "subscriber_id": c("own_id"),
        "account_id": c("account_id"),
        **dates,
        "plan": c("plan"),
        "plan_type": plan_type,
        "monthly_fee": fee,
        "device_tac": c("device_tac"),
        "region": c("region"),
        "birth_year": birth,
        "gender": F.lower(c("gender")),
        **{n: c("own_" + n) for n in ATTR_NAMES},
    }
    return _outputs(df, "subscribers", rules, typed)


def validate_cells(df: DataFrame) -> DataFrame:
    c = F.col
    lat, lon = R.parse_double(c("latitude")), R.parse_double(c("longitude"))
    rules: list[R.Rule] = [
        *[("missing_required", n, c(n).isNull()) for n in ("cell_id", "latitude", "longitude")],
        ("bad_number", "latitude", R.bad_text(c("latitude"), lat)),
        ("bad_number", "longitude", R.bad_text(c("longitude"), lon)),
        ("bad_coordinate", "latitude", ~lat.between(-90.0, 90.0)),
        ("bad_coordinate", "longitude", ~lon.between(-180.0, 180.0)),
    ]
    typed = {
        "cell_id": c("cell_id"),
        "latitude": lat,
        "longitude": lon,
        "site_id": c("site_id"),
        "technology": c("technology"),
    }
    return _outputs(df, "cells", rules, typed)


def validate_outcomes(df: DataFrame, numbers: DataFrame) -> DataFrame:
    df = with_number(df, numbers, "msisdn", "own_")
    c = F.col
    event_date = R.parse_date(c("event_date"))
    outcome = F.lower(c("outcome"))
    rules: list[R.Rule] = [
        *[("missing_required", n, c(n).isNull()) for n in ("msisdn", "event_date", "outcome")],
        ("bad_timestamp", "event_date", R.bad_text(c("event_date"), event_date)),
        ("bad_enum", "outcome", c("outcome").isNotNull() & ~outcome.rlike(OUTCOME)),
        ("unparseable_phone", "msisdn", _phone_rule("msisdn", "own_", allow_short=False)),
    ]
    typed = {"subscriber_id": c("own_id"), "event_date": event_date, "outcome": outcome}
    return _outputs(df, "outcomes", rules, typed)


def validate_campaigns(df: DataFrame, numbers: DataFrame) -> DataFrame:
    df = with_number(df, numbers, "msisdn", "own_")
    c = F.col
    dates = {n: R.parse_date(c(n)) for n in ("sent_date", "converted_date")}
    channel, arm = F.lower(c("channel")), F.lower(c("arm"))
    converted = R.parse_bool(c("converted"))
    rules: list[R.Rule] = [
        *[("missing_required", n, c(n).isNull()) for n in ("campaign_id", "msisdn")],
        *[("bad_timestamp", n, R.bad_text(c(n), v)) for n, v in dates.items()],
        ("bad_enum", "channel", c("channel").isNotNull() & ~channel.isin(*CHANNELS)),
        ("bad_enum", "arm", c("arm").isNotNull() & ~arm.isin(*ARMS)),
        ("bad_boolean", "converted", R.bad_text(c("converted"), converted)),
        ("unparseable_phone", "msisdn", _phone_rule("msisdn", "own_", allow_short=False)),
    ]
    typed = {
        "campaign_id": c("campaign_id"),
        "subscriber_id": c("own_id"),
        "offer": c("offer"),
        "channel": channel,
        **dates,
        "arm": arm,
        "converted": converted,
    }
    return _outputs(df, "campaigns", rules, typed)


# ---------------------------------------------------------------------------- repeats


def filter_first_seen(df: DataFrame, keys: Sequence[str]) -> DataFrame:
    """One row per key: the earliest file's, ties broken by content (deterministic)."""
    order = Window.partitionBy(*keys).orderBy(
        F.col("file_order").asc(), F.xxhash64(*[c for c in df.columns if c != "file_order"])
    )
    ranked = df.withColumn("_rank", F.row_number().over(order))
    return ranked.where("_rank = 1").drop("_rank")


def filter_new_keys(df: DataFrame, existing: DataFrame | None, keys: Sequence[str]) -> DataFrame:
    """Drop rows whose key already is in ``existing`` (the silver rows already stored)."""
    if existing is None:
        return df
    return df.join(existing.select(*keys).distinct(), list(keys), "left_anti")


def filter_latest(df: DataFrame, existing: DataFrame | None, keys: Keys) -> DataFrame:
    """Merge new rows into the stored ones: per key the latest row wins (by the key's
    ``order_desc`` columns, then arrival; stored rows are older than any new file)."""
    cols = [c for c in df.columns if c != "file_order"]
    both = df
    if existing is not None:
        both = existing.select(*cols, F.lit(-1).alias("file_order")).unionByName(df)
    order = Window.partitionBy(*keys.columns).orderBy(
        *[F.col(c).desc_nulls_last() for c in keys.order_desc],
        F.col("file_order").desc(),
        F.xxhash64(*cols),
    )
    ranked = both.withColumn("_rank", F.row_number().over(order))
    return ranked.where("_rank = 1").drop("_rank")
