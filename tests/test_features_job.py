"""The features job: silver Delta tables -> gold behavior_vectors, one partition per run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from telcoseg.cli import run_job
from telcoseg.config import load_config
from telcoseg.features.job import add_args, run
from test_features_support import app_usage_df, call, cdr_df, cells_df, subscribers_df, text

delta = pytest.importorskip("telcoseg.io.delta")


def write_silver(spark: SparkSession, root: Path) -> None:
    cfg = load_config(write_conf(root))
    tables = {
        "cdr": cdr_df(
            spark,
            [
                call("A", "2026-03-04 10:00:00", "out", "X", 30, "C1"),
                text("A", "2026-03-05 22:00:00", "in", "Y", "C1"),
                call("B", "2026-03-12 10:00:00", "in", "X", 0, None),
            ],
        ),
        "cells": cells_df(spark, {"C1": (48.85, 2.35)}),
        "subscribers": subscribers_df(
            spark, [{"subscriber_id": s, "activation_date": dt.date(2026, 1, 1)} for s in "AB"]
        ),
        "app_usage": app_usage_df(spark, []),
    }
    for name, df in tables.items():
        delta.write_table(df, cfg.paths.table("silver", name), mode="overwrite")


def write_conf(root: Path) -> Path:
    conf = root / "c.yaml"
    conf.write_text(f"paths:\n  root: {root}\nfeatures:\n  window_days: 7\n  partitions: 2\n")
    return conf


def test_job_writes_and_replaces_a_snapshot_partition(spark: SparkSession, tmp_path: Path) -> None:
    write_silver(spark, tmp_path)
    conf = str(write_conf(tmp_path))
    gold = load_config(conf).paths.table("gold", "behavior_vectors")

    def job(*extra: str) -> int:
        return run_job("features", run, add_args, ["--conf", conf, *extra], spark=spark)

    assert job("--snapshot-date", "2026-03-08") == 0
    assert job("--snapshot-date", "2026-03-08") == 0  # re-run: same partition, replaced
    assert job("--snapshot-date", "2026-03-15", "--subscribers", "B") == 0
    rows = delta.read_table(spark, gold).select("subscriber_id", "snapshot_date").collect()
    got = sorted((r.subscriber_id, r.snapshot_date.isoformat()) for r in rows)
    # 2026-03-08: A has records, B is a subscriber without any; 2026-03-15: only B asked.
    assert got == [("A", "2026-03-08"), ("B", "2026-03-08"), ("B", "2026-03-15")]


def test_job_without_snapshot_date_fails_clearly(tmp_path: Path, spark: SparkSession) -> None:
    conf = str(write_conf(tmp_path))
    assert run_job("features", run, add_args, ["--conf", conf], spark=spark) == 1
