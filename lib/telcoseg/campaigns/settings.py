"""The ``campaigns:`` config section: offers to target and how A/B results are judged.

Every key has a default, so a config without a ``campaigns:`` section loads (with no
offers: ``--mode target`` then has nothing to do and says so).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

Channel = Literal["sms", "email", "app", "call"]


@dataclass(frozen=True)
class Offer:
    """One offer to target: who may get it, how they are ranked, how many, through what.

    ``segments`` lists eligible micro_segment_ids (``["*"]`` = every segment, including
    subscribers without a segment). Subscribers are ranked by
    ``propensity(outcome) * value_per_conversion`` (times the segment's measured uplift
    index when ``use_uplift`` and a previous A/B table measured this offer).
    ``budget`` caps the whole audience and ``max_per_segment`` each micro segment; both
    count audience rows, i.e. contacts plus held-out controls (so roughly
    ``budget * (1 - control_share)`` subscribers are contacted).
    """

    campaign_id: str
    outcome: str
    offer: str = ""
    segments: tuple[str, ...] = ("*",)
    value_per_conversion: float = 1.0
    budget: int | None = None
    max_per_segment: int | None = None
    channel: Channel = "sms"
    control_share: float = 0.2
    min_propensity: float = 0.0
    use_uplift: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.control_share < 1.0:
            raise ValueError(
                f"offer {self.campaign_id}: control_share must be in (0, 1), "
                f"got {self.control_share}"
            )
        for name in ("budget", "max_per_segment"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"offer {self.campaign_id}: {name} must be > 0, got {value}")
        if not self.segments:
            raise ValueError(f"offer {self.campaign_id}: segments must not be empty (use ['*'])")
        if self.value_per_conversion < 0:
            raise ValueError(f"offer {self.campaign_id}: value_per_conversion must be >= 0")


@dataclass(frozen=True)
class ContactPolicy:
    """Fatigue and consent rules applied before ranking.

    A subscriber contacted (treatment arm) ``max_contacts`` times in the ``period_days``
    days before the snapshot, by earlier audiences or by sent campaigns, is skipped.
    Opt-outs come from a Delta table with a ``subscriber_id`` column and/or a literal list.
    """

    max_contacts: int = 2
    period_days: int = 30
    opt_out_table: str = ""
    opt_out_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_contacts < 1 or self.period_days < 1:
            raise ValueError("contact_policy: max_contacts and period_days must be >= 1")


@dataclass(frozen=True)
class Settings:
    """Offers, contact policy and the A/B analysis thresholds."""

    offers: tuple[Offer, ...] = ()
    contact_policy: ContactPolicy = field(default_factory=ContactPolicy)
    snapshot_date: dt.date | None = None
    # A/B analysis
    confidence: float = 0.95
    correction: Literal["bh", "holm"] = "bh"
    # interval of the absolute lift; Wald is too narrow with few conversions
    diff_interval: Literal["newcombe", "wald"] = "newcombe"
    alpha: float = 0.05  # on the corrected p-values
    min_per_arm: int = 100  # fewer subjects in an arm -> is_small_sample warning
    min_conversions: int = 5  # fewer conversions in an arm -> also a warning (Wald CIs break)
    srm_alpha: float = 0.001  # chi-square p below this -> has_srm (sample-ratio mismatch)
    default_control_share: float = 0.2  # for campaigns no offer here describes
    max_uplift_index: float = 3.0  # cap of the segment uplift multiplier in targeting

    def __post_init__(self) -> None:
        if not 0.5 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0.5, 1), got {self.confidence}")
        if not 0.0 < self.default_control_share < 1.0:
            raise ValueError("default_control_share must be in (0, 1)")
        ids = [o.campaign_id for o in self.offers]
        if len(ids) != len(set(ids)):
            raise ValueError(f"offers: campaign_id must be unique, got {ids}")

    def control_share(self, campaign_id: str) -> float:
        """Planned control share of a campaign (its offer's, else the default)."""
        for o in self.offers:
            if o.campaign_id == campaign_id:
                return o.control_share
        return self.default_control_share
