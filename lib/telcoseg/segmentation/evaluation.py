"""Quality measures: adjusted Rand index against a truth, id retention between models.

Both aggregate in Spark (a contingency table of counts) and finish on the driver with a
table of at most (segments x labels) cells.
"""

from __future__ import annotations

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def _comb2(x: np.ndarray) -> float:
    return float(np.sum(x * (x - 1) / 2.0))


def ari_from_counts(counts: np.ndarray) -> float:
    """Adjusted Rand index (Hubert & Arabie) from a contingency table of counts."""
    counts = np.asarray(counts, dtype=float)
    n = counts.sum()
    if n < 2:
        return 1.0
    index = _comb2(counts)
    rows, cols = _comb2(counts.sum(axis=1)), _comb2(counts.sum(axis=0))
    expected = rows * cols / (n * (n - 1) / 2.0)
    maximum = (rows + cols) / 2.0
    if maximum == expected:  # both partitions trivial
        return 1.0
    return (index - expected) / (maximum - expected)


def contingency(df: DataFrame, predicted: str, truth: str) -> tuple[np.ndarray, list, list]:
    """Counts of (predicted, truth) pairs as a matrix, with its row and column labels."""
    pairs = df.groupBy(predicted, truth).agg(F.count(F.lit(1)).alias("n")).collect()
    rows = sorted({r[predicted] for r in pairs}, key=str)
    cols = sorted({r[truth] for r in pairs}, key=str)
    ri, ci = {v: i for i, v in enumerate(rows)}, {v: i for i, v in enumerate(cols)}
    table = np.zeros((len(rows), len(cols)))
    for r in pairs:
        table[ri[r[predicted]], ci[r[truth]]] = r["n"]
    return table, rows, cols


def adjusted_rand_index(df: DataFrame, predicted: str, truth: str) -> float:
    """ARI of column ``predicted`` against column ``truth`` over the rows of ``df``."""
    table, _, _ = contingency(df, predicted, truth)
    return ari_from_counts(table)


def id_retention(before_df: DataFrame, after_df: DataFrame, column: str) -> float:
    """Share of subscribers present in both whose ``column`` (a segment id) is unchanged."""
    joined = before_df.select("subscriber_id", F.col(column).alias("a")).join(
        after_df.select("subscriber_id", F.col(column).alias("b")), on="subscriber_id", how="inner"
    )
    row = joined.agg(
        F.count(F.lit(1)).alias("n"), F.sum((F.col("a") == F.col("b")).cast("long")).alias("same")
    ).first()
    assert row is not None
    return float(row["same"] or 0) / row["n"] if row["n"] else float("nan")
