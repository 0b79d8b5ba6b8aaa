"""The ``privacy:`` config section: k, location coarseness, epsilon per release, budget."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

# Clamp bounds of indicator means, by column name or shell glob (first match wins).
# Shares and ratios live in [0, 1]; the rest are generous caps for a 28-day window.
DEFAULT_CLAMP_BOUNDS: dict[str, tuple[float, float]] = {
    "*share*": (0.0, 1.0),
    "*percent*": (0.0, 1.0),
    "*entropy*": (0.0, 10.0),
    "tc_voice_records": (0.0, 3000.0),
    "tc_sms_records": (0.0, 3000.0),
    "tc_data_sessions": (0.0, 5000.0),
    "tc_spend": (0.0, 500.0),
    "tc_monthly_fee": (0.0, 200.0),
    "tc_tenure_days": (0.0, 7300.0),
    "tc_devices": (0.0, 10.0),
    "tc_lines_per_account": (0.0, 10.0),
    "score": (0.0, 1.0),
}

# How many rows one subscriber can add to an already-aggregated input table (model
# evaluation deciles: one per outcome; fairness audit: one group per attribute and outcome;
# campaign results: one arm per campaign). Used as the L1 sensitivity of its counts.
DEFAULT_INPUT_SENSITIVITY: dict[str, int] = {
    "propensity_evaluation": 3,
    "fairness_audit": 6,
    "campaign_results": 4,
}


@dataclass(frozen=True)
class Settings:
    """Validated ``privacy:`` section."""

    # Every published cell describes at least k subscribers.
    k: int = 10
    # Location in public tables: the subscriber's region, or the geohash of the home cell.
    location_level: Literal["region", "geohash"] = "region"
    geohash_precision: int = 4  # 4 chars ~ 39 km x 20 km
    # Categories with fewer than k subscribers overall become this label (generalization).
    other_label: str = "other"
    # Differential privacy.
    mechanism: Literal["laplace", "gaussian"] = "laplace"
    epsilon_per_release: float = 0.5
    epsilon_overrides: dict[str, float] = field(default_factory=dict)  # table -> epsilon
    delta: float = 1e-7  # gaussian only: the delta of (epsilon, delta)-DP per release
    budget_epsilon: float = 30.0  # lifetime total over the ledger; then releases are refused
    clamp_bounds: dict[str, tuple[float, float]] = field(
        default_factory=lambda: dict(DEFAULT_CLAMP_BOUNDS)
    )
    input_sensitivity: dict[str, int] = field(
        default_factory=lambda: dict(DEFAULT_INPUT_SENSITIVITY)
    )
    # Re-running the job for a snapshot that was already released reuses the published
    # rows (no new noise, no new spend): fresh noise on the same data would let an
    # analyst average it away.
    reuse_releases: bool = True

    def __post_init__(self) -> None:
        if self.k < 2:
            raise ValueError(f"k must be at least 2, got {self.k}")
        if not 1 <= self.geohash_precision <= 12:
            raise ValueError(f"geohash_precision must be 1..12, got {self.geohash_precision}")
        for name, eps in [("epsilon_per_release", self.epsilon_per_release)] + [
            (f"epsilon_overrides.{t}", e) for t, e in self.epsilon_overrides.items()
        ]:
            if not (eps > 0 and math.isfinite(eps)):
                raise ValueError(f"{name} must be a positive finite number, got {eps}")
        if not self.budget_epsilon > 0:
            raise ValueError(f"budget_epsilon must be positive, got {self.budget_epsilon}")
        if not 0 < self.delta < 1:
            raise ValueError(f"delta must be in (0, 1), got {self.delta}")
        for pattern, (lo, hi) in self.clamp_bounds.items():
            if not lo < hi:
                raise ValueError(f"clamp_bounds.{pattern}: lower {lo} must be below upper {hi}")
        for table, s in self.input_sensitivity.items():
            if s < 1:
                raise ValueError(f"input_sensitivity.{table} must be at least 1, got {s}")

    def epsilon_for(self, table: str) -> float:
        """Epsilon that one release of ``table`` spends."""
        return float(self.epsilon_overrides.get(table, self.epsilon_per_release))

    def bounds_for(self, column: str) -> tuple[float, float] | None:
        """Clamp bounds of ``column`` (exact name first, then globs), or None if unbounded."""
        import fnmatch

        if column in self.clamp_bounds:
            return tuple(self.clamp_bounds[column])  # type: ignore[return-value]
        for pattern, bounds in self.clamp_bounds.items():
            if fnmatch.fnmatchcase(column, pattern):
                return tuple(bounds)  # type: ignore[return-value]
        return None
