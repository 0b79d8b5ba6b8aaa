"""The ``generate`` job: population -> landing zone (six sources) + truth folder."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import os
import time
from contextlib import AbstractContextManager
from typing import Any

import pyspark.sql.functions as F
from pyspark.sql import DataFrame, SparkSession

from telcoseg.config import Config
from telcoseg.errors import ConfigError
from telcoseg.generator import apps, campaigns, cdr, landing, outcomes, truth
from telcoseg.generator import geography as geo
from telcoseg.generator import hashrand as hr
from telcoseg.generator.population import PERSONA_BEHAVIOUR, population_df
from telcoseg.generator.settings import Settings
from telcoseg.generator.writer import reset_dir, write_files
from telcoseg.session import session_conf

log = logging.getLogger(__name__)

SOURCES = ("cdr", "app_usage", "subscribers", "cells", "outcomes", "campaigns")
# What the per-day sources need from the population (keeps exploded rows narrow).
CDR_INPUT = (
    "sub_id",
    "msisdn",
    "persona_idx",
    "is_simbox",
    "is_call_center",
    "home_city_idx",
    "home_cell",
    "work_cell",
    "imei",
    "plan_type",
    "plan",
    "activity",
    "data_intensity",
    "n_contacts",
    "intl_country",
    "roaming_prob",
    *PERSONA_BEHAVIOUR,
)
COLLAPSE_PROJECT = "org.apache.spark.sql.catalyst.optimizer.CollapseProject"
APP_INPUT = ("sub_id", "msisdn", "data_mb", "data_intensity", "app_weights")


def generator_conf(spark: SparkSession, days: int) -> AbstractContextManager[None]:
    """Session settings the generator needs, restored afterwards.

    * CollapseProject off: the staged selects compute each hash once; collapsing them
      inlines shared sub-expressions into generated code too large to compile. (The CDR
      rows turn it back on, see ``CDR_CONF``.)
    * Concurrent output writers: a task writes one file per day without sorting its rows.
    * Huge-method limit 8000: the CDR stage's fused method is tens of kilobytes of
      bytecode, which the JVM never JIT-compiles (it ran interpreted: half of all CDR
      samples in a profile). Above the JIT's 8000-byte limit Spark runs the operators
      one by one with small, compiled expression methods instead (a third less CPU).
    """
    return session_conf(
        spark,
        {
            "spark.sql.optimizer.excludedRules": COLLAPSE_PROJECT,
            "spark.sql.codegen.hugeMethodLimit": "8000",
            "spark.sql.maxConcurrentOutputFileWriters": str(2 * days + 4),
        },
    )


# The CDR rows collapse their staged selects: every hash there is a column referenced
# by cheap bit slices, which CollapseProject never duplicates, and each select left
# standing copies the whole row once more (measured: about 15% of the CDR CPU).
CDR_CONF: dict[str, str | None] = {"spark.sql.optimizer.excludedRules": None}


def _days_df(spark: SparkSession, s: Settings, fmt: str | None) -> DataFrame:
    rows = [
        (s.day(i), i, s.format_for_day(i))
        for i in range(s.days)
        if fmt is None or s.format_for_day(i) == fmt
    ]
    return spark.createDataFrame(rows, "day date, day_idx int, fmt string")


def _timed(source: str, fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def _write_small(df: DataFrame, source: str, s: Settings, root: str) -> None:
    """One file per format for the small sources."""
    for i, fmt in enumerate(s.formats):
        part = df.filter(F.col("fmt") == fmt)
        view = landing.file_view(part, source, typed=fmt == "parquet")
        write_files(view, fmt, os.path.join(root, source), f"{source}_{i}", files=1)


def generate(
    spark: SparkSession, s: Settings, landing_dir: str, truth_dir: str, timezone: str = "UTC"
) -> dict[str, Any]:
    """Write the landing zone and the truth folder; return the summary."""
    outcomes.check_snapshots(s)
    if os.path.abspath(truth_dir).startswith(os.path.abspath(landing_dir) + os.sep):
        raise ConfigError(f"paths.truth ({truth_dir}) must not be inside paths.landing")
    for source in SOURCES:
        reset_dir(os.path.join(landing_dir, source))
    reset_dir(truth_dir)
    stats: dict[str, dict[str, Any]] = {}
    with generator_conf(spark, s.days):
        pop = population_df(spark, s, partitions=s.files_per_day).cache()
        n_pop, secs = _timed("population", pop.count)
        log.info("generator population: %d subscribers in %.1fs", n_pop, secs)

        cells = geo.cells_df(spark, s.cells, s.seed)
        cells_out = landing.cells_landing(cells, s).cache()
        _, secs = _timed("cells", lambda: _write_small(cells_out, "cells", s, landing_dir))
        stats["cells"] = _small_stats(cells_out, secs)

        subs_out = landing.subscribers_landing(pop, s).cache()
        _, secs = _timed(
            "subscribers", lambda: _write_small(subs_out, "subscribers", s, landing_dir)
        )
        stats["subscribers"] = _small_stats(subs_out, secs)

        # CDR: one Spark job per file format; each task writes its subscribers' days.
        cdr_pop = pop.select(*CDR_INPUT)
        t0 = time.perf_counter()
        for fmt in dict.fromkeys(s.formats):
            days = _days_df(spark, s, fmt)
            if days.isEmpty():
                continue
            sub_day = cdr.with_day_counts(cdr_pop.crossJoin(F.broadcast(days)), s)
            rows = cdr.cdr_rows(sub_day, s, timezone, typed=fmt == "parquet")
            with session_conf(spark, CDR_CONF):
                write_files(rows, fmt, os.path.join(landing_dir, "cdr"), "cdr", split_col="part")
        secs = time.perf_counter() - t0
        all_days = cdr.with_day_counts(cdr_pop.crossJoin(F.broadcast(_days_df(spark, s, None))), s)
        stats["cdr"] = _cdr_stats(all_days, s, secs)

        t0 = time.perf_counter()
        app_pop = pop.select(*APP_INPUT)
        for fmt in dict.fromkeys(s.formats):
            days = _days_df(spark, s, fmt)
            if days.isEmpty():
                continue
            out = _app_landing(app_pop.crossJoin(F.broadcast(days)), s)
            view = landing.file_view(out, "app_usage", typed=fmt == "parquet", keep=("part",))
            write_files(
                view, fmt, os.path.join(landing_dir, "app_usage"), "app_usage", split_col="part"
            )
        secs = time.perf_counter() - t0
        app_all = _app_landing(app_pop.crossJoin(F.broadcast(_days_df(spark, s, None))), s)
        stats["app_usage"] = _small_stats(app_all, secs)

        outcome_truth = outcomes.outcome_truth(pop, s).cache()
        outcomes_out = landing.outcomes_landing(outcome_truth, s).cache()
        _, secs = _timed("outcomes", lambda: _write_small(outcomes_out, "outcomes", s, landing_dir))
        stats["outcomes"] = _small_stats(outcomes_out, secs)

        campaign_rows = campaigns.campaign_rows(pop, s).cache()
        campaigns_out = landing.campaigns_landing(campaign_rows, s).cache()
        _, secs = _timed(
            "campaigns", lambda: _write_small(campaigns_out, "campaigns", s, landing_dir)
        )
        stats["campaigns"] = _small_stats(campaigns_out, secs)

        for source in SOURCES:
            st = stats[source]
            log.info(
                "generator %s: %d rows (%d bad, %d duplicates) in %.1fs (%.0f rows/s)",
                source,
                st["rows"],
                st["bad_rows"],
                st.get("duplicate_rows", 0),
                st["seconds"],
                st["rows"] / max(st["seconds"], 1e-9),
            )
        summary = truth.write_truth(
            spark,
            s,
            truth_dir,
            pop=pop,
            outcome_truth=outcome_truth,
            campaign_rows=campaign_rows,
            stats=stats,
            spike_rows=int(stats["cdr"].pop("spike_rows")),
            spike_subscribers=int(stats["cdr"].pop("spike_subscribers")),
        )
        summary["landing"] = landing_dir
        for df in (
            pop,
            cells_out,
            subs_out,
            outcome_truth,
            outcomes_out,
            campaign_rows,
            campaigns_out,
        ):
            df.unpersist()
    return summary


def _app_landing(sub_day: DataFrame, s: Settings) -> DataFrame:
    rows = apps.app_rows(sub_day, s)
    key = hr.hash64(s.seed, "app-row", "sub_id", "day_idx", "cat")
    rows = rows.select(
        "*", key.alias("row_key"), F.date_format("usage_date", "yyyy-MM-dd").alias("part")
    )
    return landing.app_usage_landing(rows, s)


def _small_stats(df: DataFrame, secs: float) -> dict[str, Any]:
    """Rows written and planted faults per reason (one aggregation)."""
    counts = df.groupBy("fault").count().collect()
    by_reason = {r["fault"]: int(r["count"]) for r in counts if r["fault"] is not None}
    total = sum(int(r["count"]) for r in counts)
    return {
        "rows": total,
        "bad_rows": sum(by_reason.values()),
        "faults": by_reason,
        "seconds": secs,
    }


def _cdr_stats(sub_day: DataFrame, s: Settings, secs: float) -> dict[str, Any]:
    agg = sub_day.agg(
        F.sum("n_rows").alias("rows"),
        F.sum("n_good").alias("good"),
        F.sum("n_dup_in").alias("dup_in"),
        F.sum("n_dup_x").alias("dup_x"),
        F.sum("n_bad").alias("bad"),
        F.sum("n_spike").alias("spike"),
        F.countDistinct(F.when(F.col("n_spike") > 0, F.col("sub_id"))).alias("spike_subs"),
    ).first()
    assert agg is not None
    faults = cdr.explode_bad_only(sub_day, s).groupBy("fault").count().collect()
    return {
        "rows": int(agg["rows"] or 0),
        "good_rows": int(agg["good"] or 0),
        "bad_rows": int(agg["bad"] or 0),
        "duplicate_rows": int((agg["dup_in"] or 0) + (agg["dup_x"] or 0)),
        "duplicates_same_file": int(agg["dup_in"] or 0),
        "duplicates_other_file": int(agg["dup_x"] or 0),
        "faults": {r["fault"]: int(r["count"]) for r in faults},
        "seconds": secs,
        "spike_rows": int(agg["spike"] or 0),
        "spike_subscribers": int(agg["spike_subs"] or 0),
    }


def settings_with_args(s: Settings, args: argparse.Namespace) -> Settings:
    """CLI overrides (subscribers, days, seed) on top of the config section."""
    changes: dict[str, Any] = {}
    for name in ("subscribers", "days", "seed"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    return dataclasses.replace(s, **changes) if changes else s


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--subscribers", type=int, help="number of subscriber lines")
    p.add_argument("--days", type=int, help="days of activity ending at generator.end_date")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--output", help="write landing/ and truth/ under this folder instead")


def run(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    """Entry point of jobs/generate.py."""
    s = settings_with_args(cfg.section("generator"), args)
    landing_dir, truth_dir = cfg.paths.landing, cfg.paths.truth
    if getattr(args, "output", None):
        root = os.path.abspath(args.output)
        landing_dir, truth_dir = os.path.join(root, "landing"), os.path.join(root, "truth")
    summary = generate(spark, s, landing_dir, truth_dir, cfg.timezone)
    return {k: summary[k] for k in ("rows", "bad_rows", "duplicate_rows", "landing", "truth")}


__all__ = ["add_args", "dt", "generate", "run"]
