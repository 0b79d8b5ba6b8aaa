"""Product outcomes and their true probabilities.

For a snapshot date T the probability of each outcome in (T, T + horizon] is a logistic
function of the persona and of traits that show in the data (data volume, device age via
the TAC, lines on the account, tenure, plan type, activity), plus a small hidden part.
Whether it happened is a draw with that probability, so a model can be compared with the
best achievable AUC. Snapshot windows must not overlap (checked), so each window's draw
is the only source of events in it.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pyspark.sql.functions as F
from pyspark.sql import Column, DataFrame, SparkSession

from telcoseg.generator import hashrand as hr
from telcoseg.generator.settings import Settings

OUTCOMES = ("upgrade", "add_line", "adopt:streaming_bundle", "adopt:cloud_storage")


def check_snapshots(s: Settings) -> None:
    snaps = s.snapshots
    for a, b in itertools.pairwise(snaps):
        if (b - a).days < s.horizon_days:
            raise ValueError(
                f"generator.snapshot_dates {a} and {b} are closer than horizon_days="
                f"{s.horizon_days}: their outcome windows would overlap"
            )


def _logits(age_m: Column, tenure_y: Column) -> list[Column]:
    """Logit of each outcome in OUTCOMES (persona bias added by the caller)."""
    log_data = F.log(F.col("data_intensity"))
    log_act = F.log(F.col("activity"))
    postpaid = (F.col("plan_type") == "postpaid").cast("double")
    multi_line = (F.col("lines_on_account") > 1).cast("double")
    new_device = (age_m < 12).cast("double")
    return [
        -3.0 + 0.07 * (age_m - 24.0) + 0.5 * log_data + 0.3 * postpaid,
        -3.6 + 1.8 * multi_line + 0.8 * log_act + 0.2 * F.least(tenure_y, F.lit(5.0)),
        -3.1 + 1.5 * log_data,
        -3.5 + 0.5 * log_data + 0.8 * new_device + 0.5 * postpaid + 0.4 * log_act,
    ]


def outcome_truth(pop: DataFrame, s: Settings) -> DataFrame:
    """Per subscriber, snapshot and outcome: probability, happened, event_date."""
    check_snapshots(s)
    spark: SparkSession = pop.sparkSession
    seed = s.seed
    snaps = spark.createDataFrame([(d,) for d in s.snapshots], "snapshot_date date")
    df = pop.crossJoin(F.broadcast(snaps))
    months_before_end = F.datediff(F.lit(s.end_date), F.col("snapshot_date")) / 30.44
    age_m = F.greatest(F.lit(0.0), F.col("device_age_months") - months_before_end)
    tenure_y = (
        F.col("tenure_days") - F.datediff(F.lit(s.end_date), F.col("snapshot_date"))
    ) / 365.25
    logits = _logits(age_m, tenure_y)
    per_outcome = F.array(
        *[
            F.struct(
                F.lit(i).alias("oi"),
                F.lit(name).alias("outcome"),
                (logit + F.element_at(F.col("outcome_bias"), i + 1)).alias("logit"),
            )
            for i, (name, logit) in enumerate(zip(OUTCOMES, logits, strict=True))
        ]
    )
    df = df.select(
        "sub_id", "msisdn", "persona", "snapshot_date", F.explode(per_outcome).alias("o")
    )
    key = (F.col("sub_id"), F.unix_date("snapshot_date"), F.col("o.oi"))
    hidden = 0.3 * hr.normal(seed, "outcome-hidden", F.col("sub_id"), F.col("o.oi"))
    prob = 1.0 / (1.0 + F.exp(-(F.col("o.logit") + hidden)))
    df = df.select(
        "sub_id",
        "msisdn",
        "persona",
        "snapshot_date",
        F.col("o.outcome").alias("outcome"),
        F.round(prob, 6).alias("probability"),
        hr.uniform(seed, "outcome-draw", *key).alias("u_draw"),
        hr.below(seed, "outcome-day", s.horizon_days, *key).alias("day_offset"),
    )
    happened = F.col("u_draw") < F.col("probability")
    return df.select(
        "sub_id",
        "msisdn",
        "persona",
        "snapshot_date",
        "outcome",
        "probability",
        happened.alias("happened"),
        F.when(happened, F.date_add("snapshot_date", (F.col("day_offset") + 1).cast("int"))).alias(
            "event_date"
        ),
    )


def horizon_end(s: Settings) -> dt.date:
    return max(s.snapshots) + dt.timedelta(days=s.horizon_days)
