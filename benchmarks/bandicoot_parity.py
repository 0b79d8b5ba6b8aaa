"""Parity of telcoseg's Spark indicators with bandicoot 0.6.0, on seeded synthetic users.

One generator (:func:`generate_records`) feeds both writers: bandicoot's per-user CSVs +
antennas file, and silver-shaped Spark DataFrames (``SILVER_CDR``/``SILVER_CELLS``). Then
``bandicoot.read_csv`` + ``bandicoot.utils.all(user, flatten=True)`` runs per user and
telcoseg's indicators on all users, and every value is compared.

Run: ``.venv/bin/python benchmarks/bandicoot_parity.py [--users 48] [--split]``.
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime as dt
import hashlib
import inspect
import itertools
import math
import random
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from telcoseg.features.catalogue import bandicoot_key_to_column, bandicoot_keys
from telcoseg.features.records import tie_break
from telcoseg.features.settings import Settings
from telcoseg.features.vectors import bandicoot_records, indicators_from_records, persisted
from telcoseg.schemas import SILVER_CDR, SILVER_CELLS

TIMEZONE = "Europe/Paris"  # the window crosses the 2026-03-29 DST change
FIRST_DAY = dt.date(2026, 3, 2)  # a Monday
WEEKS = 6
SNAPSHOT = FIRST_DAY + dt.timedelta(days=7 * WEEKS - 1)
WINDOW_DAYS = 7 * WEEKS
REL_TOL = 1e-6
ABS_TOL = 1e-9  # values that are 0 in one and ~1e-13 in the other (float summation order)
CSV_FIELDS = [
    "interaction",
    "direction",
    "correspondent_id",
    "datetime",
    "call_duration",
    "antenna_id",
]


# --------------------------------------------------------------------------- bandicoot


def import_bandicoot() -> ModuleType:
    """Import bandicoot 0.6.0 on Python 3.11, which removed two functions it calls at
    import time (``helper.tools.advanced_wrap``). Patched here, never in the library."""
    if not hasattr(inspect, "getargspec"):
        argspec = collections.namedtuple("ArgSpec", "args varargs keywords defaults")

        def getargspec(func: Any) -> Any:
            spec = inspect.getfullargspec(func)
            return argspec(spec.args, spec.varargs, spec.varkw, spec.defaults)

        def formatargspec(
            args: list[str],
            varargs: str | None = None,
            varkw: str | None = None,
            defaults: tuple[Any, ...] | list[Any] | None = None,
            formatvalue: Any = lambda value: "=" + repr(value),
        ) -> str:
            defaults = list(defaults or [])
            first_default = len(args) - len(defaults)
            specs = [
                a + (formatvalue(defaults[i - first_default]) if i >= first_default else "")
                for i, a in enumerate(args)
            ]
            if varargs is not None:
                specs.append("*" + varargs)
            if varkw is not None:
                specs.append("**" + varkw)
            return "(" + ", ".join(specs) + ")"

        inspect.getargspec = getargspec  # type: ignore[attr-defined]
        inspect.formatargspec = formatargspec  # type: ignore[attr-defined]
    import bandicoot

    return bandicoot


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class SyntheticRecord:
    """One call or text of a synthetic subscriber (the one source of both writers)."""

    user_id: str
    record_id: str
    event_time: dt.datetime  # aware, UTC
    interaction: str  # call | text
    direction: str  # in | out
    correspondent_id: str
    call_duration: int | None  # None for texts
    antenna_id: str | None  # None: no location; may be absent from the cells table


@dataclass(frozen=True)
class Cell:
    cell_id: str
    latitude: float
    longitude: float


def _hex_id(prefix: str, i: int) -> str:
    return hashlib.sha256(f"{prefix}{i}".encode()).hexdigest()[:16]


PROFILES = (
    "regular",
    "no_texts",
    "one_week_daytime",
    "missing_antennas",
    "missed_calls",
    "nocturnal",
    "conversations",
    "tiny",
)


def generate_records(
    n_users: int = 48, seed: int = 7, timezone: str = TIMEZONE
) -> tuple[list[SyntheticRecord], list[Cell]]:
    """Seeded users cycling through :data:`PROFILES` (each profile >= 5 users at 40+)."""
    rng = random.Random(seed)
    tz = zoneinfo.ZoneInfo(timezone)
    cells = [
        Cell(f"C{i:03d}", round(48.8 + rng.random() * 0.15, 6), round(2.25 + rng.random() * 0.2, 6))
        for i in range(30)
    ]
    shared_contacts = [_hex_id("contact", i) for i in range(40)]
    ids = itertools.count(1)
    records: list[SyntheticRecord] = []
    for u in range(n_users):
        records += _user_records(
            rng, PROFILES[u % len(PROFILES)], _hex_id("user", u), cells, shared_contacts, tz, ids
        )
    # Keep the window: bursts may run past the last day.
    last = dt.datetime.combine(SNAPSHOT, dt.time(23, 59, 59)).replace(tzinfo=tz)
    return [r for r in records if r.event_time <= last], cells


def _user_records(
    rng: random.Random,
    profile: str,
    user_id: str,
    cells: list[Cell],
    shared_contacts: list[str],
    tz: zoneinfo.ZoneInfo,
    ids: Iterator[int],
) -> list[SyntheticRecord]:
    contacts = rng.sample(shared_contacts, rng.randint(2, 10))
    antennas: list[str | None] = [c.cell_id for c in rng.sample(cells, rng.randint(1, 5))]
    if profile == "missing_antennas":
        antennas += [None, None, "X_UNKNOWN_1", "X_UNKNOWN_2"]
    one_week = profile == "one_week_daytime"
    n_weeks = 1 if one_week else rng.randint(2, WEEKS)
    first_week = rng.randint(0, WEEKS - 1) if one_week else 0
    start = FIRST_DAY + dt.timedelta(days=7 * min(first_week, WEEKS - n_weeks))
    out: list[SyntheticRecord] = []

    def local_moment(day: int, seconds: int) -> dt.datetime:
        d = start + dt.timedelta(days=day)
        naive = dt.datetime(d.year, d.month, d.day) + dt.timedelta(seconds=seconds)
        # Local wall time -> UTC (fold=0 on ambiguous times; skipped times shift).
        return naive.replace(tzinfo=tz).astimezone(dt.UTC)

    def pick_seconds() -> int:
        if one_week:
            return rng.randint(8 * 3600, 18 * 3600)  # daytime only: no home
        if profile == "nocturnal" and rng.random() < 0.7:
            edge = rng.choice([0, 1, -1, 2, 1800])  # bandicoot's night bounds are inclusive
            return rng.choice([19 * 3600 + edge, 7 * 3600 - edge, rng.randint(0, 6 * 3600)])
        return rng.randint(0, 86399)

    def add(moment: dt.datetime, interaction: str, who: str, duration: int | None) -> None:
        out.append(
            SyntheticRecord(
                user_id=user_id,
                record_id=f"r{next(ids):08d}",
                event_time=moment,
                interaction=interaction,
                direction=rng.choice(["in", "out"]),
                correspondent_id=who,
                call_duration=duration if interaction == "call" else None,
                antenna_id=rng.choice(antennas),
            )
        )

    def call_duration() -> int:
        return 0 if profile == "missed_calls" else rng.choice([0, rng.randint(1, 3600)])

    n_records = rng.randint(1, 3) if profile == "tiny" else rng.randint(20, 120)
    for _ in range(n_records):
        interaction = "call"
        if profile == "tiny" or (profile != "no_texts" and rng.random() < 0.5):
            interaction = rng.choice(["call", "text"]) if profile == "tiny" else "text"
        moment = local_moment(rng.randrange(n_weeks * 7), pick_seconds())
        add(moment, interaction, rng.choice(contacts), call_duration())
        if rng.random() < 0.1:  # same 30-min chunk, maybe another antenna: bin tie-break
            later = moment + dt.timedelta(seconds=rng.randint(0, 600))
            add(later, "call", rng.choice(contacts), call_duration())
    if profile in ("conversations", "regular", "nocturnal", "missing_antennas"):
        for _ in range(rng.randint(2, 8)):  # bursts with one contact around the 1h rule
            who = rng.choice(contacts)
            moment = local_moment(rng.randrange(n_weeks * 7), pick_seconds())
            for _ in range(rng.randint(2, 7)):
                kind = "call" if rng.random() < 0.15 else "text"
                add(moment, kind, who, rng.randint(0, 900))
                gap = rng.choice([0, 5, 30, 600, 3599, 3600, 3601, 7200])
                moment = moment + dt.timedelta(seconds=gap)
    return out


def local_naive(moment: dt.datetime, timezone: str) -> dt.datetime:
    return moment.astimezone(zoneinfo.ZoneInfo(timezone)).replace(tzinfo=None)


def tie_breaks(spark: SparkSession, records: list[SyntheticRecord]) -> dict[str, int]:
    """telcoseg's order of records within one second (``records.tie_break``), per record_id."""
    ids = spark.createDataFrame([(r.record_id,) for r in records], "record_id string")
    keyed = ids.select("record_id", tie_break(F.col("record_id")).alias("tb"))
    return {row.record_id: row.tb for row in keyed.collect()}


