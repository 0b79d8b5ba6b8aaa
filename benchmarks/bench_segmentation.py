"""Segmentation timing: training and assignment at 100k and 1M subscribers.

Synthetic vectors with planted personas and ~60 features (heavy-tailed counts, shares
with nulls, a plan type). Training = sample + preparation + k selection + fits; assignment
= preparation + macro + micro scoring of everyone, written as Parquet to force the work.
Prints a line per size and writes ``benchmarks/results/segmentation.json``.

``python benchmarks/bench_segmentation.py [--sizes 100000 1000000] [--features 60]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from pyspark.sql import functions as F

from telcoseg.config import SparkSettings
from telcoseg.segmentation.evaluation import adjusted_rand_index
from telcoseg.segmentation.model import assign, train
from telcoseg.segmentation.settings import Settings
from telcoseg.segmentation.stable_ids import match_segments
from telcoseg.segmentation.synthetic import planted_vectors
from telcoseg.session import build_local_session

RESULTS = Path(__file__).resolve().parent / "results" / "segmentation.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--features", type=int, default=60)
    p.add_argument("--driver-memory", default="6g")
    args = p.parse_args()
    spark = build_local_session(
        SparkSettings(app_name="bench-segmentation", driver_memory=args.driver_memory)
    )
    settings = Settings()
    results = []
    for n in args.sizes:
        src = os.path.join(tempfile.mkdtemp(prefix="bench-seg-"), "vectors")
        planted_vectors(spark, n, args.features, seed=1, partitions=8).write.parquet(src)
        df = spark.read.parquet(src)
        t0 = time.perf_counter()
        model = train(df, settings)
        model.with_ids(match_segments(model, [], settings.match_threshold).ids)
        t_train = time.perf_counter() - t0
        out = src + "_assigned"
        t0 = time.perf_counter()
        assign(model, df).write.parquet(out)
        t_assign = time.perf_counter() - t0
        scored = spark.read.parquet(out).join(
            df.select("subscriber_id", "persona"), "subscriber_id", "inner"
        )
        ari = adjusted_rand_index(scored, "macro_segment_id", "persona")
        row = {
            "subscribers": n,
            "features": args.features,
            "train_seconds": round(t_train, 1),
            "assign_seconds": round(t_assign, 1),
            "training_rows": model.info["training_rows"],
            "k_macro": model.info["k_macro"],
            "k_micro_total": len(model.level("micro")),
            "macro_ari_vs_planted": round(ari, 3),
            "assigned_rows": scored.agg(F.count(F.lit(1))).first()[0],
        }
        print(json.dumps(row), flush=True)
        results.append(row)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Spark {spark.version}",
        "load_average_at_end": os.getloadavg(),
        "settings": "defaults (train_sample_size 200k, silhouette on 10k, k_macro 3..10, "
        "k_micro 2..4)",
    }
    RESULTS.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    spark.stop()


if __name__ == "__main__":
    main()
