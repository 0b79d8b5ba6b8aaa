"""A tiny job for workflow-runner tests: writes one partition, can fail on purpose."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from telcoseg.cli import snapshot_date
from telcoseg.config import Config
from telcoseg.io import delta


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--snapshot-date", type=snapshot_date, required=True)
    parser.add_argument("--fail-times", type=int, default=0)
    parser.add_argument("--counter", required=True)


def run(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    counter = Path(args.counter)
    calls = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    if calls <= args.fail_times:
        raise RuntimeError(f"transient failure {calls}")
    df = spark.range(5).withColumn("snapshot_date", F.lit(args.snapshot_date))
    path = cfg.paths.table("gold", "toy")
    mode = "overwrite" if delta.table_exists(path) else "error"
    delta.write_table(
        df,
        path,
        mode=mode,
        partition_by=["snapshot_date"],
        replace_where={"snapshot_date": args.snapshot_date} if mode == "overwrite" else None,
    )
    return {"rows": 5}
