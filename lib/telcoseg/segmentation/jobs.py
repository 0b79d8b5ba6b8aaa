"""Job bodies of ``jobs/segment_train.py``, ``segment_assign.py`` and ``segment_migration.py``.

Each reads its tables, calls the library and writes its tables; the ``jobs/`` files only
hand these to :func:`telcoseg.cli.main`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from typing import Any

import mlflow
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from telcoseg.cli import snapshot_date
from telcoseg.config import Config
from telcoseg.errors import TableNotFoundError
from telcoseg.io.delta import read_table, table_exists, write_table
from telcoseg.logs import stage
from telcoseg.segmentation.fairness import fairness_view
from telcoseg.segmentation.migration import migration_matrix
from telcoseg.segmentation.model import assign, train
from telcoseg.segmentation.profiles import profile_rows, profiles_df, scored_for_profiles
from telcoseg.segmentation.settings import Settings
from telcoseg.segmentation.stable_ids import (
    match_segments,
    registry_df,
    registry_rows,
    updated_registry,
)
from telcoseg.segmentation.tracking import load_version, log_and_register
from telcoseg.tracking import configure

log = logging.getLogger(__name__)

TABLES = {
    "vectors": ("gold", "behavior_vectors"),
    "registry": ("gold", "segment_registry"),
    "profiles": ("gold", "segment_profiles"),
    "assignments": ("gold", "segment_assignments"),
    "fairness": ("gold", "segment_fairness"),
    "migration": ("gold", "segment_migration"),
    "subscribers": ("silver", "subscribers"),
}


def table(cfg: Config, name: str) -> str:
    return cfg.paths.table(*TABLES[name])


def _snapshot(df: DataFrame, wanted: dt.date | None) -> tuple[DataFrame, dt.date]:
    """Rows of ``wanted`` (default: the latest snapshot in ``df``)."""
    if wanted is None:
        row = df.agg(F.max("snapshot_date").alias("d")).first()
        if row is None or row["d"] is None:
            raise TableNotFoundError("behavior vectors table has no snapshot")
        wanted = row["d"]
    assert wanted is not None
    return df.filter(F.col("snapshot_date") == F.lit(wanted)), wanted


def _vectors(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> DataFrame:
    return read_table(spark, args.vectors or table(cfg, "vectors"))


# ---------------------------------------------------------------------- train


def train_add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--snapshot-date", type=snapshot_date, help="default: latest in the table")
    p.add_argument("--vectors", help="behavior vectors table (default gold/behavior_vectors)")
    p.add_argument("--run-name", default=None)


def run_train(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    """Fit, match ids, log + register in MLflow, write registry and profiles."""
    settings: Settings = cfg.section("segmentation")
    vectors_df, snap = _snapshot(_vectors(spark, cfg, args), args.snapshot_date)
    vectors_df = vectors_df.persist()
    with stage(log, "segment_train.fit") as st:
        model = train(vectors_df, settings)
        st.count(rows=model.info["population_rows"], k_macro=model.info["k_macro"])
    registry_path = table(cfg, "registry")
    previous = (
        registry_rows(read_table(spark, registry_path)) if table_exists(registry_path) else []
    )
    ids = match_segments(model, previous, settings.match_threshold)
    model.with_ids(ids.ids)
    model.info.update(snapshot_date=snap.isoformat(), id_matching=ids.summary())
    configure(cfg.paths.mlflow_tracking_uri, cfg.paths.artifacts, settings.experiment)
    macro_scores = model.info.get("macro_silhouette_by_k", {})
    metrics = {
        "k_macro": float(model.info["k_macro"]),
        "k_micro_total": float(len(model.level("micro"))),
        "training_rows": float(model.info["training_rows"]),
        "ids_kept": float(len(ids.kept)),
        "ids_new": float(len(ids.new)),
        "ids_retired": float(len(ids.retired)),
    }
    if macro_scores:
        metrics["macro_silhouette"] = float(macro_scores.get(model.info["k_macro"], 0.0))
    with stage(log, "segment_train.mlflow"), mlflow.start_run(run_name=args.run_name):
        mlflow.set_tags({"snapshot_date": snap.isoformat(), "component": "segmentation"})
        version = log_and_register(model, settings.model_name, metrics, {})
        with stage(log, "segment_train.profiles") as st:
            scored = scored_for_profiles(model, vectors_df).persist()
            rows = profile_rows(
                scored, model, version, snap, settings.profile_top_n, settings.profile_min_z
            )
            scored.unpersist()
            st.count(segments=len(rows))
        mlflow.log_dict({"profiles": rows}, "profiles.json")
        mlflow.log_dict(model.info, "model_info.json")
    registry = updated_registry(previous, model, ids, version)
    write_table(registry_df(spark, registry), registry_path, mode="overwrite")
    write_table(
        profiles_df(spark, rows),
        table(cfg, "profiles"),
        mode="overwrite" if table_exists(table(cfg, "profiles")) else "error",
        partition_by=["model_version"],
        replace_where={"model_version": version} if table_exists(table(cfg, "profiles")) else None,
    )
    vectors_df.unpersist()
    return {
        "model_version": version,
        "snapshot_date": snap,
        "k_macro": model.info["k_macro"],
        "k_micro_total": len(model.level("micro")),
        "ids": ids.summary(),
    }


# ---------------------------------------------------------------------- assign


def assign_add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--snapshot-date", type=snapshot_date, help="default: latest in the table")
    p.add_argument("--model-version", type=int, default=None, help="default: latest")
    p.add_argument("--vectors", help="behavior vectors table (default gold/behavior_vectors)")
    p.add_argument("--no-fairness", action="store_true", help="skip gold/segment_fairness")


def _replace(df: DataFrame, path: str, column: str, value: Any) -> int:
    """Replace partition ``column = value`` (create the table on first write)."""
    if not table_exists(path):
        return write_table(df, path, mode="error", partition_by=[column])
    return write_table(
        df, path, mode="overwrite", partition_by=[column], replace_where={column: value}
    )


def run_assign(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    """Score one snapshot with a model version; write assignments (and the fairness view)."""
    settings: Settings = cfg.section("segmentation")
    configure(cfg.paths.mlflow_tracking_uri, cfg.paths.artifacts, settings.experiment)
    model, version = load_version(settings.model_name, args.model_version)
    vectors_df, snap = _snapshot(_vectors(spark, cfg, args), args.snapshot_date)
    with stage(log, "segment_assign.score") as st:
        scored = assign(model, vectors_df).select(
            "subscriber_id",
            "snapshot_date",
            "macro_segment_id",
            "micro_segment_id",
            F.lit(version).cast("int").alias("model_version"),
        )
        out = table(cfg, "assignments")
        table_version = _replace(scored, out, "snapshot_date", snap)
        st.count(model_version=version, table_version=table_version)
    result: dict[str, Any] = {"model_version": version, "snapshot_date": snap}
    subscribers = table(cfg, "subscribers")
    if not args.no_fairness and table_exists(subscribers):
        with stage(log, "segment_assign.fairness"):
            assigned = read_table(spark, out, partition_filters=[("snapshot_date", "=", snap)])
            views = [
                fairness_view(
                    assigned,
                    read_table(spark, subscribers),
                    snap,
                    level,
                    settings.fairness_min_cell,
                )
                for level in ("macro", "micro")
            ]
            _replace(views[0].unionByName(views[1]), table(cfg, "fairness"), "snapshot_date", snap)
        result["fairness"] = True
    return result


# ---------------------------------------------------------------------- migration


def migration_add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from-date", type=snapshot_date, required=True)
    p.add_argument("--to-date", type=snapshot_date, required=True)


def run_migration(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    """Transition matrices (macro and micro) between two scored snapshots."""
    assigned = read_table(spark, table(cfg, "assignments"))
    matrix = migration_matrix(assigned, args.from_date, args.to_date, "macro").unionByName(
        migration_matrix(assigned, args.from_date, args.to_date, "micro")
    )
    key = f"{args.from_date.isoformat()}_{args.to_date.isoformat()}"
    matrix = matrix.withColumn("pair", F.lit(key))
    version = _replace(matrix, table(cfg, "migration"), "pair", key)
    return {"pair": key, "table_version": version}
