"""Column expressions for the statistics bandicoot computes (helper/maths.py).

bandicoot's ``std`` is the *population* standard deviation (``moment(data, 2) ** 0.5``,
0 for one value). Integer-valued distributions (seconds, counts) are reduced to exact
integer sums so that a constant distribution gives exactly 0, as bandicoot's two-pass
formula does.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

_EXACT = "decimal(38,0)"


def exact_mean(n: Column, s1: Column) -> Column:
    """mean of n integer values summing to s1; null when n = 0 (bandicoot: None)."""
    return F.when(n > 0, s1.cast("double") / n)


def exact_pop_std(n: Column, s1: Column, s2: Column) -> Column:
    """Population std of n integers from their sum and sum of squares, exactly:
    ``sqrt(n*s2 - s1^2) / n`` with the radicand computed in 38-digit decimals."""
    radicand = n.cast(_EXACT) * s2.cast(_EXACT) - s1.cast(_EXACT) * s1.cast(_EXACT)
    return F.when(n > 0, F.sqrt(radicand.cast("double")) / n)


def entropy_of_counts(counts: Column, total: Column) -> Column:
    """bandicoot's ``entropy``: ``-sum(p * ln p)`` with ``p = count / total`` (nats)."""
    return -F.aggregate(
        counts,
        F.lit(0.0),
        lambda acc, c: acc + (c / total) * F.log(c / total),
    )


def sum_of(values: Column) -> Column:
    """Sum of an array of longs (0 for an empty array)."""
    return F.aggregate(values, F.lit(0).cast("long"), lambda acc, x: acc + x)


def sum_of_squares(values: Column) -> Column:
    return F.aggregate(values, F.lit(0).cast("long"), lambda acc, x: acc + x * x)


def pareto_count(values: Column, percentage: float) -> Column:
    """How many of the largest ``values`` it takes to reach ``ceil(sum * percentage)``.

    bandicoot pops values from the largest down ``while target > 0``; the count depends
    only on the sorted values, not on which contact is popped among equal ones.
    """
    desc = F.sort_array(values, asc=False)
    target = F.ceil(sum_of(values).cast("double") * F.lit(float(percentage)))
    state = F.aggregate(
        desc,
        F.struct(F.lit(0).cast("long").alias("s"), F.lit(0).alias("k")),
        lambda acc, x: F.struct(
            (acc["s"] + x).alias("s"),
            (acc["k"] + F.when(acc["s"] < target, 1).otherwise(0)).alias("k"),
        ),
    )
    return state["k"]
