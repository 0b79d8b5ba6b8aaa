"""Differential privacy: OpenDP noise calibration and the budget ledger."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import SparkSession

from telcoseg.errors import PrivacyBudgetExceeded
from telcoseg.io.delta import read_table, table_exists
from telcoseg.privacy.dp import make_noise, noisy_means
from telcoseg.privacy.ledger import ReleaseRequest, reserve, spent


def _discrete_laplace_std(scale: float) -> float:
    q = math.exp(-1.0 / scale)
    return math.sqrt(2 * q) / (1 - q)


@pytest.mark.parametrize(("epsilon", "sensitivity"), [(0.5, 1), (1.0, 2), (2.0, 1)])
def test_laplace_count_noise_matches_epsilon_and_sensitivity(
    epsilon: float, sensitivity: int
) -> None:
    noise = make_noise(epsilon, sensitivity)
    assert noise.scale == pytest.approx(sensitivity / epsilon)
    # OpenDP's own privacy map certifies exactly the requested epsilon.
    assert noise.measurement.map(sensitivity) == pytest.approx(epsilon)
    draws = np.array(noise([0] * 40_000))
    assert abs(draws.mean()) < 0.1 * noise.scale
    assert draws.std() == pytest.approx(_discrete_laplace_std(noise.scale), rel=0.05)


def test_laplace_sum_noise_is_continuous_with_std_sqrt2_times_scale() -> None:
    noise = make_noise(0.25, 3.0, integer=False)
    assert noise.scale == pytest.approx(12.0)
    assert noise.measurement.map(3.0) == pytest.approx(0.25)
    draws = np.array(noise([0.0] * 40_000))
    assert draws.std() == pytest.approx(math.sqrt(2) * 12.0, rel=0.05)


def test_gaussian_noise_meets_epsilon_delta() -> None:
    noise = make_noise(1.0, 1, "gaussian", 1e-6)
    draws = np.array(noise([0] * 20_000))
    assert draws.std() == pytest.approx(noise.scale, rel=0.05)
    # A smaller scale would spend more than epsilon: the search found the edge.
    assert 3.5 < noise.scale < 6.0


def test_noisy_means_are_clamped_to_bounds() -> None:
    means = noisy_means([1000.0, -1000.0, 0.0], [1, 1, 0], (0.0, 1.0), 0.1)
    assert means[0] == 1.0 and means[1] == 0.0 and means[2] is None


def test_ledger_records_releases_and_refuses_one_over_budget(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = str(tmp_path / "ops" / "privacy_ledger")
    snap = dt.date(2026, 3, 31)
    ids = reserve(spark, path, [ReleaseRequest("a", 0.6), ReleaseRequest("b", 0.3)], snap, 1.0)
    assert len(ids) == 2 and spent(spark, path) == pytest.approx(0.9)
    rows = {r["table"]: r for r in read_table(spark, path).collect()}
    assert rows["b"]["total_spent"] == pytest.approx(0.9)
    assert rows["a"]["budget"] == 1.0 and rows["a"]["snapshot_date"] == snap
    with pytest.raises(PrivacyBudgetExceeded, match=r"spent epsilon 0\.9 of 1"):
        reserve(spark, path, [ReleaseRequest("c", 0.2)], snap, 1.0)
    assert spent(spark, path) == pytest.approx(0.9)  # the refused release recorded nothing
    assert table_exists(path)
