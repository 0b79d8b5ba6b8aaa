"""Throughput of ingestion: landing -> bronze, bronze -> silver, landing -> silver.

Not part of the test run. ``.venv/bin/python benchmarks/bench_ingest.py [--rows 10e6]``
writes ``benchmarks/results/ingest.json``. Target on 2 cores: >= 250k CDR rows/s from
landing to silver end to end.

The landing CSV files are generated with Spark in the contract's format (E.164 and
national numbers, the three timestamp forms, mixed case enums, 0.5% repeated record ids,
1% bad rows) unless ``--landing`` points at existing files (e.g. the generator's output).
Three runs: bronze only, then silver only on that bronze, then both in one run on a
fresh lake (``--e2e-only``: just the last one, which is the number the target is about).

The defaults model one week of an operator with 100,000 lines: other parties come from
a pool of 200,000 off-net, fixed and foreign numbers plus the operator's own lines, and
30% of own numbers are written in national format. At 10M rows that is 582,855
distinct raw number strings (5.8% of the rows; one number written two ways is two
strings), every one of which goes through libphonenumber once. ``--pool`` changes it.

The machine is shared: the JSON keeps the 1-minute load average before and after each
run next to its numbers; compare runs by their ratios, not across days.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from telcoseg.config import SparkSettings, from_dict
from telcoseg.ingest.pipeline import RunReport, run_bronze, run_ingest, run_silver
from telcoseg.logs import configure_logging
from telcoseg.session import build_local_session

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"
TARGET_ROWS_PER_S = 250_000


def write_landing(
    spark: SparkSession, folder: Path, rows: int, subscribers: int, pool: int, files: int
) -> None:
    """Contract-format CDR CSV files: ``rows`` rows over ``subscribers`` lines; other
    parties come from ``pool`` other numbers (the distinct set the phone UDF parses)."""
    h = F.xxhash64("id", F.lit(7))
    u = (F.abs(h) % 1_000_000) / 1_000_000.0

    def pick(salt: int, n: int) -> Any:
        return F.abs(F.xxhash64("id", F.lit(salt))) % n

    sub = pick(1, subscribers)
    own = F.concat(F.lit("+447400"), F.lpad(sub.cast("string"), 6, "0"))
    own_written = F.when(
        u < 0.3, F.concat(F.lit("07400 "), F.lpad(sub.cast("string"), 6, "0"))
    ).otherwise(own)
    kind = pick(2, 100)
    other = pick(3, pool)

    def digits(col: Any, n: int) -> Any:
        return F.lpad(col.cast("string"), n, "0")

    onnet = F.concat(F.lit("+447400"), digits(pick(4, subscribers), 6))
    offnet = F.concat(F.lit("+447508"), digits(other % 1_000_000, 6))
    fixed = F.concat(F.lit("020 7"), digits(other % 1000, 3), F.lit(" "), digits(other % 10000, 4))
    abroad = F.concat(F.lit("+4915"), digits(other, 9))
    counterparty = (
        F.when(kind < 35, onnet)
        .when(kind < 80, offnet)
        .when(kind < 92, fixed)
        .when(kind < 97, abroad)
        .otherwise(F.lit("12345"))
    )
    etype = pick(5, 100)
    event_type = F.when(etype < 55, "voice").when(etype < 80, "SMS").otherwise("data")
    is_data = etype >= 80
    seconds = pick(6, 7 * 86400)
    ts = F.timestamp_seconds(F.lit(1772323200) + seconds)  # 2026-03-01
    form = pick(8, 3)
    event_time = (
        F.when(form == 0, F.date_format(ts, "yyyy-MM-dd'T'HH:mm:ss"))
        .when(form == 1, F.concat(F.date_format(ts, "yyyy-MM-dd'T'HH:mm:ss"), F.lit("Z")))
        .otherwise(F.concat(F.date_format(ts, "yyyy-MM-dd'T'HH:mm:ss"), F.lit("+01:00")))
    )
    dup = F.col("id") % 200 == 1  # 0.5%: repeats the previous row's record id
    bad = pick(9, 100) == 0  # 1%: an unknown event type
    df = spark.range(rows).select(
        F.concat(F.lit("R"), (F.col("id") - F.when(dup, 1).otherwise(0)).cast("string")).alias(
            "record_id"
        ),
        event_time.alias("event_time"),
        own_written.alias("msisdn"),
        F.when(bad, "fax").otherwise(event_type).alias("event_type"),
        F.when(~is_data, F.when(pick(10, 2) == 0, "in").otherwise("out")).alias("direction"),
        F.when(~is_data, counterparty).alias("counterparty"),
        F.when(etype < 55, pick(11, 600).cast("string")).alias("duration_s"),
        F.when(is_data, pick(12, 100000).cast("string")).alias("bytes_up"),
        F.when(is_data, pick(13, 10000000).cast("string")).alias("bytes_down"),
        F.concat(F.lit("c"), pick(14, 900).cast("string")).alias("cell_id"),
        F.concat(F.lit("35209900"), F.lpad(sub.cast("string"), 7, "0")).alias("imei"),
        F.when(pick(15, 50) == 0, "true").otherwise("false").alias("roaming"),
        F.when(etype < 80, F.format_number(pick(16, 100) / 100.0, 2)).alias("charge"),
    )
    tmp = folder.parent / "_tmp_cdr"
    df.repartition(files).write.mode("overwrite").option("header", True).csv(str(tmp))
    folder.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(sorted(tmp.glob("part-*"))):
        os.replace(part, folder / f"cdr_{i:03d}.csv")
    shutil.rmtree(tmp)


def timed(fn: Any, *args: Any) -> tuple[RunReport, float, list[float]]:
    """The run's report, its wall seconds, and the 1-minute load before and after."""
    load = [round(os.getloadavg()[0], 1)]
    t0 = time.perf_counter()
    report = fn(*args)
    seconds = time.perf_counter() - t0
    return report, seconds, [*load, round(os.getloadavg()[0], 1)]


