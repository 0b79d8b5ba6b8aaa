"""The campaigns job end to end on tiny Delta tables: analyze, then target, re-run stable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import SparkSession

from telcoseg.campaigns.job import add_args, run
from telcoseg.cli import run_job
from telcoseg.config import load_config
from telcoseg.io.delta import read_table, write_table

CONF = """
paths: {{root: "{root}"}}
campaigns:
  min_per_arm: 1
  offers:
    - campaign_id: CMP-NEW
      offer: data_boost
      outcome: upgrade
      segments: ["1.1"]
      value_per_conversion: 5
      budget: 20
      channel: sms
      control_share: 0.25
"""


def test_job_writes_ab_and_audience_and_reruns_identically(
    spark: SparkSession, tmp_path: Path
) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text(CONF.format(root=tmp_path), encoding="utf-8")
    cfg = load_config(conf)
    sent = dt.date(2026, 3, 1)
    ids = [f"s{i:02d}" for i in range(30)]
    campaigns = [
        ("CMP-OLD", s, "data_boost", "sms", sent, "control" if i % 4 == 0 else "treatment",
         i % 3 == 0)
        for i, s in enumerate(ids)
    ]  # fmt: skip
    write_table(
        spark.createDataFrame(
            campaigns,
            "campaign_id string, subscriber_id string, offer string, channel string, "
            "sent_date date, arm string, converted boolean",
        ),
        cfg.paths.table("silver", "campaigns"),
    )
    snap = dt.date(2026, 3, 29)
    seg = [(s, d, "1", "1.1" if i < 20 else "1.2") for i, s in enumerate(ids) for d in (sent, snap)]
    write_table(
        spark.createDataFrame(
            seg,
            "subscriber_id string, snapshot_date date, macro_segment_id string, "
            "micro_segment_id string",
        ),
        cfg.paths.table("gold", "segment_assignments"),
    )
    scores = [(s, snap, "upgrade", i / 30.0) for i, s in enumerate(ids)]
    write_table(
        spark.createDataFrame(
            scores, "subscriber_id string, snapshot_date date, outcome string, propensity double"
        ),
        cfg.paths.table("gold", "propensity_scores"),
    )
    argv = ["--conf", str(conf), "--snapshot-date", "2026-03-29", "--mode", "both"]
    assert run_job("campaigns", run, add_args, argv=argv, spark=spark) == 0
    ab = read_table(spark, cfg.paths.table("gold", "campaign_ab"))
    assert {r.micro_segment_id for r in ab.collect()} == {"1.1", "1.2", "ALL"}
    audience_path = cfg.paths.table("gold", "campaign_audience")
    first = sorted(tuple(r) for r in read_table(spark, audience_path).collect())
    # 20 eligible subscribers (segment 1.1), all within the budget of 20; every treatment
    # subscriber of CMP-OLD has one contact, under the default cap of 2
    assert len(first) == 20
    assert run_job("campaigns", run, add_args, argv=argv, spark=spark) == 0
    again = sorted(tuple(r) for r in read_table(spark, audience_path).collect())
    assert again == first


def test_job_without_snapshot_date_fails(spark: SparkSession, tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text(f'paths: {{root: "{tmp_path}"}}\n', encoding="utf-8")
    assert run_job("campaigns", run, add_args, argv=["--conf", str(conf)], spark=spark) == 1
