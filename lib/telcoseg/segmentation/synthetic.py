"""Synthetic behavior vectors with planted personas, for tests and benchmarks.

Column names and kinds mimic the gold ``behavior_vectors`` table (heavy-tailed counts and
volumes, shares in [0, 1] with some nulls, a plan type). Persona centers come from
``population_seed`` only, so two samples with different ``seed`` are two draws of the
same population; ``new_persona`` plants one more persona the others have never seen.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

PERSONAS = (
    "night_streamer",
    "business_commuter",
    "homebody",
    "social_texter",
    "diaspora_international",
    "senior_voice",
)
NEW_PERSONA = "gig_driver"

# (name, kind): "count" = log-normal, "share" = logistic-normal in [0, 1].
NAMED = (
    ("bc_active_days__allweek__allday__callandtext__mean", "count"),
    ("bc_number_of_contacts__allweek__allday__call__mean", "count"),
    ("bc_number_of_contacts__allweek__allday__text__mean", "count"),
    ("bc_call_duration__allweek__allday__call__mean__mean", "count"),
    ("bc_percent_nocturnal__allweek__allday__call__mean", "share"),
    ("bc_percent_nocturnal__allweek__allday__text__mean", "share"),
    ("bc_number_of_interactions__allweek__allday__call__mean", "count"),
    ("bc_number_of_interactions__allweek__allday__text__mean", "count"),
    ("bc_radius_of_gyration__allweek__allday__mean", "count"),
    ("bc_number_of_antennas__allweek__allday__mean", "count"),
    ("bc_percent_at_home__allweek__allday__mean", "share"),
    ("bc_entropy_of_contacts__allweek__allday__call__mean", "count"),
    ("bc_churn_rate__mean", "share"),
    ("tc_data_bytes_down", "count"),
    ("tc_data_sessions", "count"),
    ("tc_data_night_share", "share"),
    ("tc_roaming_share", "share"),
    ("tc_international_call_share", "share"),
    ("tc_spend", "count"),
    ("tc_tenure_days", "count"),
    ("tc_monthly_fee", "count"),
    ("tc_app_share_video", "share"),
    ("tc_app_share_social", "share"),
    ("tc_app_share_music", "share"),
    ("tc_app_share_gaming", "share"),
    ("tc_app_share_messaging", "share"),
    ("tc_app_share_navigation", "share"),
)


def feature_specs(n_features: int) -> list[tuple[str, str]]:
    """``n_features`` (name, kind) pairs: the named ones first, then numbered fillers."""
    specs = list(NAMED[:n_features])
    for i in range(len(specs), n_features):
        specs.append((f"tc_synthetic_{i:03d}", "count" if i % 2 else "share"))
    return specs


def persona_centers(
    n_features: int, population_seed: int = 11, separation: float = 2.0
) -> dict[str, np.ndarray]:
    """Latent center per persona: each differs from the population on ~half of the features."""
    rng = np.random.default_rng(population_seed)
    names = (*PERSONAS, NEW_PERSONA)
    centers = {}
    for name in names:
        # The newcomer differs on most features: it must be a new segment, not a variant.
        informative = rng.random(n_features) < (0.8 if name == NEW_PERSONA else 0.5)
        centers[name] = np.where(informative, rng.normal(0.0, separation, n_features), 0.0)
    return centers


def _pick(values: list[float], index: Column) -> Column:
    return F.element_at(F.array(*[F.lit(float(v)) for v in values]), index + 1)


def planted_vectors(
    spark: SparkSession,
    n: int,
    n_features: int = 30,
    seed: int = 1,
    population_seed: int = 11,
    new_persona: bool = False,
    snapshot_date: dt.date = dt.date(2026, 3, 29),
    partitions: int = 4,
    null_share: float = 0.02,
    id_offset: int = 0,
) -> DataFrame:
    """``subscriber_id, snapshot_date, persona, tc_plan_type, <features>``.

    Personas have weights 1..6 shuffled (unequal sizes); with ``new_persona`` a seventh
    takes 12%. Subscriber ids are ``s<number>`` from ``id_offset``.
    """
    specs = feature_specs(n_features)
    centers = persona_centers(n_features, population_seed)
    names = list(PERSONAS) + ([NEW_PERSONA] if new_persona else [])
    weights = np.array([0.20, 0.18, 0.17, 0.17, 0.15, 0.13])
    if new_persona:
        weights = np.append(weights * 0.88, 0.12)
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    # One uniform draw per row, materialized as a column first: each occurrence of
    # F.rand() in a CASE chain is its own generator, advanced only when its branch is
    # evaluated, so inlining it would make the later personas far rarer than planned.
    u = F.col("u")
    persona_idx = F.lit(len(names) - 1)
    for i in reversed(range(len(names) - 1)):
        persona_idx = F.when(u < float(cdf[i]), F.lit(i)).otherwise(persona_idx)
    base = (
        spark.range(id_offset, id_offset + n, 1, partitions)
        .select("id", F.rand(seed).alias("u"))
        .select(
            F.format_string("s%09d", F.col("id")).alias("subscriber_id"),
            persona_idx.alias("p"),
        )
    )
    cols = []
    for j, (name, kind) in enumerate(specs):
        mu = _pick([float(centers[p][j]) for p in names], F.col("p"))
        latent = mu + F.randn(seed * 1000 + j) * F.lit(0.6)
        if kind == "count":
            value = F.round(F.exp(F.lit(2.0) + latent * F.lit(1.2)), 3)
        else:
            value = 1.0 / (1.0 + F.exp(-latent))
            value = F.when(F.rand(seed * 2000 + j) < null_share, F.lit(None)).otherwise(value)
        cols.append(value.cast("double").alias(name))
    prepaid = _pick([1.0 / (1.0 + np.exp(-2.0 * centers[p][0])) for p in names], F.col("p"))
    plan = F.when(F.rand(seed * 3000 + 1) < prepaid, F.lit("prepaid")).otherwise("postpaid")
    return base.select(
        "subscriber_id",
        F.lit(snapshot_date).alias("snapshot_date"),
        _pick(list(range(len(names))), F.col("p")).cast("int").alias("persona_idx"),
        F.element_at(F.array(*[F.lit(n) for n in names]), F.col("p") + 1).alias("persona"),
        plan.alias("tc_plan_type"),
        *cols,
    ).drop("persona_idx")
