"""Bronze rows (strings) -> validated, typed silver rows or quarantine rows.

Each ``validate_<source>`` is a ``DataFrame -> DataFrame`` step: it takes the cleaned
bronze rows joined with the phone lookup and returns the silver columns plus ``reason`` /
``field`` (null when the row is valid), ``raw`` (the row as read), ``source_file``,
``file_order`` and the row's place in its file. Built-in functions only; the phone
attributes come from :mod:`telcoseg.ingest.phones` through joins.

Natural keys and how repeats collapse (a collapsed row counts as a duplicate):

========== ============================== =================================================
source     key                            winner
========== ============================== =================================================
cdr        record_id                      first seen; existing silver wins
app_usage  subscriber_id, usage_date, app first seen; existing silver wins
outcomes   subscriber_id, event_date,     first seen; existing silver wins
           outcome
campaigns  campaign_id, subscriber_id     latest arrival (a later export carries conversion)
subscribers subscriber_id                 latest as_of_date, then latest arrival
cells      cell_id                        latest arrival
========== ============================== =================================================

Arrival is total: the file's rank (bronze run, modification time, path), then the row's
place in its file (bronze's ``file_split``/``file_row``). "First seen" of two rows in
one file is the upper one, "latest" the lower one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from telcoseg.ingest import rules as R
from telcoseg.ingest.contract import SOURCES
from telcoseg.ingest.phones import IMEI, normalized_imei
from telcoseg.ingest.tables import POSITION
from telcoseg.schemas import NUMBER_ATTRS, SILVER

ATTR_NAMES = [f.name for f in NUMBER_ATTRS]
Parsed = dict[str, Column]
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
    """Trim every contract column (empty -> null) and keep the row as read in ``raw``.

    ``raw`` is a struct of the bronze strings: :func:`raw_json` turns it into text for the
    quarantined rows only (JSON for every row was a third of validation's cost).
    """
    columns = SOURCES[source].columns
    return df.select(
        *[R.cleaned(c).alias(c) for c in columns],
        F.struct(*[F.col(c) for c in columns]).alias("raw"),
        *[c for c in ("source_file", "ingest_run_id", *POSITION) if c in df.columns],
    )


def raw_json(raw: Column) -> Column:
    """The row as read (the ``raw`` struct of :func:`with_clean_text`) as JSON, nulls kept."""
    return F.to_json(raw, {"ignoreNullFields": "false"})


def with_file_order(df: DataFrame, order: Mapping[tuple[str, str], int]) -> DataFrame:
    """``file_order``: arrival rank of the row's file (bronze run, then mtime, then path).

    ``order`` maps ``(ingest_run_id, source_file)`` to the rank. It is joined as a
    broadcast table: a literal map would be searched key by key for every row (a string
    comparison per file per row, so its cost grows with the files of a batch).
    """
    ranks = [(run, path, rank) for (run, path), rank in order.items()]
    table = df.sparkSession.createDataFrame(
        ranks, "_order_run string, _order_file string, _order_rank int"
    )
    joined = df.join(
        F.broadcast(table),
        (df["ingest_run_id"] == table["_order_run"]) & (df["source_file"] == table["_order_file"]),
        "left",
    )
    return joined.withColumn(
        "file_order", F.coalesce(F.col("_order_rank"), F.lit(0)).cast("int")
    ).drop("_order_run", "_order_file", "_order_rank")


NUMBER, OWN_NUMBER, IMEI_KIND, CDR_KEY = "number", "own_number", "imei", "cdr_key"
# The subscriber's own number: few distinct values (one per line), so its lookup can be
# broadcast even when the counterparties' cannot.
OWN_COLUMN = "msisdn"


def batch_facts(cleaned: Mapping[str, DataFrame]) -> DataFrame:
    """(kind, value, n) over a batch in one pass: each distinct raw number of a
    subscriber's own column (``own_number``) and of the other phone columns (``number``;
    a value can be both), each distinct well-formed IMEI (``imei``), and each CDR
    ``record_id`` that occurs more than once (``cdr_key``; n = its rows). All small next
    to the rows."""

    def fact(kind: str, value: Column) -> Column:
        return F.struct(F.lit(kind).alias("kind"), value.alias("value"))

    parts = []
    for name, df in cleaned.items():
        values = [
            fact(OWN_NUMBER if c == OWN_COLUMN else NUMBER, F.col(c))
            for c in SOURCES[name].phone_columns
        ]
        if name == "cdr":
            # Normalized once in a projection: inside the array below it would be
            # evaluated once for the test and again for the value.
            df = df.withColumn("_imei", normalized_imei("imei"))
            imei = F.col("_imei")
            values.append(fact(IMEI_KIND, F.when(imei.rlike(IMEI.pattern), imei)))
            values.append(fact(CDR_KEY, F.col("record_id")))
        if values:
            parts.append(df.select(F.inline(F.array(*values))))
    if not parts:
        spark = next(iter(cleaned.values())).sparkSession
        return spark.createDataFrame([], "kind string, value string, n long")
    union = reduce(DataFrame.unionByName, parts).where(F.col("value").isNotNull())
    facts = union.groupBy("kind", "value").agg(F.count(F.lit(1)).alias("n"))
    return facts.where((F.col("kind") != CDR_KEY) | (F.col("n") > 1))


def repeated_keys(facts: DataFrame) -> DataFrame:
    """The CDR record_ids of :func:`batch_facts` that occur more than once."""
    return facts.where(F.col("kind") == CDR_KEY).select(F.col("value").alias("record_id"))


def with_number(df: DataFrame, lookup: DataFrame, column: str, prefix: str) -> DataFrame:
    """Left-join the phone lookup on the raw text of ``column``; its fields get ``prefix``."""
    renamed = lookup.select(
        F.col("raw").alias(f"{prefix}raw"),
        *[F.col(c).alias(prefix + c) for c in lookup.columns if c not in ("raw", "e164")],
    )
    return df.join(renamed, df[column] == renamed[f"{prefix}raw"], "left").drop(f"{prefix}raw")


def _with_parsed(df: DataFrame, parsed: Mapping[str, Column]) -> tuple[DataFrame, Parsed]:
    """Add each parsed value as a column once; the rules and typed outputs read the columns.

    Written inline, every rule and output that mentions a parser would run it again in
    one huge projection (about ten times the cost of the whole scan on 1M CDR rows);
    Spark does not collapse a projection whose non-trivial columns are read twice.
    """
    names = {k: f"_p_{k}" for k in parsed}
    out = df.select("*", *[v.alias(names[k]) for k, v in parsed.items()])
    return out, {k: F.col(n) for k, n in names.items()}


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
        *POSITION,
    )


# ---------------------------------------------------------------------------- sources


def validate_cdr(
    df: DataFrame,
    numbers: DataFrame,
    imeis: DataFrame,
    timezone: str,
    own_numbers: DataFrame | None = None,
) -> DataFrame:
    """CDR rules: required fields, ISO timestamp, enums, numbers >= 0, field per event type.

    ``own_numbers``: the lookup of the msisdn values alone (default: ``numbers``), small
    enough to broadcast when the counterparties' lookup is joined with a shuffle.
    """
    df = with_number(df, numbers if own_numbers is None else own_numbers, "msisdn", "own_")
    df = with_number(df, numbers, "counterparty", "cp_")
    imei = F.broadcast(
        imeis.select(F.col("raw").alias("imei_raw"), "tac", F.col("id").alias("imei_id"))
    )
    df = df.withColumn("imei_norm", normalized_imei("imei"))
    df = df.join(imei, df["imei_norm"] == imei["imei_raw"], "left")

    c = F.col
    df, p = _with_parsed(
        df,
        {
            "event_type": F.lower(c("event_type")),
            "direction": F.lower(c("direction")),
            "event_time": R.parse_instant(c("event_time"), timezone),
            **{n: R.parse_long(c(n)) for n in ("duration_s", "bytes_up", "bytes_down")},
            "charge": R.parse_decimal(c("charge")),
            "roaming": R.parse_bool(c("roaming")),
        },
    )
    event_type, direction, event_time = p["event_type"], p["direction"], p["event_time"]
    is_voice, is_sms, is_data = event_type == "voice", event_type == "sms", event_type == "data"
    is_talk = is_voice | is_sms
    nums = {n: p[n] for n in ("duration_s", "bytes_up", "bytes_down")}
    charge, roaming = p["charge"], p["roaming"]
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
    counts = ("bytes_up", "bytes_down", "sessions", "duration_s")
    df, p = _with_parsed(
        df, {"usage_date": R.parse_date(c("usage_date")), **{n: R.parse_long(c(n)) for n in counts}}
    )
    usage_date, nums = p["usage_date"], {n: p[n] for n in counts}
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
    day_names = ("activation_date", "as_of_date")
    df, p = _with_parsed(
        df,
        {
            **{n: R.parse_date(c(n)) for n in day_names},
            "monthly_fee": R.parse_decimal(c("monthly_fee")),
            "birth_year": R.parse_long(c("birth_year")),
        },
    )
    dates = {n: p[n] for n in day_names}
    fee, birth = p["monthly_fee"], p["birth_year"]
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
    df, p = _with_parsed(df, {n: R.parse_double(c(n)) for n in ("latitude", "longitude")})
    lat, lon = p["latitude"], p["longitude"]
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
    df, p = _with_parsed(df, {"event_date": R.parse_date(c("event_date"))})
    event_date = p["event_date"]
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
    day_names = ("sent_date", "converted_date")
    df, p = _with_parsed(
        df,
        {**{n: R.parse_date(c(n)) for n in day_names}, "converted": R.parse_bool(c("converted"))},
    )
    dates, converted = {n: p[n] for n in day_names}, p["converted"]
    channel, arm = F.lower(c("channel")), F.lower(c("arm"))
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


def _arrival(descending: bool) -> list[Column]:
    """Arrival order of rows: file (``file_order``), then place in the file. Unique per
    row, so the winner of a key never depends on how Spark happened to read the rows."""
    cols = [F.col(c) for c in ("file_order", *POSITION)]
    return [c.desc() if descending else c.asc() for c in cols]


def filter_first_seen(df: DataFrame, keys: Sequence[str]) -> DataFrame:
    """One row per key: the first to arrive (earliest file, then earliest row in it)."""
    order = Window.partitionBy(*keys).orderBy(*_arrival(descending=False))
    ranked = df.withColumn("_rank", F.row_number().over(order))
    return ranked.where("_rank = 1").drop("_rank")


def first_arrivals(valid: DataFrame, keys: Sequence[str]) -> DataFrame:
    """Per key, the arrival (file_order, file_split, file_row) of its first valid row.

    Meant for the rows of repeated keys only (few): :func:`filter_first_arrivals` then
    keeps the winners with a broadcast join instead of sorting every row of the batch.
    """
    arrival = F.struct(*[F.col(c) for c in ("file_order", *POSITION)])
    return valid.groupBy(*keys).agg(F.min(arrival).alias("_first"))


def filter_first_arrivals(df: DataFrame, firsts: DataFrame, keys: Sequence[str]) -> DataFrame:
    """Rows whose key is not in ``firsts`` (it occurs once) or that arrived first."""
    arrival = F.struct(*[F.col(c) for c in ("file_order", *POSITION)])
    joined = df.join(F.broadcast(firsts), list(keys), "left")
    keep = F.col("_first").isNull() | (arrival == F.col("_first"))
    return joined.where(keep).drop("_first")


def filter_new_keys(df: DataFrame, existing: DataFrame | None, keys: Sequence[str]) -> DataFrame:
    """Drop rows whose key already is in ``existing`` (the silver rows already stored)."""
    if existing is None:
        return df
    return df.join(existing.select(*keys).distinct(), list(keys), "left_anti")


def filter_latest(df: DataFrame, existing: DataFrame | None, keys: Keys) -> DataFrame:
    """Merge new rows into the stored ones: per key the latest row wins (by the key's
    ``order_desc`` columns, then arrival: the later file, and in one file the later row;
    stored rows are older than any new file)."""
    cols = [c for c in df.columns if c not in ("file_order", *POSITION)]
    both = df
    if existing is not None:
        stored = [
            F.lit(-1).alias("file_order"),
            *[F.lit(0).cast("long").alias(c) for c in POSITION],
        ]
        both = existing.select(*cols, *stored).unionByName(df)
    order = Window.partitionBy(*keys.columns).orderBy(
        *[F.col(c).desc_nulls_last() for c in keys.order_desc], *_arrival(descending=True)
    )
    ranked = both.withColumn("_rank", F.row_number().over(order))
    return ranked.where("_rank = 1").drop("_rank")
