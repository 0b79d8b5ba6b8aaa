"""Weekly snapshots with and without the kept weeks of gold ``bandicoot_weekly``.

Not part of the test run. ``.venv/bin/python benchmarks/bench_weekly.py [--records 6e6]``
writes ``benchmarks/results/weekly.json``.

Silver CDR (bench_features' generator, Delta, partitioned by event_date) spans the window
plus one week. The features job (``jobs/features.py``'s ``run``) then computes, in one
Spark session and alternating the order each round:

- the first snapshot with the weekly cache (it stores its complete weeks) and without;
- the snapshot a week later with the cache (it reuses the weeks the first stored and
  computes the newest; that week is removed from the cache before each such run) and
  without.

Each run reports wall and JVM CPU seconds; the ratios compare runs of the same round.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import bench_features as bf
from telcoseg.config import SparkSettings, load_config
from telcoseg.features.job import run
from telcoseg.features.weekly_store import TABLE
from telcoseg.io import delta
from telcoseg.schemas import SILVER
from telcoseg.session import build_local_session

RESULTS = Path(__file__).resolve().parent / "results" / "weekly.json"
LATER = dt.date(2026, 3, 29)  # a Sunday: windows end on Sundays, as weekly jobs run


def empty_like(spark: SparkSession, name: str) -> DataFrame:
    return spark.createDataFrame([], SILVER[name])


def write_silver(
    spark: SparkSession, root: Path, window_days: int, records: int, users: int
) -> None:
    """Silver cdr/cells/subscribers/app_usage under ``root`` (Delta)."""
    bf.WINDOW_DAYS, bf.SNAPSHOT = window_days + 7, LATER
    cfg = load_config(conf(root, window_days, True))
    cdr = bf.synthetic_cdr(spark, records, users)
    delta.write_table(cdr, cfg.paths.table("silver", "cdr"), partition_by=["event_date"])
    delta.write_table(bf.synthetic_cells(spark), cfg.paths.table("silver", "cells"))
    subs = cdr.select("subscriber_id").distinct()
    fields = SILVER["subscribers"].fields
    subs = subs.select(
        *[
            F.col(f.name)
            if f.name == "subscriber_id"
            else F.lit(None).cast(f.dataType).alias(f.name)
            for f in fields
        ]
    )
    delta.write_table(subs, cfg.paths.table("silver", "subscribers"))
    delta.write_table(empty_like(spark, "app_usage"), cfg.paths.table("silver", "app_usage"))


def conf(root: Path, window_days: int, cache: bool) -> str:
    path = root / f"weekly-{cache}.yaml"
    path.write_text(
        f"paths:\n  root: {root}\ntimezone: UTC\nfeatures:\n  window_days: {window_days}\n"
        f"  partitions: 8\n  weekly_cache: {str(cache).lower()}\n  weekly_cache_days: 0\n"
    )
    return str(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=float, default=6e6, help="CDR rows over window + 7 days")
    p.add_argument("--records-per-user", type=int, default=600)
    p.add_argument("--window-days", type=int, default=14)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    n = int(args.records)
    spark = build_local_session(
        SparkSettings(
            master="local[2]", driver_memory="8g", shuffle_partitions=8, log_level="ERROR"
        )
    )
    root = Path(tempfile.mkdtemp(prefix="telcoseg-bench-weekly-"))
    t0 = time.perf_counter()
    write_silver(spark, root, args.window_days, n, max(1, n // args.records_per_user))
    print(f"silver: {n:,} CDR rows in {time.perf_counter() - t0:.1f}s under {root}", flush=True)
    first = LATER - dt.timedelta(days=7)
    weekly_path = load_config(conf(root, args.window_days, True)).paths.table("gold", TABLE)

    def job(snapshot: dt.date, cache: bool) -> dict[str, Any]:
        if cache and delta.table_exists(weekly_path):
            # The first snapshot starts from an empty cache; the later one finds the weeks
            # the first stored, and computes the newest, as a weekly run does.
            newest = (LATER - dt.timedelta(days=6)).isoformat()
            old = snapshot == LATER
            delta.remove_files(weekly_path, lambda a: not old or str(a["partition.week"]) >= newest)
        cfg = load_config(conf(root, args.window_days, cache))
        ns = argparse.Namespace(snapshot_date=snapshot, window_days=None, subscribers=None,
                                subscribers_table=None)  # fmt: skip
        cpu0, t = bf.jvm_cpu_seconds(), time.perf_counter()
        out = run(spark, cfg, ns)
        wall, cpu = time.perf_counter() - t, (bf.jvm_cpu_seconds() or 0) - (cpu0 or 0)
        row = {"snapshot": snapshot.isoformat(), "cache": cache, "wall_s": round(wall, 1),
               "jvm_cpu_s": round(cpu, 1), "weeks_reused": out["weeks_reused"],
               "weeks_stored": out["weeks_stored"]}  # fmt: skip
        print(json.dumps(row), flush=True)
        return row

    job(first, False)  # warm-up (JIT, first reads); not reported
    runs = []
    for r in range(args.rounds):
        order = [True, False] if r % 2 == 0 else [False, True]
        for cache in order:
            runs.append({"round": r, **job(first, cache)})
        for cache in order:
            runs.append({"round": r, **job(LATER, cache)})

    def mean(snapshot: dt.date, cache: bool, key: str) -> float:
        xs = [x[key] for x in runs if x["snapshot"] == snapshot.isoformat() and x["cache"] == cache]
        return sum(xs) / len(xs)

    summary = {
        "first_snapshot_cache_over_plain_wall": round(
            mean(first, True, "wall_s") / mean(first, False, "wall_s"), 3
        ),
        "first_snapshot_cache_over_plain_cpu": round(
            mean(first, True, "jvm_cpu_s") / mean(first, False, "jvm_cpu_s"), 3
        ),
        "next_week_cache_over_plain_wall": round(
            mean(LATER, True, "wall_s") / mean(LATER, False, "wall_s"), 3
        ),
        "next_week_cache_over_plain_cpu": round(
            mean(LATER, True, "jvm_cpu_s") / mean(LATER, False, "jvm_cpu_s"), 3
        ),
    }
    result = {
        "machine": {"cores": 2, "python": platform.python_version()},
        "records": n,
        "records_per_user": args.records_per_user,
        "window_days": args.window_days,
        "runs": runs,
        "summary": summary,
    }
    print(json.dumps(summary, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    spark.stop()
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
