"""The data contract as data: sources, their canonical columns, and the columns a file
must carry (a file without one of them fails the run).

Row-level rules (types, enums, allowed fields) live in :mod:`telcoseg.ingest.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One landing source: ``<landing>/<name>/`` -> ``bronze/<name>`` -> ``silver/<name>``."""

    name: str
    columns: tuple[str, ...]  # canonical names, in bronze column order
    required: tuple[str, ...]  # a file lacking one of these cannot be ingested
    phone_columns: tuple[str, ...]  # raw numbers, parsed and pseudonymized on the way to silver


CDR = Source(
    "cdr",
    (
        "record_id",
        "event_time",
        "msisdn",
        "event_type",
        "direction",
        "counterparty",
        "duration_s",
        "bytes_up",
        "bytes_down",
        "cell_id",
        "imei",
        "roaming",
        "charge",
    ),
    # direction is required for voice and sms, so a CDR export must have the column.
    ("record_id", "event_time", "msisdn", "event_type", "direction"),
    ("msisdn", "counterparty"),
)
APP_USAGE = Source(
    "app_usage",
    (
        "msisdn",
        "usage_date",
        "app",
        "category",
        "bytes_up",
        "bytes_down",
        "sessions",
        "duration_s",
    ),
    ("msisdn", "usage_date", "app"),
    ("msisdn",),
)
SUBSCRIBERS = Source(
    "subscribers",
    (
        "msisdn",
        "account_id",
        "activation_date",
        "plan",
        "plan_type",
        "monthly_fee",
        "device_tac",
        "region",
        "as_of_date",
        "birth_year",
        "gender",
    ),
    ("msisdn",),
    ("msisdn",),
)
CELLS = Source(
    "cells",
    ("cell_id", "latitude", "longitude", "site_id", "technology"),
    ("cell_id", "latitude", "longitude"),
    (),
)
OUTCOMES = Source(
    "outcomes",
    ("msisdn", "event_date", "outcome"),
    ("msisdn", "event_date", "outcome"),
    ("msisdn",),
)
CAMPAIGNS = Source(
    "campaigns",
    (
        "campaign_id",
        "msisdn",
        "offer",
        "channel",
        "sent_date",
        "arm",
        "converted",
        "converted_date",
    ),
    ("campaign_id", "msisdn"),
    ("msisdn",),
)

SOURCES: dict[str, Source] = {
    s.name: s for s in (CDR, APP_USAGE, SUBSCRIBERS, CELLS, OUTCOMES, CAMPAIGNS)
}
