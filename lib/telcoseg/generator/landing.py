"""Landing rows of app_usage, subscribers, cells, outcomes and campaigns, as exported.

Each builder takes typed generated rows and returns the contract's columns: strings for
CSV (numbers in national or E.164 form, mixed-case enums, broken copies applied) or typed
columns for Parquet. ``fmt`` decides each row's file format.
"""

from __future__ import annotations

import pyspark.sql.functions as F
from pyspark.sql import Column, DataFrame

from telcoseg.generator import geography as geo
from telcoseg.generator import hashrand as hr
from telcoseg.generator import numbers as num
from telcoseg.generator.badrows import apply_faults, with_bad_copies
from telcoseg.generator.literals import lookup
from telcoseg.generator.settings import Settings
from telcoseg.ingest.contract import SOURCES

DATE = "yyyy-MM-dd"


def with_format(df: DataFrame, s: Settings) -> DataFrame:
    """Spread rows of a small source over the configured formats (one file each)."""
    idx = hr.below(s.seed, "file-format", len(s.formats), "row_key")
    return df.select("*", lookup(list(s.formats), "string", idx).alias("fmt"))


def _cased(value: Column, u: Column) -> Column:
    return F.when(u < 0.9, value).when(u < 0.95, F.upper(value)).otherwise(F.initcap(value))


def _msisdn(s: Settings, salt: str) -> Column:
    u = hr.uniform(s.seed, salt, "row_key")
    return num.as_written(F.col("msisdn"), F.lit("own"), u, s.national_format_share)


def app_usage_landing(rows: DataFrame, s: Settings) -> DataFrame:
    """``rows`` from apps.app_rows plus ``row_key``; adds broken copies."""
    df = with_bad_copies(rows, s, "app_usage")
    u_case = hr.uniform(s.seed, "category-case", "row_key")
    cols = {
        "msisdn": _msisdn(s, "app-msisdn-form"),
        "usage_date": F.date_format("usage_date", DATE),
        "app": F.col("app"),
        "category": _cased(F.col("category"), u_case),
        "bytes_up": F.col("bytes_up").cast("string"),
        "bytes_down": F.col("bytes_down").cast("string"),
        "sessions": F.col("sessions").cast("string"),
        "duration_s": F.col("duration_s").cast("string"),
    }
    return _strings(df, cols, "app_usage", keep=("part",))


def subscribers_landing(pop: DataFrame, s: Settings) -> DataFrame:
    df = with_format(pop.select("*", F.col("sub_id").alias("row_key")), s)
    df = with_bad_copies(df, s, "subscribers")
    cols = {
        "msisdn": _msisdn(s, "sub-msisdn-form"),
        "account_id": F.col("account_id"),
        "activation_date": F.date_format("activation_date", DATE),
        "plan": F.col("plan"),
        "plan_type": _cased(F.col("plan_type"), hr.uniform(s.seed, "plan-case", "row_key")),
        "monthly_fee": F.col("monthly_fee").cast("decimal(18,4)").cast("string"),
        "device_tac": F.col("device_tac"),
        "region": F.col("region"),
        # A line's state is static over the generated period, so the row is valid from the
        # first day of data (or activation, if later). Stamping it with end_date told
        # point-in-time features that nothing about the line was known at any earlier
        # snapshot: tenure, fee, plan and lines per account were null in every training set.
        "as_of_date": F.date_format(
            F.greatest(F.lit(s.start_date), F.col("activation_date")), DATE
        ),
        "birth_year": F.col("birth_year").cast("string"),
        "gender": F.col("gender"),
    }
    return _strings(df, cols, "subscribers")


def cells_landing(cells: DataFrame, s: Settings) -> DataFrame:
    df = with_format(cells.select("*", F.col("cell_idx").alias("row_key")), s)
    df = with_bad_copies(df, s, "cells")
    # A broken copy describes a cell id no event uses, so the good row stays unambiguous.
    cell = F.when(F.col("is_bad_copy"), geo.cell_id(F.col("cell_idx") + 300_000)).otherwise(
        F.col("cell_id")
    )
    cols = {
        "cell_id": cell,
        "latitude": F.col("latitude").cast("string"),
        "longitude": F.col("longitude").cast("string"),
        "site_id": F.col("site_id"),
        "technology": F.col("technology"),
    }
    return _strings(df, cols, "cells")


def outcomes_landing(truth: DataFrame, s: Settings) -> DataFrame:
    happened = truth.filter(F.col("happened"))
    key = hr.hash64(s.seed, "outcome-key", "sub_id", F.unix_date("snapshot_date"), "outcome")
    df = with_format(happened.select("*", key.alias("row_key")), s)
    df = with_bad_copies(df, s, "outcomes")
    cols = {
        "msisdn": _msisdn(s, "outcome-msisdn-form"),
        "event_date": F.date_format("event_date", DATE),
        "outcome": F.col("outcome"),
    }
    return _strings(df, cols, "outcomes")


def campaigns_landing(rows: DataFrame, s: Settings) -> DataFrame:
    df = with_format(rows.select("*", (F.col("sub_id") * 16 + F.col("ci")).alias("row_key")), s)
    df = with_bad_copies(df, s, "campaigns")
    cols = {
        "campaign_id": F.col("campaign_id"),
        "msisdn": _msisdn(s, "campaign-msisdn-form"),
        "offer": F.col("offer"),
        "channel": F.col("channel"),
        "sent_date": F.date_format("sent_date", DATE),
        "arm": F.col("arm"),
        "converted": F.when(F.col("converted"), "true").otherwise("false"),
        "converted_date": F.date_format("converted_date", DATE),
    }
    return _strings(df, cols, "campaigns")


# Column order of each small source, straight from the data contract.
COLUMNS: dict[str, tuple[str, ...]] = {
    name: SOURCES[name].columns
    for name in ("app_usage", "subscribers", "cells", "outcomes", "campaigns")
}
TYPES: dict[str, dict[str, str]] = {
    "app_usage": {
        "usage_date": "date",
        "bytes_up": "bigint",
        "bytes_down": "bigint",
        "sessions": "bigint",
        "duration_s": "bigint",
    },
    "subscribers": {
        "activation_date": "date",
        "monthly_fee": "decimal(18,4)",
        "as_of_date": "date",
        "birth_year": "int",
    },
    "cells": {"latitude": "double", "longitude": "double"},
    "outcomes": {"event_date": "date"},
    "campaigns": {"sent_date": "date", "converted": "boolean", "converted_date": "date"},
}


def _strings(
    df: DataFrame, cols: dict[str, Column], source: str, keep: tuple[str, ...] = ("fmt",)
) -> DataFrame:
    """Contract columns as strings with faults applied, plus ``fault`` and ``keep``."""
    cols = apply_faults(cols, source)
    extra = [F.col(k) for k in (*keep, "fault")]
    return df.select(*[cols[n].alias(n) for n in COLUMNS[source]], *extra)


def file_view(df: DataFrame, source: str, typed: bool, keep: tuple[str, ...] = ()) -> DataFrame:
    """What goes into a file: strings for CSV, contract types for Parquet."""
    types = TYPES[source]
    cols = [
        (F.col(n).try_cast(types[n]) if typed and n in types else F.col(n)).alias(n)
        for n in COLUMNS[source]
    ]
    return df.select(*cols, *keep)
