"""k-anonymity for published aggregates: generalization, suppression, and the check.

The suppression rule (documented in the README):

1. **Primary**: a cell describing fewer than k subscribers is suppressed.
2. **Complementary**: for every margin of the table (the grand total and the totals over
   every proper subset of its dimensions: the margins an analyst knows or that another
   table publishes), the suppressed cells inside that margin must be either none, or all
   of it, or at least two cells that together describe at least k subscribers. Otherwise
   the smallest published cell of that margin is suppressed too, until every margin
   holds. So "margin minus the published rest" never isolates one suppressed cell and
   never yields a group of fewer than k.
3. Margins that telcoseg itself publishes are sums of published cells only.

The rule works margin by margin; it does not solve the linear system of all margins
together (a full audit would). Differential-privacy noise on every published value is
the second line of defence: even an exact difference only recovers a noisy number.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from telcoseg.errors import KAnonymityError

log = logging.getLogger(__name__)

SUPPRESSED = "suppressed"
REASON = "suppression"  # "", "primary" or "complementary"


def generalize_rare(
    df: DataFrame, column: str, k: int, other: str = "other", key: str = "subscriber_id"
) -> DataFrame:
    """Replace values of ``column`` held by fewer than ``k`` subscribers with ``other``.

    Generalization keeps the subscribers in the table (suppression would drop them).
    """
    counts = df.groupBy(column).agg(F.countDistinct(key).alias("_n"))
    rare = counts.where(F.col("_n") < k).select(column, F.lit(True).alias("_rare"))
    joined = df.join(F.broadcast(rare), on=column, how="left")
    value = F.when(F.col("_rare"), F.lit(other)).otherwise(F.col(column).cast("string"))
    return joined.withColumn(column, F.coalesce(value, F.lit(other))).drop("_rare")


def _margins(dims: Sequence[str], fixed: Sequence[str] = ()) -> list[tuple[str, ...]]:
    """Every proper subset of ``dims`` that contains all of ``fixed``.

    Without ``fixed``: the grand total () and each coarser grouping.
    """
    free = [d for d in dims if d not in fixed]
    subsets = [s for r in range(len(free)) for s in itertools.combinations(free, r)]
    return [(*fixed, *s) for s in subsets]


def suppress(
    cells: pd.DataFrame,
    dims: Sequence[str],
    k: int,
    count: str = "n",
    fixed: Sequence[str] = (),
) -> pd.DataFrame:
    """Mark cells to suppress (primary and complementary); adds ``suppressed``, ``suppression``.

    ``cells`` holds one row per combination of ``dims`` with the true subscriber
    ``count``. Nothing is dropped here so the caller can report how much was suppressed.
    ``fixed`` dimensions split a stack of independent tables (e.g. one per outcome or
    per audited attribute, where a subscriber appears once in each): margins are taken
    within each of them, never across.
    """
    out = cells.copy().reset_index(drop=True)
    out[SUPPRESSED] = out[count] < k
    out[REASON] = out[SUPPRESSED].map({True: "primary", False: ""})
    if out.empty:
        return out
    changed = True
    while changed:
        changed = False
        for margin in _margins(dims, fixed):
            groups = out.groupby(list(margin), dropna=False) if margin else [((), out)]
            for _, group in groups:
                sup = group[group[SUPPRESSED]]
                if sup.empty or len(sup) == len(group):
                    continue
                if len(sup) >= 2 and sup[count].sum() >= k:
                    continue
                # Suppress the smallest published cell of this margin (ties: first by key).
                pub = group[~group[SUPPRESSED]].sort_values([count, *dims], kind="stable")
                idx = pub.index[0]
                out.loc[idx, SUPPRESSED] = True
                out.loc[idx, REASON] = "complementary"
                changed = True
    return out


def check_k_anonymity(cells: pd.DataFrame, k: int, count: str = "n", table: str = "") -> None:
    """Raise :class:`KAnonymityError` if any row to publish describes fewer than k."""
    small = cells[cells[count] < k]
    if not small.empty:
        raise KAnonymityError(
            f"{table or 'table'}: {len(small)} row(s) to publish describe fewer than "
            f"k={k} subscribers (smallest: {int(small[count].min())}); nothing was published"
        )


def margins_from_published(
    published: pd.DataFrame, by: Sequence[str], value: str = "subscribers"
) -> pd.DataFrame:
    """Totals over ``by`` summed from published cells only (never from suppressed ones)."""
    if published.empty:
        return pd.DataFrame(columns=[*by, value])
    if not by:
        return pd.DataFrame({value: [published[value].sum()]})
    return published.groupby(list(by), dropna=False, as_index=False)[value].sum()
