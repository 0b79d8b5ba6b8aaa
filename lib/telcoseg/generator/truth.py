"""The truth folder: what the generator planted, for checking every later capability.

Parquet tables (written by Spark) plus ``summary.json``:

* ``subscribers``: msisdn (E.164), sub_id, persona, is_simbox, is_call_center and traits.
* ``outcome_probabilities``: msisdn, snapshot_date, outcome, probability, happened,
  event_date (true probability of the outcome in (snapshot, snapshot + horizon]).
* ``campaign_effects``: campaign_id, offer, persona, baseline, effect, n_treatment,
  n_control.
* ``bad_rows``: source, kind (bad_row / duplicate), reason, rows: the exact counts planted.
* ``spikes``: prefix, start_date, end_date, planted_rows, subscribers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Mapping
from typing import Any

import pyspark.sql.functions as F
from pyspark.sql import DataFrame, SparkSession

from telcoseg.generator.campaigns import effects_truth
from telcoseg.generator.settings import Settings

TRAITS = (
    "sub_id",
    "msisdn",
    "persona",
    "is_simbox",
    "is_call_center",
    "account_id",
    "lines_on_account",
    "region",
    "home_cell",
    "work_cell",
    "device_tac",
    "device_age_months",
    "imei",
    "tenure_days",
    "activation_date",
    "plan_type",
    "plan",
    "monthly_fee",
    "activity",
    "data_intensity",
    "n_contacts",
    "roaming_prob",
)


def _write(df: DataFrame, path: str) -> None:
    df.coalesce(1).write.mode("overwrite").parquet(path)


def write_truth(
    spark: SparkSession,
    s: Settings,
    truth_dir: str,
    pop: DataFrame,
    outcome_truth: DataFrame,
    campaign_rows: DataFrame,
    stats: dict[str, dict[str, Any]],
    spike_rows: int,
    spike_subscribers: int,
) -> dict[str, Any]:
    """Write all truth tables and summary.json; return the summary."""
    _write(pop.select(*TRAITS), os.path.join(truth_dir, "subscribers"))
    _write(
        outcome_truth.select(
            "msisdn",
            "sub_id",
            "persona",
            "snapshot_date",
            "outcome",
            "probability",
            "happened",
            "event_date",
        ),
        os.path.join(truth_dir, "outcome_probabilities"),
    )
    arms = campaign_rows.groupBy("campaign_id", "persona").agg(
        F.sum((F.col("arm") == "treatment").cast("int")).alias("n_treatment"),
        F.sum((F.col("arm") == "control").cast("int")).alias("n_control"),
    )
    effects = (
        effects_truth(spark)
        .join(arms, on=["campaign_id", "persona"], how="left")
        .fillna(0, subset=["n_treatment", "n_control"])
    )
    _write(effects, os.path.join(truth_dir, "campaign_effects"))

    manifest = []
    for source, st in stats.items():
        for reason, n in sorted(st["faults"].items()):
            manifest.append((source, "bad_row", reason, int(n)))
    cdr = stats["cdr"]
    manifest.append(("cdr", "duplicate", "duplicate_same_file", cdr["duplicates_same_file"]))
    manifest.append(("cdr", "duplicate", "duplicate_other_file", cdr["duplicates_other_file"]))
    _write(
        spark.createDataFrame(manifest, "source string, kind string, reason string, rows bigint"),
        os.path.join(truth_dir, "bad_rows"),
    )
    start = s.day(s.spike_start_offset_days)
    end = s.day(s.spike_start_offset_days + s.spike_days - 1)
    spikes = [(s.spike_prefix, start, end, spike_rows, spike_subscribers)]
    _write(
        spark.createDataFrame(
            spikes,
            "prefix string, start_date date, end_date date, planted_rows bigint, "
            "subscribers bigint",
        ),
        os.path.join(truth_dir, "spikes"),
    )
    personas = {r["persona"]: int(r["count"]) for r in pop.groupBy("persona").count().collect()}
    summary: dict[str, Any] = {
        "generated_at_end_date": s.end_date.isoformat(),
        "settings": _jsonable({f.name: getattr(s, f.name) for f in dataclasses.fields(s)}),
        "snapshots": [d.isoformat() for d in s.snapshots],
        "rows": {k: v["rows"] for k, v in stats.items()},
        "bad_rows": {k: v["bad_rows"] for k, v in stats.items()},
        "duplicate_rows": {"cdr": cdr["duplicate_rows"]},
        "seconds": {k: round(v["seconds"], 2) for k, v in stats.items()},
        "personas": personas,
        "spike": {
            "prefix": s.spike_prefix,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "rows": spike_rows,
        },
        "truth": truth_dir,
    }
    with open(os.path.join(truth_dir, "summary.json"), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2, sort_keys=True)
    return summary


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
