"""The privacy-budget ledger: one Delta row per release; a release past the budget is refused.

Semantics: the budget is a lifetime total of epsilon over every release in the ledger
(basic sequential composition: the subscribers are the same from one snapshot to the
next). :func:`reserve` checks the whole batch of a run before anything is published,
raises :class:`PrivacyBudgetExceeded` if it does not fit, and otherwise records the
spend first (a release that later fails to publish stays spent, which errs on the safe
side). A concurrent run that over-spends between check and append is caught by reading
the ledger back; it then refuses too, and its rows stay recorded as spent.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.errors import PrivacyBudgetExceeded
from telcoseg.io.delta import read_table, table_exists, write_table

log = logging.getLogger(__name__)

LEDGER_SCHEMA = T.StructType(
    [
        T.StructField("release_id", T.StringType(), False),
        T.StructField("table", T.StringType(), False),
        T.StructField("snapshot_date", T.DateType(), False),
        T.StructField("mechanism", T.StringType(), False),
        T.StructField("epsilon", T.DoubleType(), False),
        T.StructField("delta", T.DoubleType(), False),
        T.StructField("released_at", T.TimestampType(), False),
        T.StructField("total_spent", T.DoubleType(), False),  # lifetime epsilon after this row
        T.StructField("budget", T.DoubleType(), False),
    ]
)
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ReleaseRequest:
    """One table release a run wants to make."""

    table: str
    epsilon: float
    delta: float = 0.0
    mechanism: str = "laplace"


def spent(spark: SparkSession, path: str) -> float:
    """Lifetime epsilon recorded in the ledger (0 when it does not exist yet)."""
    if not table_exists(path):
        return 0.0
    row = read_table(spark, path).agg(F.sum("epsilon").alias("e")).collect()[0]
    return float(row["e"] or 0.0)


def released_tables(spark: SparkSession, path: str, snapshot: dt.date) -> set[str]:
    """Tables already released for ``snapshot``."""
    if not table_exists(path):
        return set()
    rows = read_table(spark, path).where(F.col("snapshot_date") == F.lit(snapshot)).collect()
    return {r["table"] for r in rows}


def reserve(
    spark: SparkSession,
    path: str,
    requests: Sequence[ReleaseRequest],
    snapshot: dt.date,
    budget: float,
) -> list[str]:
    """Record ``requests`` as spent, or raise :class:`PrivacyBudgetExceeded` recording nothing.

    Returns the release ids in the order of ``requests``.
    """
    if not requests:
        return []
    before = spent(spark, path)
    wanted = sum(r.epsilon for r in requests)
    if before + wanted > budget + _TOLERANCE:
        raise PrivacyBudgetExceeded(
            f"privacy budget exceeded: ledger {path} has spent epsilon {before:.4g} of "
            f"{budget:.4g}; releasing {[r.table for r in requests]} for {snapshot} needs "
            f"{wanted:.4g} more. Nothing was published."
        )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ids = [f"{snapshot.isoformat()}/{r.table}/{uuid.uuid4().hex[:12]}" for r in requests]
    rows, total = [], before
    for rid, r in zip(ids, requests, strict=True):
        total += r.epsilon
        rows.append((rid, r.table, snapshot, r.mechanism, r.epsilon, r.delta, now, total, budget))
    df = spark.createDataFrame(rows, LEDGER_SCHEMA)
    write_table(df, path, mode="append", commit_info={"releases": ids})
    after = spent(spark, path)
    if after > budget + _TOLERANCE:
        raise PrivacyBudgetExceeded(
            f"privacy budget exceeded by a concurrent release: ledger {path} now records "
            f"epsilon {after:.4g} > budget {budget:.4g}. Nothing of this run was published."
        )
    log.info(
        "privacy ledger: %d release(s), epsilon %.4g, lifetime %.4g of %.4g",
        len(ids),
        wanted,
        after,
        budget,
    )
    return ids
