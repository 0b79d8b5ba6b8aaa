"""Tiny silver inputs for the feature tests (no tests here; imported by test_features_*)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from telcoseg.schemas import SILVER_APP_USAGE, SILVER_CDR, SILVER_CELLS, SILVER_SUBSCRIBERS

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    """``"2026-03-02 10:00:00"`` as an aware UTC instant."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def cdr_df(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    """SILVER_CDR rows from dicts; unset fields are null, ``roaming`` false, and
    ``record_id``/``event_date`` are derived (records numbered in list order)."""
    out = []
    for i, given in enumerate(rows):
        row = dict.fromkeys(SILVER_CDR.fieldNames())
        row.update(record_id=f"r{i:04d}", roaming=False)
        row.update(given)
        if row.get("event_date") is None:
            row["event_date"] = row["event_time"].astimezone(UTC).date()
        if isinstance(row.get("charge"), float | int):
            row["charge"] = Decimal(str(row["charge"]))
        out.append(tuple(row[n] for n in SILVER_CDR.fieldNames()))
    return spark.createDataFrame(out, SILVER_CDR)


def call(sub: str, when: str, direction: str, who: str, seconds: int, cell: str | None) -> dict:
    return {
        "subscriber_id": sub,
        "event_time": at(when),
        "event_type": "voice",
        "direction": direction,
        "counterparty_id": who,
        "duration_s": seconds,
        "cell_id": cell,
    }


def text(sub: str, when: str, direction: str, who: str, cell: str | None) -> dict:
    return {
        "subscriber_id": sub,
        "event_time": at(when),
        "event_type": "sms",
        "direction": direction,
        "counterparty_id": who,
        "cell_id": cell,
    }


def cells_df(spark: SparkSession, cells: dict[str, tuple[float, float]]) -> DataFrame:
    rows = [(c, lat, lon, None, None, None, None) for c, (lat, lon) in cells.items()]
    return spark.createDataFrame(rows, SILVER_CELLS)


def subscribers_df(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    out = []
    for given in rows:
        row = dict.fromkeys(SILVER_SUBSCRIBERS.fieldNames())
        row.update(given)
        if isinstance(row.get("monthly_fee"), float | int):
            row["monthly_fee"] = Decimal(str(row["monthly_fee"]))
        out.append(tuple(row[n] for n in SILVER_SUBSCRIBERS.fieldNames()))
    return spark.createDataFrame(out, SILVER_SUBSCRIBERS)


def app_usage_df(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    out = []
    for given in rows:
        row = dict.fromkeys(SILVER_APP_USAGE.fieldNames())
        row.update(given)
        out.append(tuple(row[n] for n in SILVER_APP_USAGE.fieldNames()))
    return spark.createDataFrame(out, SILVER_APP_USAGE)


def one_row(df: DataFrame, subscriber_id: str) -> dict[str, Any]:
    rows = df.filter(df.subscriber_id == subscriber_id).collect()
    assert len(rows) == 1, f"expected one row for {subscriber_id}, got {len(rows)}"
    return rows[0].asDict()
