"""Bronze -> silver: ``python jobs/ingest_silver.py [--conf FILE] [--set k=v]``.

Promotes bronze files not promoted before; commits all or nothing; prints the
per-source counts; exits non-zero on failure.
"""

from __future__ import annotations

import argparse

from pyspark.sql import SparkSession

from telcoseg.cli import main
from telcoseg.config import Config
from telcoseg.ingest.pipeline import run_silver


def job(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, object]:
    report = run_silver(spark, cfg)
    print(report.table())
    return report.as_dict()


if __name__ == "__main__":
    main("ingest_silver", job)
