"""k-anonymity: generalization, primary and complementary suppression, differencing attacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from telcoseg.privacy.kanon import (
    KAnonymityError,
    check_k_anonymity,
    generalize_rare,
    margins_from_published,
    suppress,
)
from telcoseg.privacy.release import release_crosstab
from telcoseg.privacy.settings import Settings

K = 5


def _cells() -> pd.DataFrame:
    # segment x region; cell (B, north) has k-1 subscribers.
    rows = [
        ("A", "north", 12),
        ("A", "south", 9),
        ("A", "west", 20),
        ("B", "north", K - 1),
        ("B", "south", 15),
        ("B", "west", 7),
        ("C", "north", 30),
        ("C", "south", 6),
        ("C", "west", 11),
    ]
    return pd.DataFrame(rows, columns=["segment", "region", "n"])


def test_a_group_of_k_minus_1_is_suppressed_and_the_check_refuses_it() -> None:
    marked = suppress(_cells(), ["segment", "region"], K)
    small = marked[(marked.segment == "B") & (marked.region == "north")]
    assert small["suppressed"].item() and small["suppression"].item() == "primary"
    published = marked[~marked["suppressed"]]
    check_k_anonymity(published, K)  # passes
    with pytest.raises(KAnonymityError, match="fewer than k=5"):
        check_k_anonymity(_cells(), K)


def test_every_margin_hides_either_nothing_or_two_cells_of_at_least_k() -> None:
    marked = suppress(_cells(), ["segment", "region"], K)
    for margin in ([], ["segment"], ["region"]):
        groups = marked.groupby(margin) if margin else [((), marked)]
        for _, g in groups:
            sup = g[g["suppressed"]]
            assert len(sup) == 0 or len(sup) == len(g) or (len(sup) >= 2 and sup.n.sum() >= K)
    # One small cell forces complementary suppression in its row and in its column.
    assert (marked["suppression"] == "complementary").sum() >= 2


def test_differencing_attack_on_published_table_does_not_recover_the_small_cell() -> None:
    """The attacker knows every true margin (segment sizes, region sizes, the grand total)
    and subtracts the published cells; suppression alone must defeat it (no noise here)."""
    cells = _cells()
    marked = suppress(cells, ["segment", "region"], K)
    published = marked[~marked["suppressed"]]
    secret = K - 1
    recovered: list[int] = []
    for margin in (["segment"], ["region"]):
        truth = cells.groupby(margin)["n"].sum()
        pub = published.groupby(margin)["n"].sum().reindex(truth.index, fill_value=0)
        for key, diff in (truth - pub).items():
            hidden = marked[(marked[margin[0]] == key) & marked["suppressed"]]
            if len(hidden) == 1:  # a lone hidden cell would be recovered exactly
                recovered.append(int(diff))
            assert diff == 0 or diff >= K, "a difference isolates fewer than k subscribers"
    total_diff = cells.n.sum() - published.n.sum()
    assert total_diff >= K and (marked["suppressed"]).sum() >= 2
    assert secret not in recovered and recovered == []
    # Stronger: with every true margin known (grand total, each segment, each region),
    # the hidden cells satisfy a linear system. The small cell is recoverable exactly iff
    # its unit vector lies in the row space of that system; it must not.
    hidden = marked[marked["suppressed"]].reset_index(drop=True)
    equations = [np.ones(len(hidden))]
    for col in ("segment", "region"):
        for value in cells[col].unique():
            equations.append((hidden[col] == value).to_numpy(dtype=float))
    a = np.vstack(equations)
    target = ((hidden.segment == "B") & (hidden.region == "north")).to_numpy(dtype=float)
    assert np.linalg.matrix_rank(np.vstack([a, target])) > np.linalg.matrix_rank(a)


def test_margins_are_summed_from_published_cells_only() -> None:
    release = release_crosstab(_cells(), "t", ["segment", "region"], [], Settings(k=K), count="n")
    seg = margins_from_published(release.data, ["segment"])
    # A margin equals the sum of the published cells, so margin - published rest = 0.
    for row in seg.itertuples():
        rest = release.data[release.data.segment == row.segment]["subscribers"].sum()
        assert row.subscribers - rest == 0
    assert "_n" not in release.data.columns  # the true count is never published
    assert not ((release.data.segment == "B") & (release.data.region == "north")).any()


def test_generalize_rare_turns_small_categories_into_other(spark: SparkSession) -> None:
    schema = T.StructType(
        [T.StructField("subscriber_id", T.StringType()), T.StructField("carrier", T.StringType())]
    )
    rows = [(f"s{i}", "big") for i in range(K)] + [(f"t{i}", "tiny") for i in range(K - 1)]
    rows.append(("u0", None))
    df = spark.createDataFrame(rows, schema)
    out = {
        r.carrier: r.n
        for r in generalize_rare(df, "carrier", K)
        .groupBy("carrier")
        .count()
        .withColumnRenamed("count", "n")
        .collect()
    }
    assert out == {"big": K, "other": K}
