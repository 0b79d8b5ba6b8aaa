"""Marketing campaigns with randomized arms and a true effect that differs by persona."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyspark.sql.functions as F
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from telcoseg.generator import hashrand as hr
from telcoseg.generator.literals import lookup
from telcoseg.generator.personas import PERSONAS, persona_index
from telcoseg.generator.settings import Settings


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    offer: str
    channel: str
    days_before_end: int
    baseline: float  # conversion without treatment (all personas)
    effect: dict[str, float]  # absolute lift by persona; missing = 0


CAMPAIGNS = (
    Campaign(
        "CMP-2026-01",
        "streaming_bundle_trial",
        "app",
        20,
        0.03,
        {"night_streamer": 0.10, "homebody": 0.04, "social_texter": 0.05, "gig_driver": 0.02},
    ),
    Campaign(
        "CMP-2026-02",
        "international_minutes_pack",
        "sms",
        14,
        0.02,
        {"diaspora_international": 0.12, "business_commuter": 0.01},
    ),
    Campaign(
        "CMP-2026-03",
        "data_boost_50pct",
        "email",
        8,
        0.04,
        {
            "night_streamer": 0.06,
            "social_texter": 0.06,
            "business_commuter": 0.03,
            "homebody": 0.01,
        },
    ),
)


def _sent_date(c: Campaign, s: Settings) -> dt.date:
    return max(s.start_date, s.end_date - dt.timedelta(days=c.days_before_end))


def campaign_rows(pop: DataFrame, s: Settings) -> DataFrame:
    """Targeted regular subscribers per campaign with arm and conversion (typed)."""
    seed = s.seed
    regular = pop.filter(~F.col("is_simbox") & ~F.col("is_call_center"))
    rows = []
    for ci, c in enumerate(CAMPAIGNS):
        effects = [c.effect.get(p.name, 0.0) for p in PERSONAS]
        key = (F.col("sub_id"), F.lit(ci))
        treated = hr.uniform(seed, "arm", *key) < s.treatment_share
        p_conv = c.baseline + F.when(
            treated, lookup(effects, "double", F.col("persona_idx"))
        ).otherwise(0.0)
        converted = hr.uniform(seed, "convert", *key) < p_conv
        sent = _sent_date(c, s)
        rows.append(
            regular.filter(hr.uniform(seed, "target", *key) < s.campaign_target_share).select(
                "sub_id",
                "msisdn",
                "persona",
                F.lit(ci).alias("ci"),
                F.lit(c.campaign_id).alias("campaign_id"),
                F.lit(c.offer).alias("offer"),
                F.lit(c.channel).alias("channel"),
                F.lit(sent).alias("sent_date"),
                F.when(treated, "treatment").otherwise("control").alias("arm"),
                converted.alias("converted"),
                F.when(
                    converted,
                    F.date_add(F.lit(sent), (1 + hr.below(seed, "conv-day", 14, *key)).cast("int")),
                ).alias("converted_date"),
            )
        )
    out = rows[0]
    for r in rows[1:]:
        out = out.unionByName(r)
    return out


def effects_truth(spark: SparkSession) -> DataFrame:
    """True baseline and absolute lift per campaign and persona."""
    data = [
        (c.campaign_id, c.offer, p.name, c.baseline, c.effect.get(p.name, 0.0))
        for c in CAMPAIGNS
        for p in PERSONAS
        if p.name not in ("simbox", "call_center")
    ]
    schema = T.StructType(
        [
            T.StructField("campaign_id", T.StringType()),
            T.StructField("offer", T.StringType()),
            T.StructField("persona", T.StringType()),
            T.StructField("baseline", T.DoubleType()),
            T.StructField("effect", T.DoubleType()),
        ]
    )
    return spark.createDataFrame(data, schema)


__all__ = ["CAMPAIGNS", "campaign_rows", "effects_truth", "persona_index"]
