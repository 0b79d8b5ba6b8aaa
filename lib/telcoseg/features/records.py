"""Silver CDR -> bandicoot-like records: what bandicoot would load from the same events.

bandicoot keeps a record only if it is a call or a text with direction in/out, a
correspondent and (for calls) an integer duration (``io.filter_record``); its datetime is
the local wall-clock time at second resolution (``"%Y-%m-%d %H:%M:%S"``), and records are
sorted by that local time. Records of one user in the same second have no order of their
own; telcoseg orders them by :func:`tie_break` of their ``record_id`` (a 63-bit hash), and
the parity harness writes bandicoot's CSVs in that order.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from telcoseg.features.catalogue import parts_of_day, parts_of_week
from telcoseg.features.settings import Settings

# Position key of a record without an antenna: bandicoot's ``Position()``, which equals
# every other empty position. Never a real cell id (those are non-empty).
NO_ANTENNA = ""
HALF_HOUR_S = 1800
DAY_S = 86400
# tie_break keeps 63 bits: non-negative, so its order as a long is its order as bits
# and a prefix of it (spatial.py packs the top 30 bits) orders records the same way.
TIE_BREAK_BITS = 63


def tie_break(record_id: Column) -> Column:
    """The order of one user's records within a second: a 63-bit hash of ``record_id``.

    A long instead of the string keeps every sort key and "seen first" a number (the
    spatial chain finds a chunk's first record with an aggregation, not a sort), and
    the records shuffle one column fewer. Equal hashes of two records of one user in
    one second (odds about 2**-63) would leave their order to the sort; the spatial
    chain compares only the top 30 bits (odds about 2**-30 per such pair), which matters
    only if the two records' antennas also tie on their count in that half hour.
    """
    return F.xxhash64(record_id).bitwiseAND(F.lit((1 << TIE_BREAK_BITS) - 1))


def is_night(seconds_of_day: Column, settings: Settings) -> Column:
    """bandicoot's night filter: both bounds are exclusive of the *day* (19:00:00 is night)."""
    start, end = settings.night_start_s, settings.night_end_s
    if start < end:
        return (seconds_of_day > start) & (seconds_of_day < end)
    return ~((seconds_of_day > end) & (seconds_of_day < start))


def local_time(event_time: Column, timezone: str) -> Column:
    """Local wall-clock time (as a UTC-session timestamp), truncated to the second."""
    return F.date_trunc("second", F.from_utc_timestamp(event_time, timezone))


def window_bounds(snapshot_date: dt.date, window_days: int) -> tuple[dt.date, dt.date]:
    """First and last local date of the window ending at ``snapshot_date`` (inclusive)."""
    return snapshot_date - dt.timedelta(days=window_days - 1), snapshot_date


def filter_window(
    cdr_df: DataFrame, snapshot_date: dt.date, window_days: int, timezone: str
) -> DataFrame:
    """CDR rows whose local date lies in the window (``event_date`` prunes partitions)."""
    first, last = window_bounds(snapshot_date, window_days)
    local_date = F.to_date(F.from_utc_timestamp("event_time", timezone))
    in_window = F.col("event_date").between(F.lit(first), F.lit(last)) & local_date.between(
        F.lit(first), F.lit(last)
    )
    return cdr_df.filter(in_window)


def build_records(
    cdr_df: DataFrame, cells_df: DataFrame, *, timezone: str, settings: Settings
) -> DataFrame:
    """Silver CDR (already windowed) -> one narrow row per bandicoot record.

    Columns: subscriber_id, tb (:func:`tie_break`), ts (local wall-clock epoch seconds),
    week (Monday of the ISO week: bandicoot groups by ``isocalendar()[0:2]``), day_bit
    (``1 << ISO weekday``), interaction (call|text), is_out, correspondent_id,
    call_duration (null for texts), pos_id (the antenna's number, 0 for none), lat/lon
    (null when the antenna has no location), is_night, is_weekend.

    Every column is shuffled (and cached) once per record, so the row carries only what
    the indicators read; calendar fields are integer arithmetic on ``ts`` rather than
    calendar functions (the session time zone is UTC, so ``ts`` is wall-clock time).
    """
    interaction = (
        F.when(F.col("event_type") == "voice", F.lit("call"))
        .when(F.col("event_type") == "sms", F.lit("text"))
        .otherwise(F.lit(None).cast("string"))
    )
    # io.filter_record: direction in/out, a correspondent, calls need a duration.
    is_loadable = (
        interaction.isNotNull()
        & F.col("direction").isin("in", "out")
        & F.col("counterparty_id").isNotNull()
        & (F.col("counterparty_id") != "")
        & ((F.col("event_type") != "voice") | F.col("duration_s").isNotNull())
    )
    has_antenna = F.col("cell_id").isNotNull() & (F.col("cell_id") != "")
    # Positions get numeric ids so that "the chunk's position" is a max_by on longs (a
    # hash aggregation): known cells their rank in the (small) cells table, the empty
    # position 0, antennas missing from the table a negative 62-bit hash.
    cells = F.broadcast(
        cells_df.select(
            F.col("cell_id").alias("pos"),
            F.col("latitude").alias("lat"),
            F.col("longitude").alias("lon"),
            F.row_number().over(Window.orderBy("cell_id")).cast("long").alias("cell_idx"),
        )
    )
    base = cdr_df.filter(is_loadable).select(
        "subscriber_id",
        tie_break(F.col("record_id")).alias("tb"),
        # Second resolution, as bandicoot parses "%Y-%m-%d %H:%M:%S".
        F.unix_seconds(F.from_utc_timestamp("event_time", timezone)).alias("ts"),
        interaction.alias("interaction"),
        (F.col("direction") == "out").alias("is_out"),
        F.col("counterparty_id").alias("correspondent_id"),
        F.when(F.col("event_type") == "voice", F.col("duration_s")).alias("call_duration"),
        F.when(has_antenna, F.col("cell_id")).otherwise(F.lit(NO_ANTENNA)).alias("pos"),
    )
    with_cells = base.join(cells, on="pos", how="left")
    sod = F.pmod(F.col("ts"), F.lit(DAY_S))
    day_number = F.floor(F.col("ts") / DAY_S)  # days since 1970-01-01, a Thursday
    iso_dow = F.pmod(day_number + 3, F.lit(7)) + 1  # ISO: 1 = Monday
    unknown = -F.lit(1) - F.pmod(F.xxhash64("pos"), F.lit(1 << 62))
    pos_id = (
        F.when(F.col("pos") == NO_ANTENNA, F.lit(0).cast("long"))
        .when(F.col("cell_idx").isNotNull(), F.col("cell_idx"))
        .otherwise(unknown)
    )
    return with_cells.select(
        "subscriber_id",
        "tb",
        "ts",
        F.date_from_unix_date((day_number - iso_dow + 1).cast("int")).alias("week"),
        F.pow(F.lit(2), iso_dow).cast("int").alias("day_bit"),  # exact for 2..128
        "interaction",
        "is_out",
        "correspondent_id",
        "call_duration",
        pos_id.alias("pos_id"),
        "lat",
        "lon",
        is_night(sod, settings).alias("is_night"),
        iso_dow.isin(*settings.weekend).alias("is_weekend"),
    )


def explode_time_scopes(records_df: DataFrame, settings: Settings) -> DataFrame:
    """Add ``scope`` (``allweek__allday``, ``weekday__night``, ...): one row per scope a
    record belongs to (bandicoot's ``filter_user`` for each part_of_week/part_of_day)."""
    weeks = {
        "allweek": F.lit(True),
        "weekday": ~F.col("is_weekend"),
        "weekend": F.col("is_weekend"),
    }
    days = {"allday": F.lit(True), "day": ~F.col("is_night"), "night": F.col("is_night")}
    combos = [(w, d) for w in parts_of_week(settings) for d in parts_of_day(settings)]
    if len(combos) == 1:
        return records_df.withColumn("scope", F.lit("allweek__allday"))
    members = F.array(*[F.when(weeks[w] & days[d], F.lit(f"{w}__{d}")) for w, d in combos])
    return records_df.withColumn("scope", F.explode(F.array_compact(members)))