def floor(spark: SparkSession, cdr_dir: Path, work: Path, n: int) -> dict[str, Any]:
    """What Spark alone takes here for the two writes every landing -> bronze -> silver
    design makes: the CSV parsed and written as Parquet (bronze at its barest), then that
    Parquet read, ``event_time`` parsed and written partitioned by date (silver without
    validation, lookups, pseudonyms, de-duplication or quarantine)."""
    # Every column as text, named by the header, as the bronze reader takes it.
    csv = spark.read.option("header", True).option("inferSchema", False).csv(str(cdr_dir))
    t0 = time.perf_counter()
    csv.write.format("noop").mode("overwrite").save()
    parse_s = time.perf_counter() - t0
    bronze, silver = work / "floor-bronze", work / "floor-silver"
    for d in (bronze, silver):
        shutil.rmtree(d, ignore_errors=True)
    t0 = time.perf_counter()
    csv.write.parquet(str(bronze))
    bronze_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    day = F.to_date(F.to_timestamp("event_time"))
    rows = spark.read.parquet(str(bronze)).withColumn("event_date", day)
    rows.write.partitionBy("event_date").parquet(str(silver))
    silver_s = time.perf_counter() - t0
    for d in (bronze, silver):
        shutil.rmtree(d, ignore_errors=True)
    both = bronze_s + silver_s
    return {
        "csv_parse_s": round(parse_s, 1),
        "csv_to_parquet_s": round(bronze_s, 1),
        "parquet_to_dated_parquet_s": round(silver_s, 1),
        "two_writes_s": round(both, 1),
        "two_writes_rows_per_s": round(n / both),
    }


