"""Small files from daily appends, and what compaction gives back on reads.

    .venv/bin/python benchmarks/bench_maintain.py --days 28 --rows-per-day 200000

Appends one CDR-shaped batch per day into a table partitioned by ``event_date`` (most
rows on the day itself, 5% late rows on the three days before, as a daily ingest
writes them), then times a 14-day window read (a group-by per subscriber, as the feature
job starts) before and after :func:`telcoseg.io.delta.compact`, in one Spark session.
Prints and writes file counts, the compaction's time and the read times with their ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import tempfile
import time
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from bench_delta import cdr_like
from telcoseg.config import SparkSettings
from telcoseg.io import delta
from telcoseg.session import build_local_session

RESULTS = Path(__file__).parent / "results" / "maintain.json"
FIRST = dt.date(2026, 3, 1)


def window_read_s(spark: SparkSession, path: str, last: dt.date, repeat: int) -> float:
    """Best of ``repeat`` runs of a 14-day window aggregation (written to the noop sink)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        df = delta.read_table(
            spark, path, partition_filters=[("event_date", ">=", last - dt.timedelta(days=13))]
        )
        agg = df.groupBy("subscriber_id").agg(
            F.count(F.lit(1)).alias("n"), F.sum("duration_s").alias("d")
        )
        agg.write.format("noop").mode("overwrite").save()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--rows-per-day", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-maintain-"))
    spark = build_local_session(SparkSettings(driver_memory="6g", shuffle_partitions=8))
    path = str(work / "cdr")
    shutil.rmtree(path, ignore_errors=True)
    t0 = time.perf_counter()
    for day in range(args.days):
        r = F.col("record_id")
        late = F.when(F.conv(F.substring(r, 1, 2), 16, 10).cast("int") % 20 == 0, 1).otherwise(0)
        back = late * (F.conv(F.substring(r, 3, 1), 16, 10).cast("int") % 3 + 1)
        batch = (
            cdr_like(spark, args.rows_per_day, 1)
            .withColumn("record_id", F.sha2(F.concat(r, F.lit(str(day))), 256))
            .withColumn("event_date", F.date_sub(F.lit(FIRST + dt.timedelta(days=day)), back))
            .repartition(8)
        )
        delta.write_table(batch, path, mode="append", partition_by=["event_date"])
    append_s = time.perf_counter() - t0
    before = delta.describe(path)
    last = FIRST + dt.timedelta(days=args.days - 1)
    read_before = window_read_s(spark, path, last, args.repeat)
    t0 = time.perf_counter()
    removed, added = delta.compact(spark, path)
    compact_s = time.perf_counter() - t0
    after = delta.describe(path)
    read_after = window_read_s(spark, path, last, args.repeat)
    out = {
        "days": args.days,
        "rows_per_day": args.rows_per_day,
        "rows": after["rows"],
        "appends_s": round(append_s, 2),
        "files_before": before["files"],
        "files_after": after["files"],
        "files_compacted": removed,
        "files_written": added,
        "compact_s": round(compact_s, 2),
        "compact_rows_per_s": round(after["rows"] / compact_s) if compact_s else None,
        "window_read_before_s": round(read_before, 2),
        "window_read_after_s": round(read_after, 2),
        "read_before_over_after": round(read_before / read_after, 2),
    }
    print(json.dumps(out, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    spark.stop()
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
