"""Training and scoring time of one propensity model at 100k and 1M synthetic subscribers.

Not part of the test run. Each size: 3 snapshots 14 days apart (train, validation, test),
one outcome, one grid point (depth 4, 20 trees), the whole train_outcome path (training
set, fit, evaluation, audit, MLflow logging and registration), then scoring the last
snapshot with the champion loaded by alias and writing it to a Delta table.

    .venv/bin/python benchmarks/bench_propensity.py [--sizes 100000,1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from pyspark.sql import SparkSession

from telcoseg.config import SparkSettings
from telcoseg.io.delta import write_table
from telcoseg.logs import configure_logging
from telcoseg.propensity import synthetic
from telcoseg.propensity.dataset import build_scoring_set
from telcoseg.propensity.registry import load_champion
from telcoseg.propensity.scoring import score
from telcoseg.propensity.settings import FairnessSettings, SearchSettings, Settings
from telcoseg.propensity.train import PropensityInputs, feature_sources, train_outcome
from telcoseg.session import build_local_session
from telcoseg.tracking import configure

RESULTS = Path(__file__).resolve().parent / "results" / "propensity.json"
DATES = [dt.date(2026, 1, 1), dt.date(2026, 1, 15), dt.date(2026, 1, 29)]


def run_size(spark: SparkSession, n: int, root: str) -> dict[str, float]:
    """Time training and scoring at ``n`` subscribers."""
    settings = Settings(
        outcomes=("upgrade",),
        model_prefix=f"bench{n}",
        search=SearchSettings(max_depth=(4,), max_iter=(20,), refit=False),
        fairness=FairnessSettings(),
    )
    configure(f"sqlite:///{root}/mlflow.db", f"{root}/artifacts", "bench")
    partitions = max(4, n // 100_000)
    data = synthetic.generate(spark, n, DATES, outcomes=("upgrade",), partitions=partitions)
    # Materialize the inputs so that the timings are of the propensity code, not generation.
    behavior = data.behavior.cache()
    segments = data.segments.cache()
    subscribers = data.subscribers.cache()
    outcomes = data.outcomes.cache()
    rows = behavior.count() + segments.count() + subscribers.count() + outcomes.count()
    inputs = PropensityInputs(behavior, subscribers, outcomes, segments)
    t0 = time.perf_counter()
    report = train_outcome(inputs, "upgrade", DATES, settings)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model, version = load_champion(report.model_name) if report.decision.promote else (None, 0)
    if model is None:  # audit blocked the promotion: score with the logged version instead
        import mlflow.spark

        model = mlflow.spark.load_model(f"models:/{report.model_name}/{report.version}")
        version = report.version
    sources = feature_sources(inputs, [DATES[-1]], settings)
    scoring = build_scoring_set(sources, outcomes, "upgrade", DATES[-1], settings)
    scored = score(model, scoring, "upgrade", report.model_name, version, dt.datetime(2026, 2, 1))
    write_table(
        scored, f"{root}/propensity_scores", mode="overwrite", partition_by=["snapshot_date"]
    )
    score_s = time.perf_counter() - t0
    for df in (behavior, segments, subscribers, outcomes):
        df.unpersist()
    return {
        "subscribers": n,
        "input_rows": rows,
        "train_rows": report.metrics["validation_rows"] + report.metrics["test_rows"],
        "train_seconds": round(train_s, 1),
        "score_seconds": round(score_s, 1),
        "test_roc_auc": round(report.metrics["test_roc_auc"], 4),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="100000,1000000")
    p.add_argument("--driver-memory", default="6g")
    args = p.parse_args()
    configure_logging("WARNING")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = build_local_session(
        SparkSettings(master="local[2]", driver_memory=args.driver_memory, shuffle_partitions=8)
    )
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-propensity-") as root:
            r = run_size(spark, n, root)
        print(
            f"{r['subscribers']:>9,} subscribers: train {r['train_seconds']:7.1f}s  "
            f"score {r['score_seconds']:6.1f}s  (test ROC AUC {r['test_roc_auc']})",
            flush=True,
        )
        results.append(r)
        RESULTS.write_text(
            json.dumps(
                {
                    "machine": f"{platform.machine()} {os.cpu_count()} cpu, local[2]",
                    "load_average_at_end": os.getloadavg()[0],
                    "model": "GBT depth 4, 20 trees, 1 grid point, 3 snapshots",
                    "results": results,
                },
                indent=2,
            )
            + "\n"
        )
    spark.stop()


if __name__ == "__main__":
    main()
