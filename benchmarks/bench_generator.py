"""Benchmark the generator: K CDR rows (default 10M), rows/s per source and in total.

    python benchmarks/bench_generator.py [--rows 10000000] [--days 28] [--out DIR]

Writes benchmarks/results/generator.json (or --results). Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

from telcoseg.config import SparkSettings
from telcoseg.generator.job import generate
from telcoseg.generator.personas import PERSONAS, regular_weights
from telcoseg.generator.settings import Settings
from telcoseg.logs import configure_logging
from telcoseg.session import build_local_session

RESULTS = Path(__file__).resolve().parent / "results" / "generator.json"


def jvm_cpu_seconds() -> float:
    """CPU seconds (user + system) of this process's child JVMs (local Spark).

    On a shared machine wall-clock rates depend on the others' load; the CPU the
    generator itself burned does not, so it is reported beside them.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name, rest = stat[: stat.rfind(")")], stat[stat.rfind(")") + 2 :].split()
        if int(rest[1]) == os.getpid() and "java" in name:
            total += (int(rest[11]) + int(rest[12])) / tick
    return total


def cdr_rows_per_subscriber_day(s: Settings) -> float:
    """Expected CDR rows of one regular line per day (rates x mean noise factors)."""
    by_name = {p.name: p for p in PERSONAS}
    noise = math.exp(0.3**2 / 2)  # mean of the daily log-normal volume factor
    activity = math.exp(0.35**2 / 2)
    data_factor = math.exp((0.6 / 2) ** 2 / 2)  # sqrt of the data-intensity log-normal
    total = 0.0
    for name, w in regular_weights(s):
        p = by_name[name]
        week = sum(p.week) / 7
        comm = (p.voice_out + p.voice_in + p.sms_out + p.sms_in) * activity
        total += w * week * noise * (comm + p.data_sessions * data_factor)
    return total * (1 + s.bad_row_fraction + s.duplicate_fraction)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000, help="target CDR rows")
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--files-per-day", type=int, default=4)
    ap.add_argument("--driver-memory", default="6g")
    ap.add_argument("--out", help="output folder (default: a temporary folder)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="JSON file to write")
    args = ap.parse_args()
    configure_logging("INFO")
    base = Settings(days=args.days, files_per_day=args.files_per_day)
    subscribers = max(100, round(args.rows / (args.days * cdr_rows_per_subscriber_day(base))))
    s = Settings(days=args.days, files_per_day=args.files_per_day, subscribers=subscribers)
    spark = build_local_session(
        SparkSettings(master="local[*]", driver_memory=args.driver_memory, shuffle_partitions=4)
    )
    out = args.out or tempfile.mkdtemp(prefix="telcoseg-bench-")
    load_start = os.getloadavg()
    cpu0 = jvm_cpu_seconds()
    t0 = time.perf_counter()
    summary = generate(spark, s, os.path.join(out, "landing"), os.path.join(out, "truth"))
    total_s = time.perf_counter() - t0
    cpu_s = jvm_cpu_seconds() - cpu0
    per_source = {
        src: {
            "rows": summary["rows"][src],
            "seconds": summary["seconds"][src],
            "rows_per_s": round(summary["rows"][src] / max(summary["seconds"][src], 1e-9)),
        }
        for src in summary["rows"]
    }
    all_rows = sum(v["rows"] for v in per_source.values())
    result = {
        "target_cdr_rows": args.rows,
        "subscribers": subscribers,
        "days": args.days,
        "files_per_day": args.files_per_day,
        "cpus": os.cpu_count(),
        "load_average_at_start": load_start,
        "load_average_at_end": os.getloadavg(),
        "python": platform.python_version(),
        "spark": spark.version,
        "total_seconds": round(total_s, 1),
        "total_rows": all_rows,
        "total_rows_per_s": round(all_rows / total_s),
        "cdr_rows_per_s_end_to_end": round(summary["rows"]["cdr"] / total_s),
        # What 2 otherwise idle cores would give: all rows over the JVM's CPU time / 2.
        "jvm_cpu_seconds": round(cpu_s, 1),
        "cdr_rows_per_cpu_s": round(summary["rows"]["cdr"] / max(cpu_s, 1e-9)),
        "sources": per_source,
    }
    for src, v in per_source.items():
        print(
            f"{src:12s} {v['rows']:>12,d} rows {v['seconds']:8.1f}s {v['rows_per_s']:>10,d} rows/s"
        )
    rate = result["total_rows_per_s"]
    print(f"{'total':12s} {all_rows:>12,d} rows {total_s:8.1f}s {rate:>10,d} rows/s")
    print(
        f"JVM CPU {cpu_s:.0f}s: {result['cdr_rows_per_cpu_s']:,d} CDR rows per CPU-second; "
        f"load average {load_start[0]:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n")
    spark.stop()


if __name__ == "__main__":
    main()
