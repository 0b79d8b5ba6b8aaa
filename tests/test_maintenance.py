"""The maintain job on a small lake: compaction, vacuum, staging clean-up, dry run, errors."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from telcoseg.cli import run_job
from telcoseg.config import from_dict
from telcoseg.io import delta
from telcoseg.maintenance.job import add_args, find_tables, run

SCHEMA = T.StructType(
    [T.StructField("id", T.LongType(), False), T.StructField("day", T.DateType(), True)]
)
D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
TWO_DAYS = 2 * 86400


def files_on_disk(table: Path) -> set[str]:
    return {
        str(p.relative_to(table))
        for p in table.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) for part in p.relative_to(table).parts)
    }


@pytest.fixture()
def lake(spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    root = tmp_path / "run"
    events = root / "lake" / "silver" / "events"
    lookup = root / "lake" / "bronze" / "lookup"
    # Nine daily appends: small files in both partitions.
    for i in range(9):
        df = spark.createDataFrame([(i, D1), (100 + i, D2)], SCHEMA)
        delta.write_table(df, str(events), mode="append", partition_by=["day"])
    delta.write_table(spark.createDataFrame([(1, D1), (2, D1)], SCHEMA), str(lookup))
    # Its first files were removed from the log two days ago (a retention rule).
    now = time.time()
    monkeypatch.setattr(delta.time, "time", lambda: now - TWO_DAYS)
    removed = delta.remove_files(str(lookup), lambda a: True)
    monkeypatch.undo()
    delta.write_table(spark.createDataFrame([(3, D2)], SCHEMA), str(lookup), mode="append")
    # A killed job's staging folder, two days old.
    stale = events / "_staging" / "deadbeef"
    stale.mkdir(parents=True)
    (stale / "part-0.parquet").write_bytes(b"PAR1")
    os.utime(stale, (now - TWO_DAYS, now - TWO_DAYS))
    return {
        "root": root,
        "events": events,
        "lookup": lookup,
        "removed": removed,
        "stale": stale,
        "cfg": from_dict(
            {"paths": {"root": str(root)}, "maintenance": {"retain_hours": 24}}, "test.yaml"
        ),
    }


def versions(lake: dict[str, Any]) -> tuple[int, int]:
    return delta.table_version(str(lake["events"])), delta.table_version(str(lake["lookup"]))


def test_find_tables_lists_every_delta_table_of_the_lake(lake: dict[str, Any]) -> None:
    (lake["root"] / "lake" / "gold" / "not_a_table").mkdir(parents=True)
    assert find_tables(str(lake["root"] / "lake")) == ["bronze/lookup", "silver/events"]


def test_dry_run_lists_and_changes_nothing(spark: SparkSession, lake: dict[str, Any]) -> None:
    before = versions(lake), files_on_disk(lake["events"]), files_on_disk(lake["lookup"])
    out = run(spark, lake["cfg"], argparse.Namespace(dry_run=True, tables=None))
    assert out["dry_run"] and out["tables"] == 2
    assert out["files_compacted"] == 0  # compaction is a change: not in a dry run
    assert out["files_vacuumed"] == lake["removed"][0] and out["staging_deleted"] == 1
    after = versions(lake), files_on_disk(lake["events"]), files_on_disk(lake["lookup"])
    assert after == before and lake["stale"].exists()


def test_maintain_compacts_vacuums_and_cleans_without_changing_rows(
    spark: SparkSession, lake: dict[str, Any]
) -> None:
    events, lookup = str(lake["events"]), str(lake["lookup"])
    want_events = delta.read_table(spark, events).collect()
    want_lookup = delta.read_table(spark, lookup).collect()
    lookup_files = files_on_disk(lake["lookup"])
    out = run(spark, lake["cfg"], argparse.Namespace(dry_run=False, tables=None))
    assert out["files_compacted"] >= 18 and out["files_written"] == 2
    assert out["files_vacuumed"] == lake["removed"][0] and out["staging_deleted"] == 1
    assertDataFrameEqual(delta.read_table(spark, events), want_events)
    assertDataFrameEqual(delta.read_table(spark, lookup), want_lookup)
    # One file per partition now; the removed lookup files are gone from disk.
    assert len(delta._active_paths(delta._open(events))) == 2
    assert len(files_on_disk(lake["lookup"])) == len(lookup_files) - lake["removed"][0]
    assert not lake["stale"].exists()
    # The compacted-away files were removed just now: kept for time travel.
    again = run(spark, lake["cfg"], argparse.Namespace(dry_run=False, tables=None))
    assert (again["files_compacted"], again["files_vacuumed"], again["staging_deleted"]) == (
        0,
        0,
        0,
    )
    assert delta.read_table(spark, events, version=8).count() == 18


def test_tables_listed_in_skip_compaction_keep_their_files(
    spark: SparkSession, lake: dict[str, Any]
) -> None:
    cfg = from_dict(
        {
            "paths": {"root": str(lake["root"])},
            "maintenance": {"skip_compaction": ["silver/events"]},
        },
        "test.yaml",
    )
    active = len(delta._active_paths(delta._open(str(lake["events"]))))
    out = run(spark, cfg, argparse.Namespace(dry_run=False, tables="silver/events"))
    assert (out["tables"], out["files_compacted"]) == (1, 0)
    assert len(delta._active_paths(delta._open(str(lake["events"])))) == active >= 18


def test_unknown_table_or_bad_setting_fails_the_job(
    spark: SparkSession, lake: dict[str, Any]
) -> None:
    base = ["--set", f"paths.root={lake['root']}"]
    argv = [*base, "--tables", "gold/nope"]
    assert run_job("maintain", run, add_args, argv=argv, spark=spark) == 1
    argv = [*base, "--set", "maintenance.retain_hours=0"]
    assert run_job("maintain", run, add_args, argv=argv, spark=spark) == 1
    argv = [*base, "--tables", "silver/events", "--dry-run"]
    assert run_job("maintain", run, add_args, argv=argv, spark=spark) == 0
