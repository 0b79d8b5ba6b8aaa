"""Evaluation of scored rows (``label``, ``propensity``) with Spark aggregations only.

ROC AUC and PR AUC, lift and capture in the top decile, Brier score, and a decile table
that is both the lift chart and the reliability table (mean predicted vs observed rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from telcoseg.propensity.model import SCORE

_QUANTILE_ERROR = 1e-4


@dataclass(frozen=True)
class Evaluation:
    """Metrics (flat, MLflow-ready) and the decile table rows (top decile first)."""

    metrics: dict[str, float]
    deciles: list[dict[str, Any]]


def score_quantile(df: DataFrame, share: float) -> float:
    """The score above which ``share`` of the rows lie (the operating threshold)."""
    (q,) = df.approxQuantile(SCORE, [1.0 - share], _QUANTILE_ERROR)
    return float(q)


def with_decile(df: DataFrame) -> DataFrame:
    """Add ``decile`` 1 (highest scores) .. 10 from approximate score quantiles."""
    cuts = df.approxQuantile(SCORE, [i / 10 for i in range(9, 0, -1)], _QUANTILE_ERROR)
    expr = F.lit(10)
    # Build from the lowest cut up so the highest matching cut wins.
    for i, cut in reversed(list(enumerate(cuts, start=1))):
        expr = F.when(F.col(SCORE) >= F.lit(cut), F.lit(i)).otherwise(expr)
    return df.withColumn("decile", expr)


def evaluate(scored_df: DataFrame, prefix: str = "") -> Evaluation:
    """All metrics of ``scored_df``; names get ``prefix`` (``test_``, ``validation_``)."""
    evaluator = BinaryClassificationEvaluator(rawPredictionCol=SCORE, labelCol="label")
    roc = evaluator.setMetricName("areaUnderROC").evaluate(scored_df)
    pr = evaluator.setMetricName("areaUnderPR").evaluate(scored_df)
    y = F.col("label").cast("double")
    totals = scored_df.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(y).alias("positives"),
        F.avg((F.col(SCORE) - y) ** 2).alias("brier"),
        F.avg(F.col(SCORE)).alias("mean_score"),
    ).first()
    assert totals is not None
    n, positives = int(totals["n"]), float(totals["positives"] or 0.0)
    base_rate = positives / n if n else 0.0
    by_decile = (
        with_decile(scored_df)
        .groupBy("decile")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.sum(y).alias("positives"),
            F.avg(F.col(SCORE)).alias("mean_predicted"),
            F.min(F.col(SCORE)).alias("min_score"),
            F.max(F.col(SCORE)).alias("max_score"),
        )
        .orderBy("decile")
        .collect()
    )
    deciles: list[dict[str, Any]] = []
    captured = 0.0
    for r in by_decile:
        pos = float(r["positives"] or 0.0)
        captured += pos
        observed = pos / r["n"] if r["n"] else 0.0
        deciles.append(
            {
                "decile": int(r["decile"]),
                "n": int(r["n"]),
                "positives": int(pos),
                "mean_predicted": float(r["mean_predicted"]),
                "observed_rate": observed,
                "min_score": float(r["min_score"]),
                "max_score": float(r["max_score"]),
                "lift": observed / base_rate if base_rate else 0.0,
                "cumulative_capture": captured / positives if positives else 0.0,
            }
        )
    top = deciles[0] if deciles and deciles[0]["decile"] == 1 else None
    metrics = {
        "roc_auc": float(roc),
        "pr_auc": float(pr),
        "brier": float(totals["brier"] or 0.0),
        "base_rate": base_rate,
        "mean_score": float(totals["mean_score"] or 0.0),
        "rows": float(n),
        "lift_top_decile": top["lift"] if top else 0.0,
        "capture_top_decile": top["cumulative_capture"] if top else 0.0,
    }
    return Evaluation(metrics={prefix + k: v for k, v in metrics.items()}, deciles=deciles)
