"""bandicoot's individual indicators (individual.py), one row per time scope and ISO week.

:func:`weekly_individual` turns the scoped records (already hash-partitioned by
subscriber_id) into one *wide* row per (subscriber, time scope, ISO week) holding the
call, text and callandtext values of that week (see :func:`weekly_column`). Every step
is keyed by subscriber_id first, so nothing is shuffled again:

1. two record-level windows (time order per interaction and week: interevent times;
   time order per correspondent and week: text conversations);
2. one hash aggregation per (week, interaction, correspondent);
3. two windows over those contacts (largest first: the pareto counts);
4. one hash aggregation per week.

A week without records of an interaction has null values for it (bandicoot's
``filter_empty=True``: the week is not counted in the mean/std over weeks).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from telcoseg.features.settings import Settings
from telcoseg.features.stats import exact_mean, exact_pop_std

# individual._conversations: texts more than an hour apart are separate conversations.
CONVERSATION_GAP_S = 3600
INTERACTIONS = ("call", "text")
KEY = ["subscriber_id", "scope", "week"]


def weekly_column(inner: str, interaction: str | None) -> str:
    """Column of the per-week value ``inner`` (e.g. ``call_duration__mean``) for one
    interaction (``call``/``text``/``callandtext``; None for spatial indicators)."""
    return f"{inner}__{interaction}" if interaction else inner


def _record_flags(scoped_df: DataFrame) -> DataFrame:
    """Per record: its interevent time and its part in a text conversation."""
    is_text = F.col("interaction") == "text"
    # Previous record of the same interaction in the same scope and ISO week.
    by_interaction = Window.partitionBy(*KEY, "interaction").orderBy("ts", "tb")
    # _conversations runs per correspondent over the week's records, in time order.
    thread = Window.partitionBy(*KEY, "correspondent_id").orderBy("ts", "tb")
    running = thread.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    base = scoped_df.select(
        *KEY,
        "interaction",
        "correspondent_id",
        "ts",
        "tb",
        "day_bit",
        "is_out",
        "is_night",
        "call_duration",
        is_text.alias("is_text"),
        (F.col("ts") - F.lag("ts").over(by_interaction)).alias("iet"),
    )
    gap = F.col("ts") - F.lag("ts").over(thread)
    prev_is_text = F.lag("is_text").over(thread)
    prev_is_out = F.lag("is_out").over(thread)
    out_text = (F.col("is_text") & F.col("is_out")).cast("int")
    lagged = base.select(
        "*",
        gap.alias("gap"),
        prev_is_out.alias("prev_is_out"),
        # A text starts a conversation unless the previous record with that correspondent
        # is a text less than an hour earlier; calls only end conversations.
        (F.col("is_text") & (gap.isNull() | ~prev_is_text | (gap >= CONVERSATION_GAP_S))).alias(
            "starts"
        ),
        # Out-texts so far (running): a conversation is answered when this grows in it.
        F.sum(out_text).over(running).alias("outs"),
    )
    # Same window spec as above: Spark adds a Window operator but no sort.
    conversation_out = F.last(F.when(F.col("starts"), F.col("is_out")), ignorenulls=True)
    outs_at_start = F.last(F.when(F.col("starts"), F.col("outs") - out_text), ignorenulls=True)
    threaded = lagged.select(
        "*",
        conversation_out.over(running).alias("conv_out"),
        outs_at_start.over(running).alias("outs_at_start"),
    )
    continues = F.col("is_text") & ~F.col("starts")
    # Consecutive in -> out texts of one conversation: the user's response delay (> 0 only).
    answers = continues & ~F.col("prev_is_out") & F.col("is_out") & (F.col("gap") > 0)
    # The first out-text of a conversation the correspondent started: it was answered.
    responds = (
        continues
        & F.col("is_out")
        & ~F.col("conv_out")
        & (F.col("outs") - F.col("outs_at_start") == 1)
    )
    return threaded.select(
        *KEY,
        "interaction",
        "correspondent_id",
        "is_out",
        "is_night",
        "call_duration",
        "iet",
        "starts",
        # ISO weekday bit: active days are the set bits of the week's OR.
        "day_bit",
        F.when(answers, F.col("gap")).alias("delay"),
        responds.alias("responds"),
    )


def _per_contact(flags_df: DataFrame) -> DataFrame:
    """One row per (week, interaction, correspondent): sums the week needs."""
    one = F.lit(1).cast("long")

    def count_if(cond: Column) -> Column:
        return F.sum(F.when(cond, one).otherwise(0))

    dur = F.col("call_duration").cast("long")
    delay = F.col("delay").cast("long")
    return flags_df.groupBy(*KEY, "interaction", "correspondent_id").agg(
        F.count(F.lit(1)).alias("n_c"),
        count_if(F.col("is_out")).alias("out_c"),
        count_if(F.col("is_night")).alias("night_c"),
        F.sum(dur).alias("dur_c"),
        F.sum(dur * dur).alias("dur2_c"),
        F.count("iet").alias("iet_n"),
        F.sum("iet").alias("iet1"),
        F.sum(F.col("iet") * F.col("iet")).alias("iet2"),
        count_if(F.col("starts")).alias("conv"),
        count_if(F.col("starts") & F.col("is_out")).alias("conv_init"),
        count_if(F.col("starts") & ~F.col("is_out")).alias("conv_received"),
        count_if(F.col("responds")).alias("conv_responded"),
        F.count("delay").alias("delay_n"),
        F.sum(delay).alias("delay1"),
        F.sum(delay * delay).alias("delay2"),
        F.bit_or("day_bit").alias("days"),
    )


def _pareto_flags(contacts_df: DataFrame, settings: Settings) -> DataFrame:
    """Mark the contacts bandicoot pops for ``percent_pareto_*``: largest first, while the
    records (call time) popped so far stay below ``ceil(total * percentage)``. Which of
    equal contacts is popped does not change how many are."""
    pct = F.lit(float(settings.pareto_percentage))
    group = [*KEY, "interaction"]
    flags = contacts_df
    for value, name in (("n_c", "pareto_n"), ("dur_c", "pareto_d")):
        largest = Window.partitionBy(*group).orderBy(F.col(value).desc_nulls_last())
        before = F.sum(value).over(largest.rowsBetween(Window.unboundedPreceding, -1))
        total = F.sum(value).over(
            largest.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
        )
        target = F.ceil(total.cast("double") * pct)
        flags = flags.withColumn(name, F.coalesce(before, F.lit(0)) < target)
        if value == "n_c":
            # The week's record count rides along: entropy needs it per contact.
            flags = flags.withColumn("n_week", total)
    return flags


def weekly_individual(scoped_df: DataFrame, settings: Settings) -> DataFrame:
    """Per (subscriber, time scope, week): every individual indicator, one column per
    (per-week value, interaction) as named by :func:`weekly_column`."""
    contacts = _pareto_flags(_per_contact(_record_flags(scoped_df)), settings)
    p = F.col("n_c") / F.col("n_week")
    contacts = contacts.withColumn("plogp", p * F.log(p))

    aggs: list[Column] = []
    for i in INTERACTIONS:
        mine = F.col("interaction") == i

        def s(c: str, mine: Column = mine) -> Column:
            return F.sum(F.when(mine, F.col(c)))

        def sq(c: str, mine: Column = mine) -> Column:
            return F.sum(F.when(mine, F.col(c) * F.col(c)))

        aggs += [
            F.count(F.when(mine, 1)).alias(f"k_{i}"),
            s("n_c").alias(f"n_{i}"),
            s("out_c").alias(f"out_{i}"),
            s("night_c").alias(f"night_{i}"),
            s("iet_n").alias(f"iet_n_{i}"),
            s("iet1").alias(f"iet1_{i}"),
            s("iet2").alias(f"iet2_{i}"),
            sq("n_c").alias(f"n2_{i}"),
            sq("out_c").alias(f"out2_{i}"),
            s("plogp").alias(f"plogp_{i}"),
            F.count(F.when(mine & F.col("pareto_n"), 1)).alias(f"pareto_n_{i}"),
        ]
    is_call = F.col("interaction") == "call"
    aggs += [
        F.sum(F.when(is_call, F.coalesce("dur_c", F.lit(0)))).alias("dur1_call"),
        F.sum(F.when(is_call, F.col("dur2_c"))).alias("dur2_call"),
        F.count(F.when(is_call & F.col("pareto_d"), 1)).alias("pareto_d_call"),
        F.bit_or("days").alias("days"),
        *[
            F.sum(c).alias(c)
            for c in ("conv", "conv_init", "conv_received", "conv_responded", "delay_n")
        ],
        F.sum("delay1").alias("delay1"),
        F.sum("delay2").alias("delay2"),
    ]
    weekly = contacts.groupBy(*KEY).agg(*aggs)

    out: list[Column] = []
    for i in INTERACTIONS:
        n, n_out, k = F.col(f"n_{i}"), F.col(f"out_{i}"), F.col(f"k_{i}")

        def col(inner: str, value: Column, i: str = i, n: Column = n) -> Column:
            # No record of this interaction this week: bandicoot has no week value.
            return F.when(n > 0, value).alias(weekly_column(inner, i))

        out += [
            col("number_of_interactions", n.cast("double")),
            col("number_of_interaction_in", (n - n_out).cast("double")),
            col("number_of_interaction_out", n_out.cast("double")),
            col("number_of_contacts", k.cast("double")),
            col("percent_nocturnal", F.col(f"night_{i}") / n),
            col("interevent_time__mean", exact_mean(F.col(f"iet_n_{i}"), F.col(f"iet1_{i}"))),
            col(
                "interevent_time__std",
                exact_pop_std(F.col(f"iet_n_{i}"), F.col(f"iet1_{i}"), F.col(f"iet2_{i}")),
            ),
            col("entropy_of_contacts", -F.col(f"plogp_{i}")),
            col("interactions_per_contact__mean", n / k),
            col("interactions_per_contact__std", exact_pop_std(k, n, F.col(f"n2_{i}"))),
            # Weighted balance: out(c) / all records, one value per contact.
            col("balance_of_contacts__mean", n_out / n / k),
            col("balance_of_contacts__std", exact_pop_std(k, n_out, F.col(f"out2_{i}")) / n),
            # bandicoot divides the contact count by the number of *records*.
            col("percent_pareto_interactions", F.col(f"pareto_n_{i}") / n),
        ]
    n_call = F.col("n_call")

    def call_col(inner: str, value: Column) -> Column:
        return F.when(n_call > 0, value).alias(weekly_column(inner, "call"))

    n_conv = F.col("conv")
    received = F.col("conv_received")
    out += [
        call_col("percent_initiated_interactions", F.col("out_call") / n_call),
        call_col("call_duration__mean", exact_mean(n_call, F.col("dur1_call"))),
        call_col(
            "call_duration__std", exact_pop_std(n_call, F.col("dur1_call"), F.col("dur2_call"))
        ),
        call_col("percent_pareto_durations", F.col("pareto_d_call") / n_call),
        F.bit_count("days").cast("double").alias(weekly_column("active_days", "callandtext")),
        F.when(n_conv > 0, F.col("conv_init") / n_conv)
        .otherwise(F.lit(0.0))
        .alias(weekly_column("percent_initiated_conversations", "callandtext")),
        F.when(received > 0, F.col("conv_responded") / received).alias(
            weekly_column("response_rate_text", "callandtext")
        ),
        exact_mean(F.col("delay_n"), F.col("delay1")).alias(
            weekly_column("response_delay_text__mean", "callandtext")
        ),
        exact_pop_std(F.col("delay_n"), F.col("delay1"), F.col("delay2")).alias(
            weekly_column("response_delay_text__std", "callandtext")
        ),
    ]
    return weekly.select(*KEY, *out)
