"""Segmentation quality on the real pipeline's output against the generator's truth.

1. Trains on the vectors of one snapshot and prints the adjusted Rand index of macro and
   micro segments against the planted persona (all subscribers, and without the planted
   SIM boxes / call centres).
2. Id stability: trains on a random half A, retrains on the other half B with A's
   registry, scores everyone with both and prints the share that keeps its segment id.

Truth rows are keyed by E.164 msisdn; subscriber_id = hex HMAC-SHA256(key, msisdn) with the
key from ``$TELCOSEG_HMAC_KEY`` (the truth table is small, so the hash runs on the driver).
On synthetic vectors (``--synthetic N``) the planted persona column is used instead.

``python benchmarks/segmentation_quality.py --vectors data/lake/gold/behavior_vectors
--truth data/truth [--snapshot-date 2026-03-29] [--conf FILE]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from telcoseg.config import load_config
from telcoseg.io.delta import read_table
from telcoseg.segmentation.evaluation import adjusted_rand_index, id_retention
from telcoseg.segmentation.model import assign, train
from telcoseg.segmentation.settings import Settings
from telcoseg.segmentation.stable_ids import match_segments, updated_registry
from telcoseg.segmentation.synthetic import planted_vectors
from telcoseg.session import get_spark

RESULTS = Path(__file__).resolve().parent / "results" / "segmentation_quality.json"


def truth_personas(spark: SparkSession, truth_dir: str) -> DataFrame:
    """``subscriber_id, persona, is_planted_fraud`` from the truth folder."""
    key = os.environ.get("TELCOSEG_HMAC_KEY")
    if not key:
        sys.exit("TELCOSEG_HMAC_KEY is not set: it is needed to link truth msisdns to ids")
    rows = (
        spark.read.parquet(os.path.join(truth_dir, "subscribers"))
        .select("msisdn", "persona", "is_simbox", "is_call_center")
        .collect()
    )
    hashed = [
        (
            hmac.new(key.encode(), r["msisdn"].encode(), hashlib.sha256).hexdigest(),
            r["persona"],
            bool(r["is_simbox"]) or bool(r["is_call_center"]),
        )
        for r in rows
    ]
    return spark.createDataFrame(hashed, "subscriber_id string, persona string, is_fraud boolean")


def evaluate(vectors_df: DataFrame, truth_df: DataFrame, settings: Settings) -> dict:
    model = train(vectors_df, settings)
    model.with_ids(match_segments(model, [], settings.match_threshold).ids)
    scored = assign(model, vectors_df).join(truth_df, on="subscriber_id", how="inner").persist()
    regular = scored.filter(~F.col("is_fraud"))
    out = {
        "subscribers_scored": scored.count(),
        "k_macro": model.info["k_macro"],
        "k_micro_total": len(model.level("micro")),
        "macro_silhouette_by_k": model.info.get("macro_silhouette_by_k"),
        "ari_macro": adjusted_rand_index(scored, "macro_segment_id", "persona"),
        "ari_micro": adjusted_rand_index(scored, "micro_segment_id", "persona"),
        "ari_macro_regular_personas": adjusted_rand_index(regular, "macro_segment_id", "persona"),
    }
    # Id stability: two disjoint halves of the population.
    half_a = vectors_df.filter(F.xxhash64("subscriber_id") % 2 == 0)
    half_b = vectors_df.filter(F.xxhash64("subscriber_id") % 2 != 0)
    model_a = train(half_a, settings)
    ids_a = match_segments(model_a, [], settings.match_threshold)
    model_a.with_ids(ids_a.ids)
    registry = updated_registry([], model_a, ids_a, 1)
    model_b = train(half_b, settings)
    ids_b = match_segments(model_b, registry, settings.match_threshold)
    model_b.with_ids(ids_b.ids)
    a, b = assign(model_a, vectors_df), assign(model_b, vectors_df)
    out.update(
        retrain_ids=ids_b.summary(),
        id_retention_macro=id_retention(a, b, "macro_segment_id"),
        id_retention_micro=id_retention(a, b, "micro_segment_id"),
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vectors", help="gold behavior_vectors table")
    p.add_argument("--truth", help="generator truth folder")
    p.add_argument("--snapshot-date", type=dt.date.fromisoformat)
    p.add_argument("--synthetic", type=int, default=0, help="use N synthetic rows instead")
    p.add_argument("--conf")
    p.add_argument("--set", action="append", default=[])
    args = p.parse_args()
    cfg = load_config(args.conf, args.set)
    spark = get_spark(cfg.spark)
    settings: Settings = cfg.section("segmentation")
    if args.synthetic:
        vectors = planted_vectors(spark, args.synthetic, 40, seed=1).persist()
        truth = vectors.select("subscriber_id", "persona", F.lit(False).alias("is_fraud"))
        vectors = vectors.drop("persona")
    else:
        if not (args.vectors and args.truth):
            p.error("--vectors and --truth are required (or --synthetic N)")
        vectors = read_table(spark, args.vectors)
        snap = args.snapshot_date or vectors.agg(F.max("snapshot_date")).first()[0]
        vectors = vectors.filter(F.col("snapshot_date") == F.lit(snap)).persist()
        truth = truth_personas(spark, args.truth)
    result = evaluate(vectors, truth, settings)
    result["data"] = f"synthetic {args.synthetic}" if args.synthetic else args.vectors
    result["targets"] = {"ari_macro": 0.8, "id_retention": 0.9}
    result["load_average_1m_at_end"] = round(os.getloadavg()[0], 1)
    print(json.dumps(result, indent=1, default=str))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
