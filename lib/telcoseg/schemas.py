"""Schemas of the silver tables: the interface between ingestion and everything after it.

Silver holds no phone number: ``subscriber_id`` and ``counterparty_id`` are lowercase hex
HMAC-SHA256 of the E.164 number (short codes: of the short code as written). Attributes of
a number (country, region, carrier, type) are derived before it is pseudonymized.
"""

from __future__ import annotations

from pyspark.sql import types as T

MONEY = T.DecimalType(18, 4)

# Reason codes of the quarantine table (documented in the README).
REASON_CODES: dict[str, str] = {
    "missing_required": "a required field is empty",
    "bad_timestamp": "a timestamp or date does not parse (ISO-8601 expected)",
    "bad_enum": "a categorical field has a value outside its allowed set",
    "bad_number": "a numeric field is not a number of the expected kind",
    "negative_number": "a count, volume, duration or amount is below zero",
    "bad_boolean": "a boolean field is not true/false/1/0/yes/no",
    "field_not_allowed": "a field is filled that its event type must leave empty",
    "unparseable_phone": "a phone number does not parse and is not a short code",
    "bad_coordinate": "latitude/longitude outside WGS84 range",
}

NUMBER_ATTRS = [
    T.StructField("country_iso", T.StringType()),  # ISO 3166 alpha-2, e.g. GB
    T.StructField("calling_code", T.IntegerType()),  # e.g. 44
    T.StructField("number_region", T.StringType()),  # libphonenumber geocoder, e.g. "London"
    T.StructField("carrier", T.StringType()),  # libphonenumber carrier name (original range)
    T.StructField("number_type", T.StringType()),  # mobile, fixed_line, ..., short_code, unknown
    T.StructField("is_valid", T.BooleanType()),
]


def _prefixed(prefix: str) -> list[T.StructField]:
    return [T.StructField(prefix + f.name, f.dataType) for f in NUMBER_ATTRS]


LINEAGE = [
    T.StructField("source_file", T.StringType()),
    T.StructField("ingest_run_id", T.StringType()),
]

SILVER_CDR = T.StructType(
    [
        T.StructField("record_id", T.StringType(), False),
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("event_time", T.TimestampType(), False),  # instant (UTC)
        T.StructField("event_date", T.DateType(), False),  # local date in config timezone
        T.StructField("event_type", T.StringType(), False),  # voice | sms | data
        T.StructField("direction", T.StringType()),  # in | out (null for data)
        T.StructField("counterparty_id", T.StringType()),  # null for data
        *_prefixed("counterparty_"),
        T.StructField("is_on_net", T.BooleanType()),
        T.StructField("is_international", T.BooleanType()),
        T.StructField("duration_s", T.LongType()),
        T.StructField("bytes_up", T.LongType()),
        T.StructField("bytes_down", T.LongType()),
        T.StructField("cell_id", T.StringType()),  # null = location unknown
        T.StructField("tac", T.StringType()),  # first 8 digits of the IMEI
        T.StructField("imei_id", T.StringType()),  # HMAC of the IMEI (device identity)
        T.StructField("roaming", T.BooleanType(), False),
        T.StructField("charge", MONEY),
        *LINEAGE,
    ]
)

SILVER_SUBSCRIBERS = T.StructType(
    [
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("account_id", T.StringType()),
        T.StructField("activation_date", T.DateType()),
        T.StructField("plan", T.StringType()),
        T.StructField("plan_type", T.StringType()),  # prepaid | postpaid
        T.StructField("monthly_fee", MONEY),
        T.StructField("device_tac", T.StringType()),
        T.StructField("region", T.StringType()),
        T.StructField("as_of_date", T.DateType()),
        T.StructField("birth_year", T.IntegerType()),  # protected: audit only, never a feature
        T.StructField("gender", T.StringType()),  # protected: audit only, never a feature
        *NUMBER_ATTRS,
        *LINEAGE,
    ]
)

SILVER_CELLS = T.StructType(
    [
        T.StructField("cell_id", T.StringType(), False),
        T.StructField("latitude", T.DoubleType(), False),
        T.StructField("longitude", T.DoubleType(), False),
        T.StructField("site_id", T.StringType()),
        T.StructField("technology", T.StringType()),
        *LINEAGE,
    ]
)

SILVER_APP_USAGE = T.StructType(
    [
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("usage_date", T.DateType(), False),
        T.StructField("app", T.StringType(), False),
        T.StructField("category", T.StringType()),  # lower-cased label
        T.StructField("bytes_up", T.LongType()),
        T.StructField("bytes_down", T.LongType()),
        T.StructField("sessions", T.LongType()),
        T.StructField("duration_s", T.LongType()),
        *LINEAGE,
    ]
)

SILVER_OUTCOMES = T.StructType(
    [
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("event_date", T.DateType(), False),
        T.StructField("outcome", T.StringType(), False),  # upgrade | add_line | adopt:<service>
        *LINEAGE,
    ]
)

SILVER_CAMPAIGNS = T.StructType(
    [
        T.StructField("campaign_id", T.StringType(), False),
        T.StructField("subscriber_id", T.StringType(), False),
        T.StructField("offer", T.StringType()),
        T.StructField("channel", T.StringType()),  # sms | email | app | call
        T.StructField("sent_date", T.DateType()),
        T.StructField("arm", T.StringType()),  # treatment | control
        T.StructField("converted", T.BooleanType()),
        T.StructField("converted_date", T.DateType()),
        *LINEAGE,
    ]
)

SILVER = {
    "cdr": SILVER_CDR,
    "subscribers": SILVER_SUBSCRIBERS,
    "cells": SILVER_CELLS,
    "app_usage": SILVER_APP_USAGE,
    "outcomes": SILVER_OUTCOMES,
    "campaigns": SILVER_CAMPAIGNS,
}
