"""The ``features:`` config section: window, snapshot, bandicoot options, telco options."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DEFAULT_APP_CATEGORIES = (
    "video",
    "social",
    "music",
    "gaming",
    "messaging",
    "navigation",
    "shopping",
    "news",
    "productivity",
    "other",
)


def parse_time_of_day(text: str) -> int:
    """``"19:00"`` or ``"19:00:00"`` -> seconds since midnight (raises ValueError)."""
    try:
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        raise ValueError(f"expected HH:MM[:SS], got {text!r}") from None
    if not 2 <= len(parts) <= 3:
        raise ValueError(f"expected HH:MM[:SS], got {text!r}")
    h, m, s = (*parts, 0)[:3]
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 60):
        raise ValueError(f"time of day out of range: {text!r}")
    return h * 3600 + m * 60 + s


@dataclass(frozen=True)
class Settings:
    """Validated ``features:`` section (defaults reproduce ``bandicoot.utils.all``)."""

    # Days ending at the snapshot date (inclusive) whose records are featurized.
    window_days: int = 28
    # None: the job requires --snapshot-date.
    snapshot_date: dt.date | None = None
    # bandicoot's split_week / split_day: add weekday/weekend and day/night variants.
    split_week: bool = False
    split_day: bool = False
    # bandicoot User defaults: weekend = ISO days 6, 7; night = 19:00 -> 07:00.
    weekend: tuple[int, ...] = (6, 7)
    night_start: str = "19:00:00"
    night_end: str = "07:00:00"
    # bandicoot's percentage argument of percent_pareto_* and frequent_antennas.
    pareto_percentage: float = 0.8
    # Featurize only these subscriber_ids (empty: everyone).
    subscribers: tuple[str, ...] = ()
    # App categories that get a share column; other labels count as "other".
    app_categories: tuple[str, ...] = DEFAULT_APP_CATEGORIES
    # Output partitions of the feature computation (records are clustered by subscriber).
    partitions: int = 8
    # Keep each complete ISO week's individual indicators in gold/bandicoot_weekly and
    # reuse them in later snapshots whose window holds the same week (features/weekly_store).
    weekly_cache: bool = True
    # Kept weeks that start more than this many days before a window are dropped (0: kept).
    weekly_cache_days: int = 56

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise ValueError(f"window_days must be >= 1, got {self.window_days}")
        bad_days = [d for d in self.weekend if not 1 <= d <= 7]
        if bad_days:
            raise ValueError(f"weekend days are ISO weekdays 1..7, got {bad_days}")
        parse_time_of_day(self.night_start)
        parse_time_of_day(self.night_end)
        if not 0.0 < self.pareto_percentage <= 1.0:
            raise ValueError(f"pareto_percentage must be in (0, 1], got {self.pareto_percentage}")
        if "other" not in self.app_categories:
            raise ValueError("app_categories must include 'other' (it collects unlisted labels)")
        if self.weekly_cache_days < 0:
            raise ValueError(f"weekly_cache_days must be >= 0, got {self.weekly_cache_days}")
        if self.partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {self.partitions}")

    @property
    def night_start_s(self) -> int:
        return parse_time_of_day(self.night_start)

    @property
    def night_end_s(self) -> int:
        return parse_time_of_day(self.night_end)
