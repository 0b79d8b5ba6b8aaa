"""Differential privacy with OpenDP: calibrated noise on the driver, on aggregates only.

Neighbouring datasets differ by one subscriber (added or removed). Each release is built
so that one subscriber contributes to one cell, so the count vector has L1 (and L2)
sensitivity 1. A mean is a noisy sum of clamped, centred values over a noisy count:
a subscriber moves the centred sum by at most ``(upper - lower) / 2``. A release with
``m`` means spends its epsilon in ``1 + m`` equal parts (sequential composition).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import opendp.prelude as dp

dp.enable_features("contrib")

Mechanism = Literal["laplace", "gaussian"]


@dataclass(frozen=True)
class NoiseSpec:
    """One OpenDP measurement and the parameters it was calibrated from."""

    mechanism: Mechanism
    scale: float
    sensitivity: float
    epsilon: float
    delta: float  # 0 for laplace
    measurement: Any  # opendp Measurement on a vector of values

    def __call__(self, values: Sequence[float] | Sequence[int]) -> list[Any]:
        if not len(values):
            return []
        return list(self.measurement(list(values)))


def _space(integer: bool, mechanism: Mechanism) -> tuple[Any, Any]:
    atom = dp.atom_domain(T=int) if integer else dp.atom_domain(T=float, nan=False)
    metric = dp.l1_distance if mechanism == "laplace" else dp.l2_distance
    return dp.vector_domain(atom), metric(T=int if integer else float)


def privacy_loss(
    spec_measurement: Any, sensitivity: float, mechanism: Mechanism, delta: float
) -> float:
    """Epsilon that OpenDP's privacy map certifies for ``sensitivity``."""
    d_in = math.ceil(sensitivity) if _is_int(spec_measurement) else float(sensitivity)
    if mechanism == "laplace":
        return float(spec_measurement.map(d_in))
    approx = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(spec_measurement), delta)
    return float(approx.map(d_in)[0])


def _is_int(measurement: Any) -> bool:
    return "i32" in str(measurement.input_domain) or "i64" in str(measurement.input_domain)


def make_noise(
    epsilon: float,
    sensitivity: float,
    mechanism: Mechanism = "laplace",
    delta: float = 0.0,
    integer: bool = True,
) -> NoiseSpec:
    """A vector measurement giving (epsilon[, delta])-DP at the given sensitivity.

    Laplace: scale = sensitivity / epsilon (OpenDP's map must agree). Gaussian: the
    smallest scale whose zCDP, converted to (epsilon, delta)-DP, is within epsilon.
    """
    if not (epsilon > 0 and sensitivity > 0):
        raise ValueError(f"epsilon and sensitivity must be positive, got {epsilon}, {sensitivity}")
    domain, metric = _space(integer, mechanism)
    d_in: Any = math.ceil(sensitivity) if integer else float(sensitivity)
    if integer and d_in != sensitivity:
        raise ValueError(f"integer counts need an integer sensitivity, got {sensitivity}")
    if mechanism == "laplace":
        scale = float(sensitivity) / epsilon
        meas = dp.m.make_laplace(domain, metric, scale=scale)
        delta = 0.0
    else:
        if not 0 < delta < 1:
            raise ValueError(f"gaussian noise needs 0 < delta < 1, got {delta}")

        def build(s: float) -> Any:
            g = dp.m.make_gaussian(domain, metric, scale=s)
            return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(g), delta)

        scale = float(dp.binary_search_param(build, d_in=d_in, d_out=(epsilon, delta), T=float))
        meas = dp.m.make_gaussian(domain, metric, scale=scale)
    loss = privacy_loss(meas, sensitivity, mechanism, delta)
    if loss > epsilon * (1 + 1e-9):
        raise AssertionError(f"OpenDP certifies epsilon {loss} > requested {epsilon}")
    return NoiseSpec(mechanism, scale, float(sensitivity), epsilon, delta, meas)


def noisy_counts(
    counts: Sequence[int],
    epsilon: float,
    sensitivity: int = 1,
    mechanism: Mechanism = "laplace",
    delta: float = 0.0,
) -> list[int]:
    """Counts with calibrated integer noise, floored at 0 (post-processing keeps DP)."""
    noise = make_noise(epsilon, sensitivity, mechanism, delta, integer=True)
    return [max(0, int(v)) for v in noise([int(c) for c in counts])]


def noisy_means(
    centred_sums: Sequence[float],
    noisy_n: Sequence[int],
    bounds: tuple[float, float],
    epsilon: float,
    mechanism: Mechanism = "laplace",
    delta: float = 0.0,
) -> list[float | None]:
    """Means from noisy sums of clamped values centred on the bounds' midpoint.

    ``centred_sums`` are sums of ``clamp(x, lower, upper) - midpoint``; the result is
    clamped to the bounds again (post-processing). A cell with no noisy count gets None.
    """
    lower, upper = bounds
    mid = (lower + upper) / 2.0
    noise = make_noise(epsilon, (upper - lower) / 2.0, mechanism, delta, integer=False)
    sums = noise([float(s) for s in centred_sums])
    out: list[float | None] = []
    for s, n in zip(sums, noisy_n, strict=True):
        out.append(None if n <= 0 else min(upper, max(lower, mid + s / n)))
    return out
