"""The ``segmentation:`` config section: indicators, transforms, k ranges, id matching."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# Default indicator selection: the all-week/all-day bandicoot means and every telco
# indicator. Globs skip non-numeric columns quietly; a column named exactly must exist.
DEFAULT_INDICATORS = (
    "bc_*__allweek__allday__*mean",
    "bc_churn_rate__*mean",
    "tc_*",
)
# Raw counts/ids that duplicate other indicators or carry no behavior.
DEFAULT_EXCLUDE = ("tc_data_bytes_up", "tc_device_tac", "tc_plan")
DEFAULT_PROTECTED = ("birth_year", "gender", "age", "age_band")


@dataclass(frozen=True)
class Settings:
    """Validated ``segmentation:`` section."""

    # Input columns: exact names or shell globs; ["*"] = every numeric column.
    indicators: tuple[str, ...] = DEFAULT_INDICATORS
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    # Categorical columns turned into 0/1 indicators, e.g. {tc_plan_type: [prepaid]}.
    categorical: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"tc_plan_type": ("prepaid",)}
    )
    # Never inputs; configuring one of them is an error.
    protected: tuple[str, ...] = DEFAULT_PROTECTED
    # Heavy-tailed columns: "signed_log" (sign(x) * log1p(|x|)), "quantile" (rank in
    # [0, 1] from quantile buckets) or "none". "auto" picks columns by skewness.
    transform: Literal["signed_log", "quantile", "none"] = "signed_log"
    heavy_tailed: tuple[str, ...] = ("auto",)
    skew_threshold: float = 2.0
    quantile_buckets: int = 100
    # k of the macro level: fixed, or chosen by silhouette in [min, max].
    k_macro: int | None = None
    k_macro_range: tuple[int, int] = (3, 10)
    # k of each macro segment's micro split: fixed, or by silhouette in [min, max].
    k_micro: int | None = None
    k_micro_range: tuple[int, int] = (2, 4)
    # A macro segment smaller than this many training rows per micro is not split.
    min_micro_size: int = 50
    # Silhouette must beat the best smaller k by this much to pick a larger k (parsimony).
    silhouette_tolerance: float = 0.01
    # Clustering is fitted on a sample of at most this many rows (everyone is assigned).
    train_sample_size: int = 200_000
    silhouette_sample_size: int = 10_000
    max_iter: int = 20
    min_divisible_cluster_size: float = 1.0
    seed: int = 7
    # Stable ids: a new centroid takes an old id when their RMS distance per indicator
    # (in the new model's standard deviations) is at most this.
    match_threshold: float = 0.5
    # Profiles: indicators listed per segment and the |standardized difference| floor.
    profile_top_n: int = 5
    profile_min_z: float = 0.4
    # Fairness view: counts below this are suppressed (null) in the audit table.
    fairness_min_cell: int = 10
    model_name: str = "telcoseg-segmentation"
    experiment: str = "telcoseg-segmentation"

    def __post_init__(self) -> None:
        if not self.indicators:
            raise ValueError("indicators must not be empty (use ['*'] for every numeric column)")
        for name in ("k_macro_range", "k_micro_range"):
            lo, hi = getattr(self, name)
            if not 2 <= lo <= hi:
                raise ValueError(f"{name} must be [min, max] with 2 <= min <= max, got {[lo, hi]}")
        for name in ("k_macro", "k_micro"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if self.match_threshold <= 0:
            raise ValueError(f"match_threshold must be > 0, got {self.match_threshold}")
        if self.train_sample_size < 100 or self.silhouette_sample_size < 100:
            raise ValueError("train_sample_size and silhouette_sample_size must be >= 100")
        if self.quantile_buckets < 2:
            raise ValueError(f"quantile_buckets must be >= 2, got {self.quantile_buckets}")