def write_bandicoot_csvs(
    records: list[SyntheticRecord],
    cells: list[Cell],
    directory: Path,
    order: dict[str, int],
    timezone: str = TIMEZONE,
) -> tuple[list[str], Path]:
    """bandicoot's format: ``<user>.csv`` per user (rows in time order, ties by
    ``order[record_id]``: telcoseg's tie_break) and ``antennas.csv``."""
    directory.mkdir(parents=True, exist_ok=True)
    by_user: dict[str, list[SyntheticRecord]] = collections.defaultdict(list)
    for r in records:
        by_user[r.user_id].append(r)
    for user_id, rows in by_user.items():
        rows.sort(key=lambda r: (local_naive(r.event_time, timezone), order[r.record_id]))
        with open(directory / f"{user_id}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(CSV_FIELDS)
            for r in rows:
                w.writerow(
                    [
                        r.interaction,
                        r.direction,
                        r.correspondent_id,
                        local_naive(r.event_time, timezone).strftime("%Y-%m-%d %H:%M:%S"),
                        "" if r.call_duration is None else r.call_duration,
                        r.antenna_id or "",
                    ]
                )
    antennas = directory / "antennas.csv"
    with open(antennas, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["antenna_id", "latitude", "longitude"])
        for c in cells:
            w.writerow([c.cell_id, c.latitude, c.longitude])
    return sorted(by_user), antennas


def silver_frames(
    spark: SparkSession, records: list[SyntheticRecord], cells: list[Cell], timezone: str = TIMEZONE
) -> tuple[DataFrame, DataFrame]:
    """The same records as silver ``cdr`` and ``cells`` DataFrames."""
    tz = zoneinfo.ZoneInfo(timezone)
    rows = []
    for r in records:
        row = dict.fromkeys(SILVER_CDR.fieldNames())
        is_call = r.interaction == "call"
        row.update(
            record_id=r.record_id,
            subscriber_id=r.user_id,
            event_time=r.event_time,
            event_date=r.event_time.astimezone(tz).date(),
            event_type="voice" if is_call else "sms",
            direction=r.direction,
            counterparty_id=r.correspondent_id,
            is_on_net=int(r.record_id[1:]) % 3 != 0,
            is_international=int(r.record_id[1:]) % 7 == 0,
            duration_s=r.call_duration,
            cell_id=r.antenna_id,
            tac="35332011",
            imei_id=hashlib.sha256(r.user_id.encode()).hexdigest(),
            roaming=False,
            charge=Decimal("0.0500") if is_call and r.direction == "out" else Decimal("0"),
            source_file="synthetic",
            ingest_run_id="parity",
        )
        rows.append(tuple(row[name] for name in SILVER_CDR.fieldNames()))
    cdr = spark.createDataFrame(rows, SILVER_CDR)
    cell_rows = [
        (c.cell_id, c.latitude, c.longitude, None, None, "synthetic", "parity") for c in cells
    ]
    return cdr, spark.createDataFrame(cell_rows, SILVER_CELLS)


# --------------------------------------------------------------------------- comparison


def bandicoot_indicators(
    directory: Path, user_ids: list[str], antennas: Path, settings: Settings
) -> dict[str, dict[str, Any]]:
    """``utils.all(flatten=True)`` per user, without ``name`` and ``reporting__*``."""
    bc = import_bandicoot()
    out = {}
    for user_id in user_ids:
        user = bc.read_csv(user_id, str(directory), str(antennas), describe=False, warnings=False)
        flat = bc.utils.all(
            user, flatten=True, split_week=settings.split_week, split_day=settings.split_day
        )
        out[user_id] = {
            k: v for k, v in flat.items() if k != "name" and not k.startswith("reporting__")
        }
    return out


def same_value(expected: Any, actual: Any) -> bool:
    """Equal within REL_TOL (ABS_TOL near 0); None and NaN only match None/NaN."""
    missing_e = expected is None or (isinstance(expected, float) and math.isnan(expected))
    missing_a = actual is None or (isinstance(actual, float) and math.isnan(actual))
    if missing_e or missing_a:
        return missing_e and missing_a
    return math.isclose(float(expected), float(actual), rel_tol=REL_TOL, abs_tol=ABS_TOL)


@dataclass
class ParityReport:
    users: int
    compared: int
    mismatches: list[tuple[str, str, Any, Any]]
    key_set_differences: list[str]


def compare(
    expected: dict[str, dict[str, Any]], spark_df: DataFrame, settings: Settings
) -> ParityReport:
    """Compare every key of every user; also check the key sets are the same."""
    keys = bandicoot_keys(settings)
    columns = {k: bandicoot_key_to_column(k) for k in keys}
    actual = {row["subscriber_id"]: row.asDict() for row in spark_df.collect()}
    mismatches: list[tuple[str, str, Any, Any]] = []
    key_diffs: list[str] = []
    compared = 0
    for user_id, values in expected.items():
        if set(values) != set(keys):
            key_diffs.append(f"{user_id}: {sorted(set(values) ^ set(keys))[:5]}")
        row = actual.get(user_id)
        for key in keys:
            got = row.get(columns[key]) if row is not None else None
            compared += 1
            if not same_value(values.get(key), got):
                mismatches.append((user_id, key, values.get(key), got))
    return ParityReport(len(expected), compared, mismatches, key_diffs)


def run_parity(
    spark: SparkSession, workdir: Path, settings: Settings, n_users: int = 48, seed: int = 7
) -> ParityReport:
    """Generate, run both implementations, compare."""
    records, cells = generate_records(n_users, seed)
    user_ids, antennas = write_bandicoot_csvs(records, cells, workdir, tie_breaks(spark, records))
    expected = bandicoot_indicators(workdir, user_ids, antennas, settings)
    cdr, cells_df = silver_frames(spark, records, cells)
    prepared = bandicoot_records(
        cdr, cells_df, snapshot_date=SNAPSHOT, timezone=TIMEZONE, settings=settings
    )
    with persisted(prepared) as cached:
        return compare(expected, indicators_from_records(cached, settings), settings)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=48)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--split", action="store_true", help="also split week and day")
    args = p.parse_args(argv)
    from telcoseg.config import SparkSettings
    from telcoseg.session import build_local_session

    spark = build_local_session(SparkSettings(master="local[2]", shuffle_partitions=4))
    settings = Settings(
        window_days=WINDOW_DAYS, split_week=args.split, split_day=args.split, partitions=4
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        report = run_parity(spark, Path(tmp), settings, args.users, args.seed)
    print(
        f"users={report.users} compared={report.compared} mismatches={len(report.mismatches)} "
        f"key_set_differences={len(report.key_set_differences)} "
        f"seconds={time.perf_counter() - started:.1f}"
    )
    for m in report.mismatches[:40]:
        print("  MISMATCH", *m)
    for d in report.key_set_differences[:10]:
        print("  KEYS", d)
    return 0 if not report.mismatches and not report.key_set_differences else 1


if __name__ == "__main__":
    sys.exit(main())
