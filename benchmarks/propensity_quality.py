"""Out-of-time ROC AUC of each propensity model beside the best achievable AUC.

The best achievable AUC is the AUC of the generator's true probabilities on the same test
rows and labels: no model can rank better in expectation. Target: model within 0.03.

* Real pipeline output (when gold ``behavior_vectors`` and the generator's truth
  ``<truth>/outcome_probabilities`` exist): trains on those tables; truth rows are matched
  by subscriber_id = HMAC-SHA256(TELCOSEG_HMAC_KEY, E.164 msisdn).
* Otherwise (or with ``--synthetic``): synthetic data with a planted signal
  (``telcoseg.propensity.synthetic``), and the output says so.

MLflow runs go to a temporary store so the project's champions are not touched.

    .venv/bin/python benchmarks/propensity_quality.py [--synthetic] [--subscribers 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from sklearn.metrics import roc_auc_score

from telcoseg.config import Config, SparkSettings, load_config
from telcoseg.io.delta import table_exists
from telcoseg.logs import configure_logging
from telcoseg.propensity import synthetic
from telcoseg.propensity.jobs import read_inputs
from telcoseg.propensity.settings import SearchSettings, Settings
from telcoseg.propensity.train import PropensityInputs, train_outcome
from telcoseg.session import build_local_session
from telcoseg.tracking import configure

RESULTS = Path(__file__).resolve().parent / "results" / "propensity_quality.json"
TARGET_GAP = 0.03


def subscriber_id(msisdn: str, key: bytes) -> str:
    """The pseudonym ingestion gives an E.164 number (evaluation only, on the driver)."""
    return hmac.new(key, msisdn.encode("utf-8"), hashlib.sha256).hexdigest()


def real_inputs(
    spark: SparkSession, cfg: Config, settings: Settings
) -> tuple[PropensityInputs, DataFrame] | None:
    """Pipeline tables and the truth keyed by subscriber_id, or None when absent."""
    truth_path = os.path.join(cfg.paths.truth, "outcome_probabilities")
    if not (
        table_exists(cfg.paths.table("gold", "behavior_vectors")) and os.path.exists(truth_path)
    ):
        return None
    key = os.environ.get("TELCOSEG_HMAC_KEY")
    if not key:
        sys.exit("TELCOSEG_HMAC_KEY is not set: cannot match the truth to subscriber_ids")
    truth_pdf = pd.read_parquet(truth_path)
    truth_pdf["subscriber_id"] = [subscriber_id(m, key.encode()) for m in truth_pdf["msisdn"]]
    truth_pdf["snapshot_date"] = pd.to_datetime(truth_pdf["snapshot_date"]).dt.date
    truth = spark.createDataFrame(
        truth_pdf[["subscriber_id", "snapshot_date", "outcome", "probability", "happened"]]
    )
    return read_inputs(spark, cfg, settings), truth


def evaluate_outcome(report_scores: DataFrame, truth: DataFrame, outcome: str) -> dict[str, Any]:
    """Model AUC and best AUC on the same test rows (labels from the training set)."""
    joined = report_scores.join(
        truth.where(F.col("outcome") == outcome).select(
            "subscriber_id", "snapshot_date", "probability", "happened"
        ),
        on=["subscriber_id", "snapshot_date"],
        how="inner",
    ).toPandas()
    model_auc = roc_auc_score(joined["label"], joined["propensity"])
    best_auc = roc_auc_score(joined["label"], joined["probability"])
    return {
        "rows": len(joined),
        "rows_scored": report_scores.count(),
        "positives": int(joined["label"].sum()),
        "label_matches_truth": float((joined["label"] == joined["happened"].astype(int)).mean()),
        "model_auc": round(float(model_auc), 4),
        "best_auc": round(float(best_auc), 4),
        "gap": round(float(best_auc - model_auc), 4),
        "within_target": bool(best_auc - model_auc <= TARGET_GAP),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--conf")
    p.add_argument("--synthetic", action="store_true", help="ignore pipeline output")
    p.add_argument("--subscribers", type=int, default=20_000, help="synthetic size")
    p.add_argument("--quick", action="store_true", help="one grid point (depth 4, 40 trees)")
    args = p.parse_args()
    configure_logging("WARNING")
    cfg = load_config(args.conf)
    settings: Settings = cfg.section("propensity")
    if args.quick:
        settings = Settings(
            **{
                **settings.__dict__,
                "search": SearchSettings(max_depth=(4,), max_iter=(40,), refit=True),
            }
        )
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = build_local_session(
        SparkSettings(master="local[2]", driver_memory="4g", shuffle_partitions=4)
    )
    real = None if args.synthetic else real_inputs(spark, cfg, settings)
    if real is not None:
        inputs, truth = real
        dates = sorted(r[0] for r in truth.select("snapshot_date").distinct().collect())
        source = "pipeline output (generator -> ingest -> features)"
    else:
        dates = [dt.date(2026, 1, 1) + dt.timedelta(days=14 * i) for i in range(4)]
        data = synthetic.generate(
            spark, args.subscribers, dates, settings.horizon_days, settings.outcomes, seed=11
        )
        inputs = PropensityInputs(data.behavior, data.subscribers, data.outcomes, data.segments)
        truth = data.truth.cache()
        source = f"SYNTHETIC data ({args.subscribers} subscribers, planted signal)"
    print(f"source: {source}; snapshots {[d.isoformat() for d in dates]}", flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="propensity-quality-") as root:
        configure(f"sqlite:///{root}/mlflow.db", f"{root}/artifacts", settings.experiment)
        for outcome in settings.outcomes:
            report = train_outcome(inputs, outcome, dates, settings, keep_frames=True)
            assert report.test_scores is not None
            r = evaluate_outcome(report.test_scores, truth, outcome)
            r["audit_passed"] = report.audit_passed
            r["audit_failures"] = list(report.audit_failures)
            r["params"] = report.params
            results[outcome] = r
            print(
                f"{outcome:<18} model AUC {r['model_auc']:.4f}  best AUC {r['best_auc']:.4f}  "
                f"gap {r['gap']:+.4f}  {'OK' if r['within_target'] else 'MISSED'}  "
                f"(test rows {r['rows']}, positives {r['positives']}, "
                f"audit {'passed' if r['audit_passed'] else 'failed'})",
                flush=True,
            )
            # Written after every outcome: a long run that dies still leaves its results.
            RESULTS.write_text(
                json.dumps(
                    {
                        "source": source,
                        "snapshots": [d.isoformat() for d in dates],
                        "target_gap": TARGET_GAP,
                        "grid": settings.search.grid(),
                        "outcomes": results,
                    },
                    indent=2,
                    default=str,
                )
                + "\n"
            )
    spark.stop()


if __name__ == "__main__":
    main()
