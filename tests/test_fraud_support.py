"""Builders of tiny silver-shaped inputs for the fraud tests (no tests here)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from telcoseg.schemas import SILVER_CDR, SILVER_SUBSCRIBERS

SNAPSHOT = dt.date(2026, 3, 14)


def event(
    sub: str,
    time: str,
    event_type: str = "voice",
    direction: str | None = "out",
    cp: str | None = "X",
    duration: int | None = 60,
    cell: str | None = "C1",
    imei: str | None = None,
    intl: bool = False,
    cp_region: str | None = None,
    cp_country: str | None = "GB",
) -> dict[str, Any]:
    """One silver CDR row as a dict; time is UTC ``YYYY-MM-DD HH:MM:SS``."""
    ts = dt.datetime.fromisoformat(time)
    return {
        "subscriber_id": sub,
        "event_time": ts,
        "event_date": ts.date(),
        "event_type": event_type,
        "direction": None if event_type == "data" else direction,
        "counterparty_id": None if event_type == "data" else cp,
        "counterparty_country_iso": None if event_type == "data" else cp_country,
        "counterparty_number_region": cp_region,
        "is_international": intl,
        "duration_s": duration,
        "cell_id": cell,
        "imei_id": imei,
        "roaming": False,
    }


def cdr_df(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    """Rows -> a DataFrame with the exact silver CDR schema (absent columns null)."""
    names = SILVER_CDR.names
    tuples = []
    for i, r in enumerate(rows):
        full = {"record_id": f"r{i:07d}", **r}
        tuples.append(tuple(full.get(n) for n in names))
    return spark.createDataFrame(tuples, SILVER_CDR)


def subscribers_df(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    """Subscriber rows (subscriber_id + any silver subscriber column) with the silver schema."""
    names = SILVER_SUBSCRIBERS.names
    return spark.createDataFrame([tuple(r.get(n) for n in names) for r in rows], SILVER_SUBSCRIBERS)


def subscriber(
    sub: str, tenure_days: int = 800, plan: str = "Unlimited", plan_type: str = "postpaid"
) -> dict[str, Any]:
    return {
        "subscriber_id": sub,
        "activation_date": SNAPSHOT - dt.timedelta(days=tenure_days),
        "plan": plan,
        "plan_type": plan_type,
        "country_iso": "GB",
        "number_region": "United Kingdom",
        "carrier": "Demo",
    }


def _t(day: dt.date, seconds: float) -> str:
    return (dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)).isoformat(" ")


def population(
    days: int = 7,
    n_regular: int = 24,
    n_simbox: int = 2,
    n_call_center: int = 2,
    seed: int = 1,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(cdr rows, subscriber rows) of regular lines, SIM-boxes and call-center lines.

    SIM-boxes (``sb*``): ~120 outgoing calls a day round the clock to new numbers, one
    cell, two SIMs per gateway IMEI, young prepaid lines. Call centers (``cc*``): as many
    outgoing calls but in business hours, with inbound calls and callbacks, data, SMS,
    postpaid business plans. Regular lines (``u*``): a few calls and texts with friends.
    """
    rng = random.Random(seed)
    first = SNAPSHOT - dt.timedelta(days=days - 1)
    rows: list[dict[str, Any]] = []
    subs: list[dict[str, Any]] = []
    for i in range(n_regular):
        sub = f"u{i:02d}"
        friends = [f"f{i}_{k}" for k in range(8)]
        subs.append(subscriber(sub, tenure_days=rng.randint(60, 2000)))
        for d in range(days):
            day = first + dt.timedelta(days=d)
            for _ in range(rng.randint(1, 6)):
                kind = rng.choice(["voice", "voice", "sms", "data"])
                direction = rng.choice(["in", "out"])
                t = _t(day, rng.uniform(7, 23) * 3600)
                cell = rng.choice(["C1", "C2", "C3"])
                if kind == "data":
                    rows.append(event(sub, t, "data", None, None, 300, cell, f"i{sub}"))
                else:
                    rows.append(
                        event(
                            sub,
                            t,
                            kind,
                            direction,
                            rng.choice(friends),
                            rng.randint(5, 300) if kind == "voice" else None,
                            cell,
                            f"i{sub}",
                        )
                    )
    for i in range(n_simbox):
        sub = f"sb{i}"
        subs.append(
            subscriber(sub, tenure_days=rng.randint(30, 80), plan="PAYG", plan_type="prepaid")
        )
        for d in range(days):
            day = first + dt.timedelta(days=d)
            for k in range(120):
                t = _t(day, rng.uniform(0, 86400))
                rows.append(
                    event(
                        sub,
                        t,
                        "voice",
                        "out",
                        f"n{sub}_{d}_{k}",
                        rng.choice([0, rng.randint(20, 120)]),
                        "C9",
                        f"gw{i // 2}",
                    )
                )
    for i in range(n_call_center):
        sub = f"cc{i}"
        clients = [f"client{k}" for k in range(400)]
        subs.append(subscriber(sub, tenure_days=900, plan="Business Voice 500"))
        for d in range(days):
            day = first + dt.timedelta(days=d)
            if day.isoweekday() > 5:
                continue
            for _ in range(110):
                t = _t(day, rng.uniform(9, 17) * 3600)
                rows.append(
                    event(
                        sub,
                        t,
                        "voice",
                        "out",
                        rng.choice(clients),
                        rng.randint(30, 400),
                        "C5",
                        f"i{sub}",
                    )
                )
            for _ in range(45):
                t = _t(day, rng.uniform(9, 17) * 3600)
                rows.append(
                    event(
                        sub,
                        t,
                        "voice",
                        "in",
                        rng.choice(clients[:150]),
                        rng.randint(30, 400),
                        "C5",
                        f"i{sub}",
                    )
                )
            for _ in range(6):
                t = _t(day, rng.uniform(9, 17) * 3600)
                rows.append(event(sub, t, "data", None, None, 600, "C5", f"i{sub}"))
            rows.append(event(sub, _t(day, 11 * 3600), "sms", "out", "client1", None, "C5"))
    return rows, subs
