"""Kept weeks (gold bandicoot_weekly): a snapshot that reuses them equals one that does not."""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from telcoseg.config import load_config
from telcoseg.features.job import add_args, run
from telcoseg.features.settings import Settings
from telcoseg.features.weekly_store import (
    TABLE,
    complete_weeks,
    settings_tag,
    week_fingerprints,
)
from test_features_support import app_usage_df, subscribers_df

delta = pytest.importorskip("telcoseg.io.delta")
D = dt.date


def test_complete_weeks_are_the_iso_weeks_wholly_inside_the_window() -> None:
    # 14 days ending on a Sunday: two whole weeks.
    assert complete_weeks(D(2026, 3, 22), 14) == [D(2026, 3, 9), D(2026, 3, 16)]
    # Ending on a Wednesday: the window's first and last weeks are partial.
    assert complete_weeks(D(2026, 3, 25), 14) == [D(2026, 3, 16)]
    assert complete_weeks(D(2026, 3, 25), 6) == []
    # 28 days ending on a Sunday, across a year end.
    assert complete_weeks(D(2027, 1, 3), 28) == [
        D(2026, 12, 7),
        D(2026, 12, 14),
        D(2026, 12, 21),
        D(2026, 12, 28),
    ]


def _conf(root: Path, name: str, cache: bool, tz: str) -> str:
    path = root / name
    path.write_text(
        f"paths:\n  root: {root}\ntimezone: {tz}\n"
        "features:\n  window_days: 14\n  partitions: 2\n"
        f"  weekly_cache: {str(cache).lower()}\n  weekly_cache_days: 1\n"
    )
    return str(path)


def _run(spark: SparkSession, conf: str, *argv: str) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    add_args(parser)
    return run(spark, load_config(conf), parser.parse_args(list(argv)))


def _gold(spark: SparkSession, root: Path, snapshot: str) -> DataFrame:
    cfg = load_config(_conf(root, "read.yaml", True, "UTC"))
    df = delta.read_table(spark, cfg.paths.table("gold", "behavior_vectors"))
    # Materialized: the next run replaces this partition.
    return spark.createDataFrame(df.where(F.col("snapshot_date") == snapshot).collect(), df.schema)


