"""The public tables of one snapshot: which inputs feed which release, and the job step.

Row-level preparation (``prepare_*``) is ``DataFrame -> DataFrame`` with built-in Spark
functions and yields one row per subscriber, so each subscriber lands in one cell of a
release. :func:`publish_snapshot` does the I/O: read inputs (a missing one skips its
tables), build every release on the driver, reserve the budget for all of them at once
(refusing before anything is written), then write the public tables.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.config import Config
from telcoseg.errors import PrivacyBudgetExceeded, TableNotFoundError
from telcoseg.io.delta import read_table, table_exists, write_table
from telcoseg.privacy.kanon import generalize_rare
from telcoseg.privacy.ledger import ReleaseRequest, released_tables, reserve, spent
from telcoseg.privacy.location import AREA, home_cells, with_area
from telcoseg.privacy.release import (
    Release,
    aggregate,
    bound_contributions,
    read_shape,
    release_aggregate_input,
    release_crosstab,
)
from telcoseg.privacy.settings import Settings
from telcoseg.report.settings import Settings as ReportSettings

log = logging.getLogger(__name__)

LEDGER = ("ops", "privacy_ledger")
PUBLIC = "public"
RELEASES_TABLE = "releases"
NEW, GONE, ALL = "new", "left", "all"
ALERT_TYPE_NAMES = ("alert_type", "rule", "reason", "type", "category", "pattern", "kind")
NUMBER_DIMS = ("country_iso", "carrier", "number_type")
# Non-DP tables: model descriptions and operational counts (see README "Privacy").
PROFILE_TEXT_NAMES = ("segment_id", "level", "name", "label", "description", "top_indicators")


# ----------------------------------------------------------------------------- inputs


def at_snapshot(df: DataFrame, snapshot: dt.date) -> DataFrame:
    """Rows of ``snapshot`` when the table has a ``snapshot_date`` column; else all rows."""
    if "snapshot_date" not in df.columns:
        return df
    return df.where(F.col("snapshot_date") == F.lit(snapshot))


def latest_model_rows(df: DataFrame) -> DataFrame:
    """Rows of the newest ``model_version`` per outcome/model when a table accumulates runs."""
    if "model_version" not in df.columns:
        return df
    group = [c for c in ("outcome", "model_name") if c in df.columns]
    w = Window.partitionBy(*group) if group else Window.partitionBy(F.lit(1))
    newest = F.max("model_version").over(
        w.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    )
    # A window cannot sit in a WHERE clause: materialize it as a column first.
    return (
        df.withColumn("_newest_version", newest)
        .where(F.col("model_version") == F.col("_newest_version"))
        .drop("_newest_version")
    )


def previous_snapshot(df: DataFrame, snapshot: dt.date) -> dt.date | None:
    """The latest ``snapshot_date`` before ``snapshot`` (None if there is none)."""
    if "snapshot_date" not in df.columns:
        return None
    row = df.where(F.col("snapshot_date") < F.lit(snapshot)).agg(F.max("snapshot_date")).first()
    return row[0] if row else None


def _col_or(df: DataFrame, name: str, default: str = "unknown") -> F.Column:
    if name in df.columns:
        return F.coalesce(F.col(name).cast("string"), F.lit(default))
    return F.lit(default)


def prepare_population(
    subscribers_df: DataFrame,
    assignments_df: DataFrame | None,
    settings: Settings,
    cells_df: DataFrame | None = None,
    homes_df: DataFrame | None = None,
) -> DataFrame:
    """One row per subscriber: segments, coarse ``area``, plan type and number attributes.

    Without assignments every subscriber is in segment ``all``. Rare carriers, countries
    and areas are generalized to ``other`` so that fewer cells need suppressing.
    """
    subs = bound_contributions(subscribers_df, ["subscriber_id"])
    subs = with_area(subs, settings, cells_df, homes_df)
    base = subs.select(
        "subscriber_id",
        F.col(AREA),
        _col_or(subs, "plan_type").alias("plan_type"),
        *[_col_or(subs, c).alias(c) for c in NUMBER_DIMS],
    )
    if assignments_df is not None:
        seg = bound_contributions(assignments_df, ["macro_segment_id"]).select(
            "subscriber_id",
            _col_or(assignments_df, "macro_segment_id").alias("macro_segment_id"),
            _col_or(assignments_df, "micro_segment_id").alias("micro_segment_id"),
        )
        # Inner join: a published segment row describes subscribers with an assignment.
        base = base.join(seg, on="subscriber_id", how="inner")
    else:
        base = base.withColumn("macro_segment_id", F.lit(ALL)).withColumn(
            "micro_segment_id", F.lit(ALL)
        )
    for col in (AREA, "country_iso", "carrier"):
        base = generalize_rare(base, col, settings.k, settings.other_label)
    return base.select(
        "subscriber_id",
        "macro_segment_id",
        "micro_segment_id",
        AREA,
        "plan_type",
        *NUMBER_DIMS,
    )


def prepare_migration(current_df: DataFrame, previous_df: DataFrame) -> DataFrame:
    """One row per subscriber in either snapshot: ``from_segment`` -> ``to_segment``.

    Subscribers only in the current snapshot come from ``new``; only in the previous
    one go to ``left``.
    """
    cur = bound_contributions(current_df, ["macro_segment_id"]).select(
        "subscriber_id", F.col("macro_segment_id").cast("string").alias("to_segment")
    )
    prev = bound_contributions(previous_df, ["macro_segment_id"]).select(
        "subscriber_id", F.col("macro_segment_id").cast("string").alias("from_segment")
    )
    return prev.join(cur, on="subscriber_id", how="full").select(
        "subscriber_id",
        F.coalesce("from_segment", F.lit(NEW)).alias("from_segment"),
        F.coalesce("to_segment", F.lit(GONE)).alias("to_segment"),
    )


def pick_indicators(
    columns: Sequence[tuple[str, T.DataType]], patterns: Sequence[str], limit: int
) -> list[str]:
    """Numeric columns matching ``patterns`` (in pattern order), at most ``limit``."""
    numeric = [
        n for n, t in columns if isinstance(t, T.NumericType) and n not in ("snapshot_date",)
    ]
    picked: list[str] = []
    for p in patterns:
        for n in numeric:
            if fnmatch.fnmatchcase(n, p) and n not in picked:
                picked.append(n)
    return picked[:limit]


def prepare_indicators(
    vectors_df: DataFrame, population_df: DataFrame, indicators: Sequence[str]
) -> DataFrame:
    """One row per subscriber: macro segment and the raw indicator values."""
    vec = bound_contributions(vectors_df, ["subscriber_id"]).select("subscriber_id", *indicators)
    seg = population_df.select("subscriber_id", "macro_segment_id")
    return seg.join(vec, on="subscriber_id", how="inner")


def prepare_fraud(alerts_df: DataFrame) -> tuple[DataFrame, str | None]:
    """One row per alerted subscriber with its first alert type (by name)."""
    kind = next((c for c in ALERT_TYPE_NAMES if c in alerts_df.columns), None)
    typed = alerts_df.withColumn("alert_type", _col_or(alerts_df, kind) if kind else F.lit(ALL))
    if "subscriber_id" not in alerts_df.columns:
        raise TableNotFoundError("fraud_alerts has no subscriber_id: cannot bound contributions")
    one = bound_contributions(typed, ["alert_type"])
    return one.select("subscriber_id", "alert_type"), kind


def arms_long(ab_df: DataFrame) -> DataFrame:
    """The campaigns job's A/B table (one row per campaign and segment, arms side by side)
    as one row per arm with ``n`` and ``converted``: the counts DP noise goes on. The
    job's own intervals and p-values stay in gold; the public table re-derives rates
    from the noisy counts."""
    if "n_treatment" not in ab_df.columns:
        return ab_df
    keys = [c for c in ("campaign_id", "micro_segment_id", "snapshot_date") if c in ab_df.columns]
    arms = F.explode(
        F.array(
            *[
                F.struct(
                    F.lit(arm).alias("arm"),
                    F.col(f"n_{arm}").cast("long").alias("n"),
                    F.col(f"conversions_{arm}").cast("long").alias("converted"),
                )
                for arm in ("treatment", "control")
            ]
        )
    ).alias("a")
    return ab_df.select(*keys, arms).select(*keys, "a.arm", "a.n", "a.converted")


def aggregate_campaign_rows(campaign_df: DataFrame, max_rows: int) -> DataFrame:
    """Subscriber-level campaign rows -> (campaign_id, arm, n, converted) per cell.

    Each subscriber keeps at most ``max_rows`` campaign rows (the sensitivity).
    """
    arm = _col_or(campaign_df, "arm")
    converted = (
        F.col("converted").cast("boolean") if "converted" in campaign_df.columns else F.lit(False)
    )
    rows = campaign_df.withColumn("arm", arm).withColumn("_conv", converted.cast("int"))
    rows = bound_contributions(rows, ["campaign_id", "arm"], max_rows=max_rows)
    return rows.groupBy(_col_or(rows, "campaign_id").alias("campaign_id"), "arm").agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.coalesce("_conv", F.lit(0))).cast("long").alias("converted"),
    )


# ----------------------------------------------------------------------------- the job step


@dataclass
class SnapshotPublication:
    """What one run published (or reused) and what it could not build, for the report."""

    snapshot: dt.date
    releases: list[Release] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # public table -> why
    release_ids: dict[str, str] = field(default_factory=dict)
    location_level: str = "region"
    previous_snapshot: dt.date | None = None


class _Inputs:
    """Lazy, cached reads of the input tables; a missing table is None."""

    def __init__(self, spark: SparkSession, cfg: Config) -> None:
        self.spark, self.cfg = spark, cfg
        self.report: ReportSettings = cfg.section("report")
        self._cache: dict[str, DataFrame | None] = {}

    def get(self, name: str) -> DataFrame | None:
        if name not in self._cache:
            path = self.cfg.paths.table(*self.report.source(name))
            self._cache[name] = read_table(self.spark, path) if table_exists(path) else None
            if self._cache[name] is None:
                log.info("input %s not available at %s", name, path)
        return self._cache[name]


def publish_snapshot(spark: SparkSession, cfg: Config, snapshot: dt.date) -> SnapshotPublication:
    """Build, budget-check and write every public table of ``snapshot``."""
    settings: Settings = cfg.section("privacy")
    inputs = _Inputs(spark, cfg)
    pub = SnapshotPublication(snapshot)
    ledger = cfg.paths.table(*LEDGER)
    done = released_tables(spark, ledger, snapshot) if settings.reuse_releases else set()

    # A release counts as done once the ledger has it and its metadata row was written
    # (the last step of a run): only then are its rows known to be in the public table.
    done &= _described(spark, cfg.paths.table(PUBLIC, RELEASES_TABLE), snapshot)

    def wanted(table: str) -> bool:
        if table in done:
            pub.reused.append(table)
            return False
        return True

    # Cheap early refusal: if not even the smallest release fits, compute nothing.
    already = spent(spark, ledger)
    cheapest = min([settings.epsilon_per_release, *settings.epsilon_overrides.values()])
    if already + cheapest > settings.budget_epsilon + 1e-9:
        raise PrivacyBudgetExceeded(
            f"privacy budget spent: ledger {ledger} has epsilon {already:.4g} of "
            f"{settings.budget_epsilon:.4g}; no release for {snapshot}. Nothing was published."
        )
    cache: dict[str, DataFrame] = {}
    builders: list[tuple[str, Callable[[], Release | None]]] = _plan(
        inputs, settings, snapshot, pub, cache
    )
    for table, build in builders:
        if not wanted(table):
            continue
        try:
            release = build()
        except TableNotFoundError as exc:
            pub.missing[table] = str(exc)
            continue
        if release is not None:
            pub.releases.append(release)
    requests = [
        ReleaseRequest(
            r.table, r.epsilon, settings.delta if r.mechanism == "gaussian" else 0.0, r.mechanism
        )
        for r in pub.releases
    ]
    # Everything that can fail on the driver happens before the spend is recorded.
    frames = {r.table: _to_spark(spark, r.data, snapshot, "") for r in pub.releases}
    ids = reserve(spark, ledger, requests, snapshot, settings.budget_epsilon)
    pub.release_ids = dict(zip([r.table for r in pub.releases], ids, strict=True))
    for r in pub.releases:
        df = frames[r.table].withColumn("release_id", F.lit(pub.release_ids[r.table]))
        _write_df(df, cfg.paths.table(PUBLIC, r.table), snapshot)
    _write_releases(spark, cfg, pub)
    _write_passthrough(spark, cfg, inputs, snapshot, pub)
    for df in cache.values():
        df.unpersist()
    return pub


def _described(spark: SparkSession, path: str, snapshot: dt.date) -> set[str]:
    """Tables with a row in the public ``releases`` metadata for ``snapshot``."""
    if not table_exists(path):
        return set()
    rows = read_table(spark, path).where(F.col("snapshot_date") == F.lit(snapshot)).collect()
    return {r["table"] for r in rows}


def _need(df: DataFrame | None, name: str) -> DataFrame:
    if df is None:
        raise TableNotFoundError(f"input table {name} is not available")
    return df


def _plan(
    inputs: _Inputs,
    settings: Settings,
    snapshot: dt.date,
    pub: SnapshotPublication,
    cache: dict[str, DataFrame],
) -> list[tuple[str, Callable[[], Release | None]]]:
    """(public table, builder) pairs; a builder raises TableNotFoundError if an input is missing."""

    def assignments() -> DataFrame | None:
        df = inputs.get("segment_assignments")
        return None if df is None else at_snapshot(df, snapshot)

    def population() -> DataFrame:
        if "pop" not in cache:
            subs = _need(inputs.get("subscribers"), "subscribers")
            cells, cdr = inputs.get("cells"), inputs.get("cdr")
            homes = None
            if settings.location_level == "geohash" and cells is not None and cdr is not None:
                homes = home_cells(cdr)
                pub.location_level = f"geohash ({settings.geohash_precision} characters)"
            elif settings.location_level == "geohash":
                pub.location_level = "region (geohash needs silver cells and cdr)"
            cache["pop"] = prepare_population(subs, assignments(), settings, cells, homes).cache()
        return cache["pop"]

    def crosstab(
        table: str, df: DataFrame, dims: Sequence[str], means: Sequence[str] = ()
    ) -> Release:
        return release_crosstab(aggregate(df, dims, means, settings), table, dims, means, settings)

    def segment_sizes() -> Release:
        _need(assignments(), "segment_assignments")
        return crosstab("segment_sizes", population(), ["macro_segment_id", "micro_segment_id"])

    def segment_area_plan() -> Release:
        return crosstab("segment_area_plan", population(), ["macro_segment_id", AREA, "plan_type"])

    def number_attributes() -> Release:
        return crosstab(
            "segment_number_attributes", population(), ["macro_segment_id", *NUMBER_DIMS]
        )

    def indicator_means() -> Release:
        vectors = at_snapshot(_need(inputs.get("behavior_vectors"), "behavior_vectors"), snapshot)
        report = inputs.report
        names = pick_indicators(
            [(f.name, f.dataType) for f in vectors.schema.fields],
            report.heatmap_indicators,
            10_000,
        )
        bounded = [n for n in names if settings.bounds_for(n) is not None]
        chosen = bounded[: report.max_heatmap_indicators]
        df = prepare_indicators(vectors, population(), chosen)
        release = crosstab("segment_indicator_means", df, ["macro_segment_id"], chosen)
        skipped = [n for n in names if n not in bounded]
        if skipped:
            note = f"no clamp bounds, not published: {', '.join(skipped[:20])}"
            release = _with_note(release, note)
        return release

    def migration() -> Release:
        all_assign = _need(inputs.get("segment_assignments"), "segment_assignments")
        prev = previous_snapshot(all_assign, snapshot)
        if prev is None:
            raise TableNotFoundError(f"no segment assignments before {snapshot}")
        pub.previous_snapshot = prev
        df = prepare_migration(at_snapshot(all_assign, snapshot), at_snapshot(all_assign, prev))
        return crosstab("segment_migration", df, ["from_segment", "to_segment"])

    def fraud() -> Release:
        alerts = at_snapshot(_need(inputs.get("fraud_alerts"), "fraud_alerts"), snapshot)
        df, _ = prepare_fraud(alerts)
        return crosstab("fraud_summary", df, ["alert_type"])

    def aggregated(table: str, source: str, df: DataFrame | None = None) -> Release:
        src = df if df is not None else at_snapshot(_need(inputs.get(source), source), snapshot)
        src = latest_model_rows(src)
        shape = read_shape(src.schema)
        pdf = pd.DataFrame(
            [r.asDict() for r in src.select(*shape.keys, *shape.counts, *shape.metrics).collect()]
        )
        if pdf.empty:
            raise TableNotFoundError(f"{source} has no rows for {snapshot}")
        if shape.size is None:
            raise TableNotFoundError(f"{source} has no size column (n, count, size, ...)")
        return release_aggregate_input(pdf, table, shape, settings)

    def campaigns() -> Release:
        ab = arms_long(_need(inputs.get("campaign_ab"), "campaign_ab"))
        if "subscriber_id" in ab.columns:
            sens = settings.input_sensitivity.get("campaign_results", 1)
            ab = aggregate_campaign_rows(at_snapshot(ab, snapshot), sens)
        return aggregated("campaign_results", "campaign_ab", at_snapshot(ab, snapshot))

    return [
        ("segment_sizes", segment_sizes),
        ("segment_area_plan", segment_area_plan),
        ("segment_indicator_means", indicator_means),
        ("segment_migration", migration),
        ("segment_number_attributes", number_attributes),
        ("fraud_summary", fraud),
        ("campaign_results", campaigns),
        (
            "propensity_evaluation",
            lambda: aggregated("propensity_evaluation", "propensity_evaluation"),
        ),
        ("fairness_audit", lambda: aggregated("fairness_audit", "fairness_audit")),
    ]


def _with_note(release: Release, note: str) -> Release:
    from dataclasses import replace

    return replace(release, notes=(*release.notes, note))


def _to_spark(
    spark: SparkSession, pdf: pd.DataFrame, snapshot: dt.date, release_id: str
) -> DataFrame:
    fields = [T.StructField("snapshot_date", T.DateType(), False)]
    for name, dtype in pdf.dtypes.items():
        values = pdf[name].dropna().tolist()
        if pd.api.types.is_bool_dtype(dtype):
            tp: T.DataType = T.StringType()
        elif pd.api.types.is_integer_dtype(dtype):
            tp = T.LongType()
        elif pd.api.types.is_float_dtype(dtype) or (
            values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        ):
            tp = T.DoubleType()
        else:
            tp = T.StringType()
        fields.append(T.StructField(str(name), tp))
    fields.append(T.StructField("release_id", T.StringType()))
    schema = T.StructType(fields)
    rows = []
    for rec in pdf.to_dict("records"):
        row = [snapshot]
        for f in fields[1:-1]:
            v = rec[f.name]
            if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
                row.append(None)
            elif isinstance(f.dataType, T.LongType):
                row.append(int(v))
            elif isinstance(f.dataType, T.DoubleType):
                row.append(float(v))
            else:
                row.append(str(v))
        rows.append((*row, release_id))
    return spark.createDataFrame(rows, schema)


def _write_public(
    spark: SparkSession,
    cfg: Config,
    table: str,
    pdf: pd.DataFrame,
    snapshot: dt.date,
    release_id: str,
) -> None:
    _write_df(_to_spark(spark, pdf, snapshot, release_id), cfg.paths.table(PUBLIC, table), snapshot)


def _write_df(df: DataFrame, path: str, snapshot: dt.date) -> None:
    """Replace the snapshot's partition of a public table (create the table if new)."""
    df = df.coalesce(1)
    if table_exists(path):
        write_table(
            df,
            path,
            mode="overwrite",
            replace_where={"snapshot_date": snapshot},
            partition_by=["snapshot_date"],
        )
    else:
        write_table(df, path, mode="error", partition_by=["snapshot_date"])


