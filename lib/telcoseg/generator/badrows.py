"""Broken rows for the row-per-record sources: one rule broken per row, and only that one.

A sampled fraction of good rows gets an extra broken copy (the good row stays, so the
truth is intact). Which fault a copy gets is a hash of its key, drawn from the faults the
file format can carry (typed Parquet cannot hold a malformed number or date).
"""

from __future__ import annotations

from collections.abc import Callable

import pyspark.sql.functions as F
from pyspark.sql import Column, DataFrame

from telcoseg.generator import hashrand as hr
from telcoseg.generator.literals import const_array, lookup
from telcoseg.generator.settings import Settings

UNPARSEABLE = ("#VALUE!", "??", "ERROR")
BAD_DATES = ("2026-02-30", "2026-13-01", "yesterday")

# Which variant of a fault: (column, how the bad value is made from the valid string).
Variant = tuple[str, Callable[[Column], Column]]


def _blank(_: Column) -> Column:
    return F.lit(None).cast("string")


def _phone(_: Column) -> Column:
    return lookup(UNPARSEABLE, "string", F.col("fault_variant") % 3)


def _date(_: Column) -> Column:
    return lookup(BAD_DATES, "string", F.col("fault_variant") % 3)


def _negative(c: Column) -> Column:
    return F.concat(F.lit("-"), F.coalesce(c, F.lit("1")))


def _const(value: str) -> Callable[[Column], Column]:
    return lambda _: F.lit(value)


FAULTS: dict[str, dict[str, list[Variant]]] = {
    "app_usage": {
        "missing_required": [("msisdn", _blank), ("usage_date", _blank)],
        "bad_timestamp": [("usage_date", _date)],
        "bad_number": [("sessions", _const("12x")), ("bytes_down", _const("1.5MB"))],
        "negative_number": [("bytes_down", _negative), ("duration_s", _negative)],
        "unparseable_phone": [("msisdn", _phone)],
    },
    "subscribers": {
        "missing_required": [("msisdn", _blank)],
        "bad_timestamp": [("activation_date", _date)],
        "bad_enum": [("plan_type", _const("gold"))],
        "bad_number": [("monthly_fee", _const("twelve"))],
        "negative_number": [("monthly_fee", _negative)],
        "unparseable_phone": [("msisdn", _phone)],
    },
    "cells": {
        "missing_required": [("cell_id", _blank), ("latitude", _blank)],
        "bad_coordinate": [
            ("latitude", lambda c: (c.cast("double") + 120.0).cast("string")),
            ("longitude", lambda c: (c.cast("double") - 200.0).cast("string")),
        ],
        "bad_number": [("latitude", lambda c: F.regexp_replace(c, r"\.", ","))],
    },
    "outcomes": {
        "missing_required": [("msisdn", _blank), ("event_date", _blank), ("outcome", _blank)],
        "bad_timestamp": [("event_date", _date)],
        "bad_enum": [("outcome", _const("downgrade"))],
        "unparseable_phone": [("msisdn", _phone)],
    },
    "campaigns": {
        "missing_required": [("campaign_id", _blank), ("msisdn", _blank)],
        "bad_timestamp": [("sent_date", _date)],
        "bad_enum": [("channel", _const("fax")), ("arm", _const("placebo"))],
        "bad_boolean": [("converted", _const("maybe"))],
        "unparseable_phone": [("msisdn", _phone)],
    },
}
# Faults a typed Parquet column cannot carry.
NOT_IN_PARQUET = {"bad_timestamp", "bad_number", "bad_boolean"}


def faults_for(source: str, fmt: str) -> list[str]:
    names = list(FAULTS[source])
    return [f for f in names if f not in NOT_IN_PARQUET] if fmt == "parquet" else names


def with_bad_copies(rows: DataFrame, s: Settings, source: str) -> DataFrame:
    """Add ``fault`` (null on good rows) plus one broken copy of a sampled fraction of rows.

    Needs ``row_key`` (unique per good row) and ``fmt``.
    """
    seed = s.seed
    is_bad = hr.uniform(seed, f"{source}-bad", "row_key") < s.bad_fraction(source)
    copies = F.when(is_bad, F.array(F.lit(False), F.lit(True))).otherwise(F.array(F.lit(False)))
    out = rows.select("*", F.explode(copies).alias("is_bad_copy"))
    csv, pq = faults_for(source, "csv"), faults_for(source, "parquet")
    pick_csv = lookup(csv, "string", hr.below(seed, f"{source}-fault", len(csv), "row_key"))
    pick_pq = lookup(pq, "string", hr.below(seed, f"{source}-fault", len(pq), "row_key"))
    fault = F.when(F.col("fmt") == "parquet", pick_pq).otherwise(pick_csv)
    return out.select(
        "*",
        F.when(F.col("is_bad_copy"), fault).alias("fault"),
        hr.below(seed, f"{source}-variant", 1000, "row_key").alias("fault_variant"),
    )


def apply_faults(cols: dict[str, Column], source: str) -> dict[str, Column]:
    """Break the one field a row's fault names (string columns in, string columns out)."""
    out = dict(cols)
    fault = F.col("fault")
    for name, variants in FAULTS[source].items():
        for i, (column, make) in enumerate(variants):
            hit = (fault == name) & (F.col("fault_variant") % len(variants) == i)
            out[column] = F.when(hit, make(cols[column])).otherwise(out[column])
    return out


def fault_names(source: str) -> Column:
    return const_array(list(FAULTS[source]), "string")