def counts(report: RunReport, layer: str) -> dict[str, int]:
    c = next(c for c in report.counts if c.layer == layer and c.source == "cdr")
    return {
        "read": c.read,
        "accepted": c.accepted,
        "quarantined": c.quarantined,
        "duplicates": c.duplicates,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=float, default=10e6)
    p.add_argument("--subscribers", type=int, default=100_000)
    p.add_argument("--pool", type=int, default=200_000, help="other parties' numbers")
    p.add_argument("--files", type=int, default=40)
    p.add_argument("--master", default="local[2]")
    p.add_argument("--driver-memory", default="6g")
    p.add_argument("--page-size", default=SparkSettings.page_size, help="spark.buffer.pageSize")
    p.add_argument(
        "--workdir", default=os.path.join(tempfile.gettempdir(), "telcoseg-bench-ingest")
    )
    p.add_argument("--landing", help="existing landing folder (skips generation)")
    p.add_argument("--e2e-only", action="store_true", help="only landing -> silver in one run")
    p.add_argument(
        "--floor",
        action="store_true",
        help="also time Spark's bare CSV -> Parquet -> dated Parquet on the same files",
    )
    args = p.parse_args()
    configure_logging("INFO")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    rows = int(args.rows)
    work = Path(args.workdir)
    spark = build_local_session(
        SparkSettings(
            master=args.master,
            driver_memory=args.driver_memory,
            shuffle_partitions=8,
            page_size=args.page_size,
        )
    )
    landing = Path(args.landing) if args.landing else work / f"landing-{rows}-{args.pool}"
    if not args.landing and not (landing / "cdr").exists():
        t0 = time.perf_counter()
        write_landing(spark, landing / "cdr", rows, args.subscribers, args.pool, args.files)
        print(f"generated {rows} rows in {time.perf_counter() - t0:.1f}s")
    key = work / "bench.key"
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text("benchmark-key-not-secret-0123456789")
    key.chmod(0o600)

    def cfg(lake: str) -> Any:
        return from_dict(
            {
                "paths": {"root": str(work), "landing": str(landing), "lake": str(work / lake)},
                "ingest": {"hmac_key_file": str(key), "own_prefixes": ["+447400"]},
            },
            "bench",
        )

    for lake in ("lake-layers", "lake-e2e"):
        shutil.rmtree(work / lake, ignore_errors=True)
    result: dict[str, Any] = {
        "rows": None,
        "cores": spark.sparkContext.defaultParallelism,
        "page_size": args.page_size,
        "master": args.master,
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "subscribers": args.subscribers,
        "pool": args.pool,
        "files": args.files,
    }
    if not args.e2e_only:
        _, t_bronze, load_bronze = timed(run_bronze, spark, cfg("lake-layers"))
        silver, t_silver, load_silver = timed(run_silver, spark, cfg("lake-layers"))
    both, t_both, load_both = timed(run_ingest, spark, cfg("lake-e2e"))
    n = counts(both, "bronze")["read"]
    result["rows"] = n
    if not args.e2e_only:
        result["bronze"] = {
            "seconds": round(t_bronze, 1),
            "rows_per_s": round(n / t_bronze),
            "load_average_1m": load_bronze,
        }
        result["silver"] = {
            "seconds": round(t_silver, 1),
            "rows_per_s": round(n / t_silver),
            "counts": counts(silver, "silver"),
            "load_average_1m": load_silver,
        }
    result |= {
        "landing_to_silver": {
            "seconds": round(t_both, 1),
            "rows_per_s": round(n / t_both),
            "counts": counts(both, "silver"),
            "stage_seconds": both.seconds,
            "load_average_1m": load_both,
        },
        "phone_parsing": {
            "distinct_numbers": both.distinct_numbers,
            "parsed": both.numbers_parsed,  # a fresh lake has no stored lookups: all
            "seconds": both.phone_seconds,
            "us_per_distinct_number": round(
                both.phone_seconds / max(both.numbers_parsed, 1) * 1e6, 1
            ),
        },
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "meets_target": n / t_both >= TARGET_ROWS_PER_S,
    }
    if args.floor:
        result["floor"] = floor(spark, landing / "cdr", work, n)
        result["landing_to_silver_over_floor"] = round(t_both / result["floor"]["two_writes_s"], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    spark.stop()


if __name__ == "__main__":
    main()