@pytest.mark.slow
def test_reused_weeks_give_the_vectors_of_a_full_computation(
    spark: SparkSession, parity: ModuleType, tmp_path: Path
) -> None:
    records, cells = parity.generate_records(24)
    cdr, cells_df = parity.silver_frames(spark, records, cells)
    tz = parity.TIMEZONE  # the last week holds the 2026-03-29 DST change
    cached = _conf(tmp_path, "cached.yaml", True, tz)
    plain = _conf(tmp_path, "plain.yaml", False, tz)
    paths = load_config(cached).paths
    cdr_path = paths.table("silver", "cdr")
    delta.write_table(cdr, cdr_path, mode="error", partition_by=["event_date"])
    delta.write_table(cells_df, paths.table("silver", "cells"), mode="error")
    users = sorted({r.user_id for r in records})
    subs = subscribers_df(
        spark, [{"subscriber_id": u, "activation_date": D(2025, 1, 1)} for u in users]
    )
    delta.write_table(subs, paths.table("silver", "subscribers"), mode="error")
    delta.write_table(app_usage_df(spark, []), paths.table("silver", "app_usage"), mode="error")
    weekly_path = paths.table("gold", TABLE)

    def kept_weeks() -> list[str]:
        rows = delta.read_table(spark, weekly_path).select("week").distinct().collect()
        return sorted(r.week.isoformat() for r in rows)

    first = _run(spark, cached, "--snapshot-date", "2026-03-22")
    assert (first["weeks_reused"], first["weeks_stored"]) == (0, 2)
    assert kept_weeks() == ["2026-03-09", "2026-03-16"]

    second = _run(spark, cached, "--snapshot-date", "2026-03-29")
    assert (second["weeks_reused"], second["weeks_stored"]) == (1, 1)
    # Retention of 1 day before the window (2026-03-16): the week of 03-09 is dropped.
    assert kept_weeks() == ["2026-03-16", "2026-03-23"]
    reused = _gold(spark, tmp_path, "2026-03-29")
    assert reused.count() == len(users)

    full = _run(spark, plain, "--snapshot-date", "2026-03-29")
    assert (full["weeks_reused"], full["weeks_stored"]) == (0, 0)
    computed = _gold(spark, tmp_path, "2026-03-29")
    assertDataFrameEqual(reused, computed, rtol=1e-9)

    # A subset run reads its subscribers' kept rows and stores nothing.
    few = users[:3]
    subset = _run(spark, cached, "--snapshot-date", "2026-03-29", "--subscribers", ",".join(few))
    assert (subset["weeks_reused"], subset["weeks_stored"]) == (2, 0)
    assertDataFrameEqual(
        _gold(spark, tmp_path, "2026-03-29"),
        computed.where(F.col("subscriber_id").isin(few)),
        rtol=1e-9,
    )

    # A late record for a kept week changes its silver files: that week is computed again.
    late = (
        cdr.where(F.col("event_date") == D(2026, 3, 17))
        .orderBy("record_id")
        .limit(1)
        .withColumn("record_id", F.concat(F.lit("late-"), "record_id"))
        .withColumn("event_time", F.col("event_time") + F.expr("INTERVAL 1 SECOND"))
    )
    delta.write_table(late, cdr_path, mode="append", partition_by=["event_date"])
    again = _run(spark, cached, "--snapshot-date", "2026-03-29")
    assert (again["weeks_reused"], again["weeks_stored"]) == (1, 1)
    after_late = _gold(spark, tmp_path, "2026-03-29")
    _run(spark, plain, "--snapshot-date", "2026-03-29")
    assertDataFrameEqual(after_late, _gold(spark, tmp_path, "2026-03-29"), rtol=1e-9)
    # ... and the late record did change its subscriber's vector, so that comparison and
    # the reuse could have disagreed.
    who = late.first().subscriber_id
    before = computed.where(F.col("subscriber_id") == who).first().asDict()
    now = after_late.where(F.col("subscriber_id") == who).first().asDict()
    moved = [k for k, v in now.items() if isinstance(v, float) and v != before[k]]
    assert moved, f"the late record changed nothing for {who}"


def test_week_tags_follow_the_silver_files_of_the_weeks_dates(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = str(tmp_path / "cdr")
    schema = "record_id string, event_date date"

    def write(rows: list[tuple[str, dt.date]], mode: str) -> None:
        df = spark.createDataFrame(rows, schema)
        delta.write_table(df, path, mode=mode, partition_by=["event_date"])

    write([("a", D(2026, 3, 10)), ("b", D(2026, 3, 17))], "error")
    weeks = [D(2026, 3, 9), D(2026, 3, 16)]
    before = week_fingerprints(path, weeks)
    # A late record for 2026-03-18 changes the tag of its week and only that one ...
    write([("c", D(2026, 3, 18))], "append")
    after = week_fingerprints(path, weeks)
    assert after[D(2026, 3, 9)] == before[D(2026, 3, 9)]
    assert after[D(2026, 3, 16)] != before[D(2026, 3, 16)]
    # ... and the tags of the version a job read its records from stay what they were.
    assert week_fingerprints(path, weeks, version=0) == before


def test_settings_that_shape_a_week_change_its_tag_and_others_do_not() -> None:
    base = Settings(window_days=14)
    tag = settings_tag(base, "UTC")
    changed = [
        settings_tag(replace(base, pareto_percentage=0.7), "UTC"),
        settings_tag(replace(base, weekend=(5, 6)), "UTC"),
        settings_tag(replace(base, night_start="20:00"), "UTC"),
        settings_tag(replace(base, split_week=True), "UTC"),
        settings_tag(base, "Europe/Paris"),
    ]
    assert len({tag, *changed}) == 6
    # The window and the output partitions do not shape a week's values.
    assert settings_tag(replace(base, window_days=28, partitions=3), "UTC") == tag
