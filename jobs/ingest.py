"""Landing -> bronze -> silver in one run: ``python jobs/ingest.py [--conf FILE] [--set k=v]``.

Commits every table or none; prints the per-source counts; exits non-zero on failure.
"""

from __future__ import annotations

import argparse

from pyspark.sql import SparkSession

from telcoseg.cli import main
from telcoseg.config import Config
from telcoseg.ingest.pipeline import run_ingest


def job(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, object]:
    report = run_ingest(spark, cfg)
    print(report.table())
    return report.as_dict()


if __name__ == "__main__":
    main("ingest", job)
