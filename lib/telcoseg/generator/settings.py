"""The ``generator:`` config section: size, seed, dates, file formats and planted faults."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

FORMATS = ("csv", "csv.gz", "parquet")
# Own subscribers live in these ranges (libphonenumber: valid GB mobiles of one carrier),
# one million numbers each.
OWN_RANGE_COUNT = 5


@dataclass(frozen=True)
class Settings:
    """How the synthetic operator data is generated. Defaults: a quick demo."""

    seed: int = 42
    subscribers: int = 2000
    days: int = 28
    end_date: dt.date = dt.date(2026, 3, 29)
    # Snapshot dates of the outcome truth; empty = (end_date - horizon, end_date).
    snapshot_dates: tuple[dt.date, ...] = ()
    horizon_days: int = 14
    # Per-day sources (cdr, app_usage) rotate through these formats day by day; the small
    # sources are split into one file per format.
    formats: tuple[str, ...] = FORMATS
    files_per_day: int = 2
    cells: int = 900
    community_size: int = 40
    # Fraction of extra, deliberately broken rows per source (one fault per row).
    bad_row_fraction: float = 0.01
    bad_row_fraction_by_source: dict[str, float] = field(default_factory=dict)
    # Extra exact copies of CDR events (half within the same file, half in a resend file).
    duplicate_fraction: float = 0.005
    simbox_fraction: float = 0.004
    simbox_sims_per_device: int = 4
    call_center_fraction: float = 0.006
    call_center_lines_per_site: int = 10
    include_new_persona: bool = False
    new_persona_weight: float = 0.12
    # Relative weights of the regular personas; empty = built-in mix.
    persona_weights: dict[str, float] = field(default_factory=dict)
    # How strongly a persona sets its subscribers' age: birth year = population mean +
    # link * (persona mean - population mean) + noise. 1 = age follows the persona (an
    # accurate behavioural model then selects age bands very unequally and the fairness
    # gate blocks it); 0 = age independent of behaviour (a fair accurate model exists).
    age_persona_link: float = 1.0
    default_region: str = "GB"
    national_format_share: float = 0.3
    spike_prefix: str = "+441132"
    spike_start_offset_days: int = 5  # days after the first day
    spike_days: int = 2
    spike_subscriber_share: float = 0.15
    spike_calls_per_day: float = 4.0
    campaign_target_share: float = 0.35
    treatment_share: float = 0.8

    def __post_init__(self) -> None:
        if self.subscribers < 20:
            raise ValueError(f"subscribers must be >= 20, got {self.subscribers}")
        if self.subscribers > OWN_RANGE_COUNT * 1_000_000:
            raise ValueError(f"subscribers must be <= {OWN_RANGE_COUNT * 1_000_000}")
        if self.days < 1:
            raise ValueError(f"days must be >= 1, got {self.days}")
        if not self.formats or any(f not in FORMATS for f in self.formats):
            raise ValueError(f"formats must be a non-empty list of {list(FORMATS)}")
        for name in ("bad_row_fraction", "duplicate_fraction", "simbox_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value < 0.5:
                raise ValueError(f"{name} must be in [0, 0.5), got {value}")
        if self.simbox_fraction + self.call_center_fraction > 0.3:
            raise ValueError("simbox_fraction + call_center_fraction must be <= 0.3")
        if self.files_per_day < 1 or self.cells < 30:
            raise ValueError("files_per_day must be >= 1 and cells >= 30")
        if not self.spike_prefix.startswith("+") or not self.spike_prefix[1:].isdigit():
            raise ValueError(f"spike_prefix must look like +441132, got {self.spike_prefix!r}")
        if not 0.0 <= self.age_persona_link <= 1.0:
            raise ValueError(f"age_persona_link must be in [0, 1], got {self.age_persona_link}")
        if self.horizon_days < 1:
            raise ValueError("horizon_days must be >= 1")

    @property
    def start_date(self) -> dt.date:
        """First day of generated activity."""
        return self.end_date - dt.timedelta(days=self.days - 1)

    @property
    def snapshots(self) -> tuple[dt.date, ...]:
        """The snapshot dates of the outcome truth (explicit or derived)."""
        if self.snapshot_dates:
            return tuple(sorted(self.snapshot_dates))
        first = self.end_date - dt.timedelta(days=self.horizon_days)
        return (first, self.end_date) if first >= self.start_date else (self.end_date,)

    def bad_fraction(self, source: str) -> float:
        """Bad-row fraction of ``source`` (per-source override or the global one)."""
        by_source: Mapping[str, float] = self.bad_row_fraction_by_source
        return float(by_source.get(source, self.bad_row_fraction))

    def day(self, index: int) -> dt.date:
        return self.start_date + dt.timedelta(days=index)

    def format_for_day(self, index: int) -> str:
        return self.formats[index % len(self.formats)]
