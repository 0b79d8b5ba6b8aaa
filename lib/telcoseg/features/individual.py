"""bandicoot's individual indicators (individual.py), one row per scope and ISO week.

Two per-week tables come out of the scoped records:

* :func:`weekly_by_interaction`: ``scope = <time scope>__call|text`` (bandicoot's default
  ``interaction=['call', 'text']`` and the ``'call'``-only indicators);
* :func:`weekly_callandtext`: ``scope = <time scope>__callandtext`` (active days and the
  text-conversation indicators).

Weeks without records in a scope do not exist (bandicoot's ``filter_empty=True``).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from telcoseg.features.settings import Settings
from telcoseg.features.stats import (
    entropy_of_counts,
    exact_mean,
    exact_pop_std,
    pareto_count,
    sum_of_squares,
)

# individual._conversations: texts more than an hour apart are separate conversations.
CONVERSATION_GAP_S = 3600


def weekly_by_interaction(scoped_df: DataFrame, settings: Settings) -> DataFrame:
    """Per (subscriber, scope, week) values of the call/text indicators."""
    key = ["subscriber_id", "scope", "interaction", "week"]
    by_time = Window.partitionBy(*key).orderBy("ts", "record_id")
    with_gap = scoped_df.withColumn("iet", F.col("ts") - F.lag("ts").over(by_time))
    per_contact = with_gap.groupBy(*key, "correspondent_id").agg(
        F.count(F.lit(1)).alias("n_c"),
        F.sum(F.col("is_out").cast("long")).alias("out_c"),
        F.sum("call_duration").alias("dur_c"),
        F.sum(F.col("is_night").cast("long")).alias("night_c"),
        F.sum(F.col("call_duration") * F.col("call_duration")).alias("dur2_c"),
        F.count("iet").alias("iet_n_c"),
        F.sum("iet").alias("iet1_c"),
        F.sum(F.col("iet") * F.col("iet")).alias("iet2_c"),
    )
    weekly = per_contact.groupBy(*key).agg(
        F.sum("n_c").alias("n"),
        F.sum("out_c").alias("n_out"),
        F.sum("night_c").alias("n_night"),
        F.sum("dur_c").alias("dur1"),
        F.sum("dur2_c").alias("dur2"),
        F.sum("iet_n_c").alias("iet_n"),
        F.sum("iet1_c").alias("iet1"),
        F.sum("iet2_c").alias("iet2"),
        F.collect_list("n_c").alias("counts"),
        F.collect_list("out_c").alias("outs"),
        F.collect_list(F.coalesce("dur_c", F.lit(0))).alias("durations"),
    )
    n, n_out = F.col("n"), F.col("n_out")
    k = F.size("counts")
    is_call = F.col("interaction") == "call"
    pct = settings.pareto_percentage
    return weekly.select(
        "subscriber_id",
        F.concat_ws("__", "scope", "interaction").alias("scope"),
        "week",
        n.cast("double").alias("number_of_interactions"),
        (n - n_out).cast("double").alias("number_of_interaction_in"),
        n_out.cast("double").alias("number_of_interaction_out"),
        k.cast("double").alias("number_of_contacts"),
        (F.col("n_night") / n).alias("percent_nocturnal"),
        F.when(is_call, n_out / n).alias("percent_initiated_interactions"),
        F.when(is_call, exact_mean(n, F.col("dur1"))).alias("call_duration__mean"),
        F.when(is_call, exact_pop_std(n, F.col("dur1"), F.col("dur2"))).alias("call_duration__std"),
        exact_mean(F.col("iet_n"), F.col("iet1")).alias("interevent_time__mean"),
        exact_pop_std(F.col("iet_n"), F.col("iet1"), F.col("iet2")).alias("interevent_time__std"),
        entropy_of_counts(F.col("counts"), n).alias("entropy_of_contacts"),
        (n / k).alias("interactions_per_contact__mean"),
        exact_pop_std(k, n, sum_of_squares(F.col("counts"))).alias("interactions_per_contact__std"),
        # Weighted balance: out(c) / all records, one value per contact.
        (n_out / n / k).alias("balance_of_contacts__mean"),
        (exact_pop_std(k, n_out, sum_of_squares(F.col("outs"))) / n).alias(
            "balance_of_contacts__std"
        ),
        # bandicoot divides the contact count by the number of *records*.
        (pareto_count(F.col("counts"), pct) / n).alias("percent_pareto_interactions"),
        F.when(is_call, pareto_count(F.col("durations"), pct) / n).alias(
            "percent_pareto_durations"
        ),
    )


def weekly_callandtext(scoped_df: DataFrame) -> DataFrame:
    """Per (subscriber, scope, week) active days and text-conversation indicators.

    ``_conversations`` (per correspondent, in time order): a text continues the current
    conversation iff the previous record with that correspondent is a text less than an
    hour earlier; any other text starts one; calls only end conversations.
    """
    key = ["subscriber_id", "scope", "week"]
    thread = Window.partitionBy(*key, "correspondent_id").orderBy("ts", "record_id")
    running = thread.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    is_text = F.col("interaction") == "text"
    with_prev = scoped_df.select(
        *key,
        "correspondent_id",
        "ts",
        "record_id",
        "day",
        "is_out",
        is_text.alias("is_text"),
        F.lag("ts").over(thread).alias("prev_ts"),
        F.lag(is_text).over(thread).alias("prev_is_text"),
        F.lag("is_out").over(thread).alias("prev_is_out"),
    )
    gap = F.col("ts") - F.col("prev_ts")
    starts = F.col("is_text") & (
        F.col("prev_ts").isNull() | ~F.col("prev_is_text") | (gap >= CONVERSATION_GAP_S)
    )
    with_starts = with_prev.withColumn("starts", starts)
    # Consecutive in -> out texts of one conversation: the user's response delay (> 0 only).
    answers = (
        F.col("is_text") & ~F.col("starts") & ~F.col("prev_is_out") & F.col("is_out") & (gap > 0)
    )
    threaded = with_starts.select(
        *key,
        "correspondent_id",
        "day",
        "is_out",
        "is_text",
        "starts",
        F.when(answers, gap).alias("delay"),
        F.sum(F.col("starts").cast("long")).over(running).alias("conversation"),
    )
    # One group per conversation, plus one per correspondent for its calls (no
    # conversation): every week of the scope survives, without a join.
    per_conversation = threaded.groupBy(
        *key, "correspondent_id", F.when(F.col("is_text"), F.col("conversation")).alias("conv")
    ).agg(
        F.collect_set("day").alias("days"),
        F.max(F.when(F.col("starts"), F.col("is_out"))).alias("first_out"),
        F.max(F.when(F.col("is_text"), F.col("is_out"))).alias("any_out"),
        F.count("delay").alias("delay_n"),
        F.sum("delay").alias("delay1"),
        F.sum(F.col("delay") * F.col("delay")).alias("delay2"),
    )
    is_conversation = F.col("conv").isNotNull()
    received = is_conversation & ~F.col("first_out")
    joined = per_conversation.groupBy(*key).agg(
        F.size(F.array_distinct(F.flatten(F.collect_list("days")))).alias("active_days"),
        F.count(F.when(is_conversation, 1)).alias("n_conv"),
        F.count(F.when(is_conversation & F.col("first_out"), 1)).alias("n_init"),
        F.count(F.when(received, 1)).alias("n_received"),
        F.count(F.when(received & F.col("any_out"), 1)).alias("n_responded"),
        F.sum("delay_n").alias("delay_n"),
        F.sum("delay1").alias("delay1"),
        F.sum("delay2").alias("delay2"),
    )
    n_conv = F.col("n_conv")
    return joined.select(
        "subscriber_id",
        F.concat_ws("__", "scope", F.lit("callandtext")).alias("scope"),
        "week",
        F.col("active_days").cast("double").alias("active_days"),
        F.when(n_conv > 0, F.col("n_init") / n_conv)
        .otherwise(F.lit(0.0))
        .alias("percent_initiated_conversations"),
        F.when(F.col("n_received") > 0, F.col("n_responded") / F.col("n_received")).alias(
            "response_rate_text"
        ),
        exact_mean(F.col("delay_n"), F.col("delay1")).alias("response_delay_text__mean"),
        exact_pop_std(F.col("delay_n"), F.col("delay1"), F.col("delay2")).alias(
            "response_delay_text__std"
        ),
    )