def _write_releases(spark: SparkSession, cfg: Config, pub: SnapshotPublication) -> None:
    """Public metadata of this run's releases: epsilon, noise scale, suppression counts."""
    if not pub.releases:
        return
    rows = pd.DataFrame(
        [
            {
                "table": r.table,
                "mechanism": r.mechanism,
                "epsilon": r.epsilon,
                "count_noise_scale": r.count_scale,
                "cells_published": len(r.data),
                "cells_suppressed_primary": r.suppressed_primary,
                "cells_suppressed_complementary": r.suppressed_complementary,
                "means": ", ".join(r.means),
                "notes": "; ".join(r.notes),
                "location_level": pub.location_level,
                "previous_snapshot": str(pub.previous_snapshot or ""),
                "ledger_release_id": pub.release_ids.get(r.table, ""),
            }
            for r in pub.releases
        ]
    )
    path = cfg.paths.table(PUBLIC, RELEASES_TABLE)
    df = _to_spark(spark, rows, pub.snapshot, "").drop("release_id")
    # Reused tables keep their earlier metadata rows: only this run's tables are replaced.
    if table_exists(path):
        old = read_table(spark, path).where(
            (F.col("snapshot_date") == F.lit(pub.snapshot))
            & ~F.col("table").isin(list(rows["table"]))
        )
        df = df.unionByName(old.select(*df.columns))
        write_table(
            df.coalesce(1),
            path,
            mode="overwrite",
            replace_where={"snapshot_date": pub.snapshot},
            partition_by=["snapshot_date"],
        )
    else:
        write_table(df.coalesce(1), path, mode="error", partition_by=["snapshot_date"])


