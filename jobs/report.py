"""Publish the privacy-safe tables of a snapshot and write its HTML report.

python jobs/report.py --snapshot-date 2026-03-31 [--conf conf/telcoseg.yaml]
"""

from __future__ import annotations

import argparse
from typing import Any

from pyspark.sql import SparkSession

from telcoseg.cli import main, snapshot_date
from telcoseg.config import Config
from telcoseg.privacy.publish import publish_snapshot
from telcoseg.report.build import write_report


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--snapshot-date", type=snapshot_date, required=True)


def run(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    pub = publish_snapshot(spark, cfg, args.snapshot_date)
    path = write_report(spark, cfg, args.snapshot_date)
    return {
        "report": path,
        "published": [r.table for r in pub.releases],
        "reused": pub.reused,
        "not_available": sorted(pub.missing),
        "epsilon_spent": sum(r.epsilon for r in pub.releases),
    }


if __name__ == "__main__":
    main("report", run, add_args)
