"""Delta write cost on the jar-free path vs a plain Parquet write of the same data.

    .venv/bin/python benchmarks/bench_delta.py --rows 10000000

Builds a CDR-shaped source (Parquet) once, then alternates plain ``df.write.parquet`` and
``telcoseg.io.delta.write_table`` of the same rows (both partitioned by day), ``--repeat``
times each, in one Spark session. Prints and writes rows/s and the Delta/Parquet ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from telcoseg.config import SparkSettings
from telcoseg.io import delta
from telcoseg.session import build_local_session

RESULTS = Path(__file__).parent / "results" / "delta_write.json"


def cdr_like(spark: SparkSession, rows: int, days: int) -> DataFrame:
    """Rows shaped like silver CDRs: ids, a timestamp, enums, counts, a decimal."""
    r = F.col("id")
    return spark.range(rows, numPartitions=16).select(
        F.sha2(r.cast("string"), 256).alias("record_id"),
        F.sha2((r % 200_000).cast("string"), 256).alias("subscriber_id"),
        (F.lit(1_772_323_200) + (r * 7919) % (days * 86_400)).cast("timestamp").alias("event_time"),
        F.date_add(
            F.lit("2026-03-01").cast("date"), ((r * 7919) % (days * 86_400) / 86_400).cast("int")
        ).alias("event_date"),
        F.element_at(
            F.array(F.lit("voice"), F.lit("sms"), F.lit("data")), (r % 3 + 1).cast("int")
        ).alias("event_type"),
        F.when(r % 2 == 0, "in").otherwise("out").alias("direction"),
        (r % 600).alias("duration_s"),
        (r * 31 % 1_000_000).alias("bytes_down"),
        F.concat(F.lit("cell-"), (r % 5000).cast("string")).alias("cell_id"),
        (r % 7 == 0).alias("roaming"),
        ((r % 1000) / 100).cast("decimal(18,4)").alias("charge"),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-delta-"))
    spark = build_local_session(SparkSettings(driver_memory="6g", shuffle_partitions=8))
    src = str(work / "source")
    t0 = time.perf_counter()
    cdr_like(spark, args.rows, args.days).write.mode("overwrite").parquet(src)
    build_s = time.perf_counter() - t0
    source = spark.read.parquet(src)
    parquet_s: list[float] = []
    delta_s: list[float] = []
    overhead_s: list[float] = []
    for i in range(args.repeat):
        out = work / f"parquet-{i}"
        t = time.perf_counter()
        source.write.partitionBy("event_date").parquet(str(out))
        parquet_s.append(time.perf_counter() - t)
        shutil.rmtree(out)
        table = work / f"delta-{i}"
        t = time.perf_counter()
        delta.write_table(source, str(table), partition_by=["event_date"])
        delta_s.append(time.perf_counter() - t)
        overhead_s.append(delta.LAST_WRITE_TIMINGS["delta_overhead_s"])
        files = delta.describe(str(table))
        assert files["rows"] == args.rows, files
        shutil.rmtree(table)
    p, d = statistics.median(parquet_s), statistics.median(delta_s)
    result = {
        "rows": args.rows,
        "source_build_s": round(build_s, 2),
        "parquet_write_s": [round(x, 2) for x in parquet_s],
        "delta_write_s": [round(x, 2) for x in delta_s],
        "parquet_rows_per_s": round(args.rows / p),
        "delta_rows_per_s": round(args.rows / d),
        "delta_over_parquet": round(d / p, 3),
        # Move + footer stats + validation + delta-rs commit, timed inside the write: the
        # part of the cost that a plain Parquet write does not have. Robust to a noisy
        # machine, unlike the difference of two wall-clock runs.
        "delta_overhead_s": [round(x, 2) for x in overhead_s],
        "overhead_over_parquet": round(statistics.median(overhead_s) / p, 4),
        "delta_files": files["files"],
        "cores": spark.sparkContext.defaultParallelism,
    }
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    spark.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
