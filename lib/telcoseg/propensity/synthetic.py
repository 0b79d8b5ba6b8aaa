"""Synthetic inputs with a planted signal, in the silver/gold schemas, built in Spark.

Used by tests and benchmarks until the generator, ingestion and features exist, and to
size the jobs (``bench_propensity``). The truth (``probability`` per subscriber, snapshot
and outcome) is returned too, so the best achievable AUC can be measured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

# Outcome -> (intercept, weights of f0..f3, weight of the f0*f1 interaction, macro effect).
_OUTCOME_LOGITS: dict[str, tuple[float, tuple[float, float, float, float], float, float]] = {
    "upgrade": (-2.6, (1.2, 0.0, -0.7, 0.0), 0.0, 0.25),
    "add_line": (-3.0, (0.0, 1.1, 0.0, 0.6), 0.5, -0.2),
    "adopt:streaming": (-2.8, (0.8, 0.0, 0.0, -1.0), 0.0, 0.3),
    "adopt:cloud": (-3.2, (0.0, -0.9, 0.8, 0.0), -0.4, 0.0),
}
N_NOISE = 6


@dataclass(frozen=True)
class SyntheticData:
    """Inputs in the contract's shapes plus the generator-style truth."""

    behavior: DataFrame  # subscriber_id, snapshot_date, f0..f3, noise0.., tc_plan_type
    segments: DataFrame  # subscriber_id, snapshot_date, macro_segment_id, micro_segment_id
    subscribers: DataFrame  # subscriber_id, activation_date, number attrs, birth_year, gender
    outcomes: DataFrame  # subscriber_id, event_date, outcome
    truth: DataFrame  # subscriber_id, snapshot_date, outcome, probability, happened


def _u(seed: int, *cols: Column) -> Column:
    """A uniform in [0, 1) from a hash of the columns: reproducible under any partitioning."""
    h = F.xxhash64(F.lit(seed), *cols)
    return (F.pmod(h, F.lit(1_000_003)).cast("double") + 0.5) / F.lit(1_000_003.0)


def _normal(seed: int, *cols: Column) -> Column:
    """A standard normal from two hash uniforms (Box-Muller, built-in functions only)."""
    u1, u2 = _u(seed, *cols), _u(seed + 1, *cols)
    return F.sqrt(-2.0 * F.log(u1)) * F.cos(2.0 * 3.141592653589793 * u2)


def generate(
    spark: SparkSession,
    subscribers: int,
    snapshot_dates: Sequence[dt.date],
    horizon_days: int = 14,
    outcomes: Sequence[str] = tuple(_OUTCOME_LOGITS),
    seed: int = 1,
    partitions: int = 4,
    biased_outcome: str | None = None,
) -> SyntheticData:
    """Generate ``subscribers`` lines observed at every snapshot.

    ``biased_outcome``: make that outcome depend on gender through feature ``f3`` (a proxy),
    so a model trained on it selects one gender far more often (for audit tests).
    """
    ids = spark.range(0, subscribers, numPartitions=partitions).withColumnRenamed("id", "n")
    sid = F.sha2(F.concat(F.lit(f"syn{seed}-"), F.col("n").cast("string")), 256)
    people = ids.select(
        "n",
        sid.alias("subscriber_id"),
        F.when(_u(seed + 10, F.col("n")) < 0.5, "f").otherwise("m").alias("gender"),
        (F.lit(1950) + F.floor(_u(seed + 11, F.col("n")) * 56)).cast("int").alias("birth_year"),
        *[_normal(seed + 20 + 2 * k, F.col("n")).alias(f"z{k}") for k in range(4)],
    )
    if biased_outcome:
        # The proxy: f3's latent is shifted by gender.
        people = people.withColumn(
            "z3", F.col("z3") + F.when(F.col("gender") == "f", 1.5).otherwise(-1.5)
        )
    subs = people.select(
        "subscriber_id",
        F.date_sub(F.lit(min(snapshot_dates)), (_u(seed + 12, F.col("n")) * 900).cast("int")).alias(
            "activation_date"
        ),
        F.when(_u(seed + 13, F.col("n")) < 0.95, "GB").otherwise("FR").alias("country_iso"),
        F.lit("mobile").alias("number_type"),
        F.element_at(
            F.array(F.lit("Alpha"), F.lit("Beta"), F.lit("Gamma")),
            (F.floor(_u(seed + 14, F.col("n")) * 3) + 1).cast("int"),
        ).alias("carrier"),
        "birth_year",
        "gender",
    )
    snaps = spark.createDataFrame([(d,) for d in snapshot_dates], "snapshot_date date")
    panel = people.crossJoin(F.broadcast(snaps))
    key = (F.col("n"), F.col("snapshot_date").cast("string"))
    # Observed features: the latent trait plus a little snapshot noise.
    feats = [
        (F.col(f"z{k}") + 0.15 * _normal(seed + 40 + 2 * k, *key)).alias(f"f{k}") for k in range(4)
    ]
    noise = [_normal(seed + 60 + 2 * k, *key).alias(f"noise{k}") for k in range(N_NOISE)]
    vec = panel.select(
        "n",
        "subscriber_id",
        "snapshot_date",
        *feats,
        *noise,
        F.when(F.col("z0") > 0.5, "postpaid").otherwise("prepaid").alias("tc_plan_type"),
        F.when(F.col("z1") > 0, 1).otherwise(0).alias("macro_segment_id"),
        (F.pmod(F.floor((F.col("z2") + 3) * 2), F.lit(8))).cast("int").alias("micro_segment_id"),
    ).cache()
    truth_parts = []
    for outcome in outcomes:
        a, (w0, w1, w2, w3), inter, macro = _OUTCOME_LOGITS.get(outcome, _OUTCOME_LOGITS["upgrade"])
        if outcome == biased_outcome:
            w3 = 1.5
        logit = (
            F.lit(a)
            + w0 * F.col("f0")
            + w1 * F.col("f1")
            + w2 * F.col("f2")
            + w3 * F.col("f3")
            + inter * F.col("f0") * F.col("f1")
            + macro * F.col("macro_segment_id")
        )
        p = F.lit(1.0) / (F.lit(1.0) + F.exp(-logit))
        okey = (F.col("n"), F.col("snapshot_date").cast("string"), F.lit(outcome))
        truth_parts.append(
            vec.select(
                "subscriber_id",
                "snapshot_date",
                F.lit(outcome).alias("outcome"),
                p.alias("probability"),
                (_u(seed + 80, *okey) < p).alias("happened"),
                (F.floor(_u(seed + 81, *okey) * horizon_days) + 1).cast("int").alias("offset"),
            )
        )
    truth = truth_parts[0]
    for part in truth_parts[1:]:
        truth = truth.unionByName(part)
    events = truth.where(F.col("happened")).select(
        "subscriber_id",
        F.date_add(F.col("snapshot_date"), F.col("offset")).alias("event_date"),
        "outcome",
    )
    return SyntheticData(
        behavior=vec.select(
            "subscriber_id",
            "snapshot_date",
            *[f"f{k}" for k in range(4)],
            *[f"noise{k}" for k in range(N_NOISE)],
            "tc_plan_type",
        ),
        segments=vec.select(
            "subscriber_id", "snapshot_date", "macro_segment_id", "micro_segment_id"
        ),
        subscribers=subs,
        outcomes=events,
        truth=truth.drop("offset"),
    )
