"""The fraud job: silver Delta tables -> gold fraud_alerts and number_range_anomalies."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession

from telcoseg.cli import run_job
from telcoseg.config import load_config
from telcoseg.fraud.job import add_args, run
from telcoseg.io import delta
from test_fraud_support import SNAPSHOT, cdr_df, population, subscribers_df


def write_conf(root: Path) -> str:
    conf = root / "c.yaml"
    conf.write_text(
        f"paths:\n  root: {root}\n"
        "fraud:\n  window_days: 7\n  min_out_calls: 50\n"
        "  allow_list: {subscriber_ids: [sb1]}\n"
        "  anomalies: {eval_days: 3, baseline_days: 4}\n"
    )
    return str(conf)


def test_job_writes_ranked_alerts_and_replaces_them_on_rerun(
    spark: SparkSession, tmp_path: Path
) -> None:
    conf = write_conf(tmp_path)
    cfg = load_config(conf)
    rows, subs = population(days=7, n_regular=8)
    delta.write_table(cdr_df(spark, rows), cfg.paths.table("silver", "cdr"))
    delta.write_table(subscribers_df(spark, subs), cfg.paths.table("silver", "subscribers"))
    argv = ["--conf", conf, "--snapshot-date", SNAPSHOT.isoformat()]

    assert run_job("fraud", run, add_args, argv=argv, spark=spark) == 0
    assert run_job("fraud", run, add_args, argv=argv, spark=spark) == 0

    alerts = delta.read_table(spark, cfg.paths.table("gold", "fraud_alerts")).collect()
    # sb1 is allow-listed; the call centers are not SIM-boxes; the re-run replaced rows.
    assert [(r["subscriber_id"], r["rank"]) for r in alerts] == [("sb0", 1)]
    assert alerts[0]["snapshot_date"] == SNAPSHOT
    assert alerts[0]["score_version"].startswith("simbox-rules-1+")
    assert alerts[0]["reasons"]
    anomalies = cfg.paths.table("gold", "number_range_anomalies")
    assert delta.table_exists(anomalies)
    assert delta.describe(anomalies)["partition_columns"] == ["snapshot_date"]


def test_job_fails_with_exit_code_1_without_silver(spark: SparkSession, tmp_path: Path) -> None:
    argv = ["--conf", write_conf(tmp_path), "--snapshot-date", SNAPSHOT.isoformat()]
    assert run_job("fraud", run, add_args, argv=argv, spark=spark) == 1


def test_job_needs_a_snapshot_date(spark: SparkSession, tmp_path: Path) -> None:
    assert run_job("fraud", run, add_args, argv=["--conf", write_conf(tmp_path)], spark=spark) == 1
