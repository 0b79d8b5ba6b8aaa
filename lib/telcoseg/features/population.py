"""Who is featurized: an optional subset of subscriber_ids, as a list or as a table."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from telcoseg.errors import SchemaMismatchError

SubscriberSubset = DataFrame | Sequence[str] | None


def require_columns(df: DataFrame, columns: Sequence[str], where: str) -> None:
    """Fail early, naming what is missing, instead of deep inside a plan."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaMismatchError(where, missing, df.columns)


def filter_subscribers(df: DataFrame, subset: SubscriberSubset) -> DataFrame:
    """Keep the rows of the given subscribers (``None``: keep all)."""
    if subset is None:
        return df
    if isinstance(subset, DataFrame):
        require_columns(subset, ["subscriber_id"], "subscriber subset")
        ids = subset.select("subscriber_id").distinct()
    else:
        ids = df.sparkSession.createDataFrame(
            [(s,) for s in dict.fromkeys(subset)], "subscriber_id string"
        )
    return df.join(F.broadcast(ids), on="subscriber_id", how="left_semi")