def _write_passthrough(
    spark: SparkSession, cfg: Config, inputs: _Inputs, snapshot: dt.date, pub: SnapshotPublication
) -> None:
    """Tables published without noise, by design: segment descriptions and ingest counts.

    Segment profiles keep only text columns (names, top indicators), and only for
    segments that survived suppression; sizes come from the DP table. Ingest counts are
    rows per source and run, not subscribers (README "Privacy").
    """
    profiles = inputs.get("segment_profiles")
    sizes_path = cfg.paths.table(PUBLIC, "segment_sizes")
    if profiles is not None and table_exists(sizes_path):
        prof = at_snapshot(profiles, snapshot) if "snapshot_date" in profiles.columns else profiles
        keep = [
            c
            for c in prof.columns
            if isinstance(prof.schema[c].dataType, T.StringType) and c != "subscriber_id"
        ]
        keep += [c for c in ("level",) if c in prof.columns and c not in keep]
        if "segment_id" in prof.columns:
            published = read_table(spark, sizes_path).where(
                F.col("snapshot_date") == F.lit(snapshot)
            )
            seg_ids = published.select(F.col("macro_segment_id").alias("segment_id")).union(
                published.select(F.col("micro_segment_id").alias("segment_id"))
            )
            prof = prof.withColumn("segment_id", F.col("segment_id").cast("string")).join(
                seg_ids.distinct(), on="segment_id", how="left_semi"
            )
            pdf = pd.DataFrame([r.asDict() for r in prof.select(*keep).collect()], columns=keep)
            _write_public(spark, cfg, "segment_profiles", pdf, snapshot, "")
    runs = inputs.get("ingest_runs")
    if runs is not None:
        keep = [
            f.name
            for f in runs.schema.fields
            if isinstance(
                f.dataType, T.StringType | T.IntegerType | T.LongType | T.TimestampType | T.DateType
            )
            and f.name not in ("snapshot_date", "subscriber_id")
        ]
        pdf = pd.DataFrame([r.asDict() for r in runs.select(*keep).collect()], columns=keep)
        for c in pdf.columns:
            if (
                pd.api.types.is_datetime64_any_dtype(pdf[c])
                or pdf[c].map(lambda v: isinstance(v, dt.date)).any()
            ):
                pdf[c] = pdf[c].astype("string")
        _write_public(spark, cfg, "data_quality", pdf, snapshot, "")
