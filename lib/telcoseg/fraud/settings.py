"""The ``fraud:`` config section: window, score rules, allow-list, labels, range anomalies.

The default rule set lives here (and is repeated in ``conf/telcoseg.yaml`` so that it can be
read and tuned there; a test keeps both equal).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Rule:
    """One named piece of evidence: a ramp on one indicator, weighted.

    The rule contributes ``weight * clip((x - start) / (full - start), 0, 1)``: nothing at
    ``start``, all of its weight at ``full``. ``full < start`` means "low values are
    suspicious". With ``zscore`` the ramp is on the indicator's robust z-score within the
    scored population instead of the raw value. A negative weight makes a mitigating
    rule (evidence of legitimate use) that subtracts from the score.
    """

    indicator: str
    start: float
    full: float
    weight: float
    zscore: bool = False
    text: str = ""

    def __post_init__(self) -> None:
        if self.start == self.full:
            raise ValueError(f"rule on {self.indicator}: start and full must differ")
        if self.weight == 0:
            raise ValueError(f"rule on {self.indicator}: weight must not be 0")


DEFAULT_RULES: dict[str, Rule] = {
    # --- SIM-box evidence: an automated line re-originating gateway traffic
    "outgoing_voice_only": Rule(
        "voice_out_share", 0.80, 0.97, 2.0, text="almost every event is an outgoing call"
    ),
    "no_incoming_calls": Rule("in_out_ratio", 0.10, 0.01, 1.5, text="hardly any call comes in"),
    "many_counterparties": Rule(
        "distinct_out_per_day", 20.0, 80.0, 2.0, text="calls many distinct numbers per day"
    ),
    "counterparties_outlier": Rule(
        "distinct_out_per_day",
        4.0,
        10.0,
        1.0,
        zscore=True,
        text="distinct numbers per day far above the population",
    ),
    "never_called_back": Rule(
        "never_called_back_share", 0.85, 0.98, 2.0, text="the numbers it calls never call back"
    ),
    "no_sms": Rule("sms_share", 0.02, 0.0, 1.0, text="no SMS"),
    "no_data": Rule("data_day_share", 0.10, 0.0, 1.0, text="no data sessions"),
    "stationary": Rule("top_cell_share", 0.90, 0.99, 1.0, text="always at the same cell"),
    "round_the_clock": Rule(
        "night_share", 0.08, 0.20, 0.5, text="calls also at night (00-06 local)"
    ),
    "regular_rhythm": Rule(
        "burstiness", 0.10, -0.20, 0.5, text="calls follow a machine-like, non-bursty rhythm"
    ),
    "new_line": Rule("tenure_days", 120.0, 30.0, 0.5, text="recently activated line"),
    "shared_device": Rule(
        "max_sims_on_imei", 1.5, 3.0, 1.5, text="its device (IMEI) carries several SIMs"
    ),
    "device_hopping": Rule(
        "imeis_per_sim", 2.5, 5.0, 0.5, text="the SIM moves between many devices"
    ),
    "gateway_inbound": Rule(
        "intl_in_share", 0.5, 0.9, 0.5, text="incoming calls arrive from international gateways"
    ),
    # --- evidence of legitimate heavy use (call centers, businesses): subtracts
    "callbacks": Rule("callback_share", 0.15, 0.40, -2.0, text="called numbers also call back"),
    "incoming_traffic": Rule("in_out_ratio", 0.15, 0.40, -1.5, text="substantial incoming traffic"),
    "business_hours": Rule(
        "business_hours_share", 0.80, 0.95, -1.0, text="activity confined to business hours"
    ),
    "uses_data": Rule("data_day_share", 0.30, 0.70, -1.0, text="uses mobile data"),
    "long_tenure": Rule("tenure_days", 365.0, 1095.0, -0.5, text="long-standing line"),
    "postpaid": Rule("is_postpaid", 0.0, 1.0, -0.5, text="postpaid contract"),
}


@dataclass(frozen=True)
class AllowList:
    """Lines that are never alerted (they are still scored and counted in the logs).

    ``subscriber_ids``: pseudonymized ids; ``table``: a Delta table with a
    ``subscriber_id`` column (e.g. maintained by the fraud team); ``plans``: plan names
    (case-insensitive) such as business voice plans.
    """

    subscriber_ids: tuple[str, ...] = ()
    table: str = ""
    plans: tuple[str, ...] = ()


@dataclass(frozen=True)
class Labels:
    """Confirmed cases for the supervised model (optional).

    ``table``: a Delta table with ``subscriber_id`` and boolean ``is_fraud``. Lines that are
    not labelled count as negatives when ``unlabeled_as_negative`` (only fraud is known).
    """

    fraud_ids: tuple[str, ...] = ()
    legit_ids: tuple[str, ...] = ()
    table: str = ""
    unlabeled_as_negative: bool = True
    min_positives: int = 5
    min_negatives: int = 20
    # Final score = (1 - blend_weight) * rule score + blend_weight * model probability.
    blend_weight: float = 0.5
    model: Literal["logistic_regression", "gbt"] = "logistic_regression"
    seed: int = 7

    def __post_init__(self) -> None:
        if not 0.0 <= self.blend_weight <= 1.0:
            raise ValueError(f"blend_weight must be in [0, 1], got {self.blend_weight}")


@dataclass(frozen=True)
class Anomalies:
    """Number-range spike detection: daily count per segment vs its trailing baseline."""

    # Segment dimensions: counterparty attributes and the subscriber's own-number attributes.
    dimensions: tuple[str, ...] = (
        "counterparty_country_iso",
        "counterparty_number_region",
        "counterparty_carrier",
        "counterparty_number_type",
        "subscriber_number_region",
        "subscriber_carrier",
    )
    event_types: tuple[str, ...] = ("voice", "sms")
    # Days evaluated (ending at the snapshot) and the trailing baseline before each day.
    eval_days: int = 28
    baseline_days: int = 14
    min_baseline_days: int = 4
    # Flag when robust z >= z_threshold and count >= min_count and count >= min_ratio * median.
    z_threshold: float = 6.0
    min_count: int = 30
    min_ratio: float = 2.0

    def __post_init__(self) -> None:
        if self.eval_days < 1 or self.baseline_days < 1:
            raise ValueError("eval_days and baseline_days must be >= 1")
        if not 1 <= self.min_baseline_days <= self.baseline_days:
            raise ValueError("min_baseline_days must be in [1, baseline_days]")


@dataclass(frozen=True)
class Settings:
    """Validated ``fraud:`` section."""

    window_days: int = 28
    snapshot_date: dt.date | None = None
    # Bumped by hand when indicators change meaning; a hash of the rules is appended.
    score_version: str = "simbox-rules-1"
    rules: dict[str, Rule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    # A line is alerted when its score reaches this and it has enough outgoing calls.
    alert_threshold: float = 0.55
    min_out_calls: int = 100
    max_alerts: int = 0  # 0 = no cap
    # Robust z-scores: MAD floor so that near-constant indicators do not explode.
    mad_floor: float = 1.0
    # Indicators copied into every alert (besides the ones that fired).
    key_indicators: tuple[str, ...] = (
        "voice_out_calls",
        "voice_out_share",
        "in_out_ratio",
        "distinct_out_per_day",
        "never_called_back_share",
        "sms_share",
        "data_day_share",
        "top_cell_share",
        "max_sims_on_imei",
        "tenure_days",
    )
    # Optional columns of gold behavior_vectors joined as extra indicators (name -> column).
    vector_columns: dict[str, str] = field(
        default_factory=lambda: {
            "app_bytes": "tc_app_bytes",
            "lines_per_account": "tc_lines_per_account",
        }
    )
    business_hours: tuple[int, int] = (8, 19)  # local [start, end) hour, Mon-Fri
    allow_list: AllowList = field(default_factory=AllowList)
    labels: Labels = field(default_factory=Labels)
    anomalies: Anomalies = field(default_factory=Anomalies)

    def __post_init__(self) -> None:
        if self.window_days < 2:
            raise ValueError(f"window_days must be >= 2, got {self.window_days}")
        if not self.rules or not any(r.weight > 0 for r in self.rules.values()):
            raise ValueError("rules need at least one rule with a positive weight")
        if not 0.0 < self.alert_threshold <= 1.0:
            raise ValueError(f"alert_threshold must be in (0, 1], got {self.alert_threshold}")
        if self.max_alerts < 0 or self.min_out_calls < 0:
            raise ValueError("max_alerts and min_out_calls must be >= 0")
        start, end = self.business_hours
        if not 0 <= start < end <= 24:
            raise ValueError(f"business_hours must be 0 <= start < end <= 24, got {start}, {end}")

    def version(self, with_model: bool = False) -> str:
        """``score_version`` plus a short hash of everything that changes scores."""
        payload = {
            "rules": {k: asdict(v) for k, v in sorted(_items(self.rules))},
            "threshold": self.alert_threshold,
            "min_out_calls": self.min_out_calls,
            "mad_floor": self.mad_floor,
            "business_hours": list(self.business_hours),
            "blend": self.labels.blend_weight if with_model else None,
            "model": self.labels.model if with_model else None,
        }
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.score_version}+{digest}" + ("+model" if with_model else "")


def _items(mapping: Mapping[str, Rule]) -> list[tuple[str, Rule]]:
    return list(mapping.items())
