"""The ``propensity:`` config section: outcomes, label windows, model search, fairness gates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

PriorPolicy = Literal["exclude", "feature"]
PromotionMetric = Literal["roc_auc", "pr_auc"]
ClassWeighting = Literal["none", "balanced"]


@dataclass(frozen=True)
class SearchSettings:
    """The hyperparameter grid: small, because every point is one GBT fit on 2 cores."""

    max_depth: tuple[int, ...] = (3, 5)
    max_iter: tuple[int, ...] = (40,)
    step_size: tuple[float, ...] = (0.1,)
    subsampling_rate: float = 0.8
    min_instances_per_node: int = 20
    max_bins: int = 32
    # "balanced" gives each class half the total weight (the prior-shift stage then
    # removes the bias it adds). "none" ranks better with few positives: on the demo lake
    # balanced weights made the trees fit a few hundred positives' noise (upgrade
    # out-of-time AUC 0.633 balanced vs 0.670 unweighted, same features and grid).
    class_weights: ClassWeighting = "none"
    # Refit the chosen parameters on train + validation before the out-of-time test.
    refit: bool = True

    def __post_init__(self) -> None:
        if not self.max_depth or not self.max_iter or not self.step_size:
            raise ValueError("max_depth, max_iter and step_size need at least one value each")
        if any(d < 1 for d in self.max_depth) or any(i < 1 for i in self.max_iter):
            raise ValueError("max_depth and max_iter values must be >= 1")
        if not 0.0 < self.subsampling_rate <= 1.0:
            raise ValueError(f"subsampling_rate must be in (0, 1], got {self.subsampling_rate}")

    def grid(self) -> list[dict[str, float | int]]:
        """Every combination, in a fixed order (deterministic runs)."""
        return [
            {"max_depth": d, "max_iter": i, "step_size": s}
            for d in self.max_depth
            for i in self.max_iter
            for s in self.step_size
        ]


@dataclass(frozen=True)
class FairnessSettings:
    """Gates of the audit that runs before a model may become champion."""

    # Share of subscribers selected at the operating threshold (top of the score ranking).
    target_share: float = 0.1
    min_selection_rate_ratio: float = 0.8  # four-fifths rule
    min_tpr_ratio: float = 0.8
    # |mean predicted probability - observed rate| allowed per group.
    max_calibration_gap: float = 0.05
    # Groups smaller than this (or with fewer positives, for TPR) are reported, not gated.
    min_group_size: int = 50
    min_group_positives: int = 10
    # A gap fails only when it is also statistically significant: a two-proportion z-test
    # against the reference group (against the predicted rate, for calibration), at this
    # family-wise error rate over all of one audit's comparisons (Bonferroni). Without the
    # correction a fair model audited on ~8 groups x 3 metrics fails about half the time
    # on noise alone. 1.0 disables the test (every gap beyond its limit fails).
    alpha: float = 0.05
    # Age bands from birth_year at the snapshot year: lower bounds of each band.
    age_band_edges: tuple[int, ...] = (18, 25, 35, 45, 55, 65)
    attributes: tuple[str, ...] = ("gender", "age_band")

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if not 0.0 < self.target_share < 1.0:
            raise ValueError(f"target_share must be in (0, 1), got {self.target_share}")
        if list(self.age_band_edges) != sorted(set(self.age_band_edges)):
            raise ValueError("age_band_edges must be strictly increasing")
        unknown = set(self.attributes) - {"gender", "age_band"}
        if unknown:
            raise ValueError(f"attributes can be gender and age_band, got {sorted(unknown)}")


@dataclass(frozen=True)
class Settings:
    """Validated ``propensity:`` section."""

    # One model per outcome: upgrade, add_line, adopt:<service>.
    outcomes: tuple[str, ...] = ("upgrade", "add_line", "adopt:streaming", "adopt:cloud")
    # The label of snapshot T: the outcome happens in (T, T + horizon_days].
    horizon_days: int = 14
    # Outcomes in (T - lookback_days, T] are "prior": excluded rows or a feature.
    lookback_days: int = 90
    prior_outcome: PriorPolicy = "exclude"
    # Training snapshots, oldest first; the last two are validation and test (out of time).
    # Empty: the train job needs --snapshot-dates.
    snapshot_dates: tuple[dt.date, ...] = ()
    # Categorical inputs (nominal): segment ids and attributes of the subscriber's own number.
    segment_columns: tuple[str, ...] = ("macro_segment_id", "micro_segment_id")
    # String columns of the behavioral vectors used as categories. The device's TAC is how
    # a model sees device age (upgrades) without a TAC reference table.
    behavior_categorical: tuple[str, ...] = ("tc_plan", "tc_plan_type", "tc_device_tac")
    # A category keeps its most frequent levels in the training rows; the rest (and levels
    # first seen at scoring) share one "other" level. Keeps a column with thousands of
    # values (TACs on a real network) within the trees' bins.
    max_category_levels: int = 50
    number_columns: tuple[str, ...] = ("country_iso", "number_type", "carrier")
    # Never model inputs, whatever a feature table contains.
    protected_columns: tuple[str, ...] = ("birth_year", "gender")
    # Feature columns never used (identifiers, bookkeeping).
    exclude_features: tuple[str, ...] = ()
    seed: int = 7
    search: SearchSettings = field(default_factory=SearchSettings)
    fairness: FairnessSettings = field(default_factory=FairnessSettings)
    experiment: str = "telcoseg-propensity"
    model_prefix: str = "telcoseg_propensity"
    promotion_metric: PromotionMetric = "roc_auc"
    # The candidate must beat the champion's out-of-time metric by more than this.
    min_improvement: float = 0.0
    # Rows logged as the MLflow input example.
    input_example_rows: int = 5

    def __post_init__(self) -> None:
        if not self.outcomes:
            raise ValueError("outcomes must name at least one outcome")
        for outcome in self.outcomes:
            if outcome not in ("upgrade", "add_line") and not (
                outcome.startswith("adopt:") and len(outcome) > len("adopt:")
            ):
                raise ValueError(
                    f"outcome must be upgrade, add_line or adopt:<service>: {outcome!r}"
                )
        if len(set(self.outcomes)) != len(self.outcomes):
            raise ValueError("outcomes must not repeat")
        if self.max_category_levels < 1:
            raise ValueError(f"max_category_levels must be >= 1, got {self.max_category_levels}")
        if self.horizon_days < 1 or self.lookback_days < 0:
            raise ValueError("horizon_days must be >= 1 and lookback_days >= 0")
        if list(self.snapshot_dates) != sorted(set(self.snapshot_dates)):
            raise ValueError("snapshot_dates must be strictly increasing")
