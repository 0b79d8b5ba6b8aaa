"""The bandicoot 0.6.0 indicator catalogue: names, scopes, flattened keys and column names.

``bandicoot.utils.all(user, flatten=True)`` names a value
``<indicator>__<part_of_week>__<part_of_day>[__<interaction>][__<inner>]__<outer>``:
``inner`` is the per-week statistic of a distribution indicator (``mean``/``std`` of e.g.
the call durations of one week) and ``outer`` the statistic over weeks. ``churn_rate`` is
not split (``churn_rate__mean``/``__std``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from telcoseg.features.settings import Settings

COLUMN_PREFIX = "bc_"
STATS = ("mean", "std")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Indicator:
    """One bandicoot indicator as ``utils.all`` reports it."""

    name: str
    interactions: tuple[str, ...]  # () for spatial indicators (all records)
    summary: bool  # True: per-week distribution reported as mean/std (SummaryStats)
    meaning: str
    unit: str


INDIVIDUAL: tuple[Indicator, ...] = (
    Indicator("active_days", ("callandtext",), False, "days with at least one record", "days"),
    Indicator("number_of_contacts", ("call", "text"), False, "distinct correspondents", "count"),
    Indicator("call_duration", ("call",), True, "call duration (missed calls = 0)", "s"),
    Indicator("percent_nocturnal", ("call", "text"), False, "share of records at night", "ratio"),
    Indicator(
        "percent_initiated_conversations",
        ("callandtext",),
        False,
        "share of text conversations started by the user (calls are not counted)",
        "ratio",
    ),
    Indicator(
        "percent_initiated_interactions", ("call",), False, "share of outgoing calls", "ratio"
    ),
    Indicator(
        "response_delay_text",
        ("callandtext",),
        True,
        "delay of an outgoing text answering an incoming one in a conversation (> 0 only)",
        "s",
    ),
    Indicator(
        "response_rate_text",
        ("callandtext",),
        False,
        "share of conversations started by an incoming text that got an answer",
        "ratio",
    ),
    Indicator(
        "entropy_of_contacts", ("call", "text"), False, "Shannon entropy of contacts", "nats"
    ),
    Indicator(
        "balance_of_contacts",
        ("call", "text"),
        True,
        "per contact: outgoing records with it / all records (weighted balance)",
        "ratio",
    ),
    Indicator("interactions_per_contact", ("call", "text"), True, "records per contact", "count"),
    Indicator("interevent_time", ("call", "text"), True, "time between consecutive records", "s"),
    Indicator(
        "percent_pareto_interactions",
        ("call", "text"),
        False,
        "contacts that make 80% of the records, divided by the number of records",
        "ratio",
    ),
    Indicator(
        "percent_pareto_durations",
        ("call",),
        False,
        "contacts that make 80% of call time, divided by the number of calls",
        "ratio",
    ),
    Indicator("number_of_interactions", ("call", "text"), False, "records", "count"),
    Indicator("number_of_interaction_in", ("call", "text"), False, "incoming records", "count"),
    Indicator("number_of_interaction_out", ("call", "text"), False, "outgoing records", "count"),
)

SPATIAL: tuple[Indicator, ...] = (
    Indicator("number_of_antennas", (), False, "distinct antennas (30-min bins)", "count"),
    Indicator("entropy_of_antennas", (), False, "Shannon entropy of antennas (bins)", "nats"),
    Indicator("percent_at_home", (), False, "share of 30-min bins at the home antenna", "ratio"),
    Indicator("radius_of_gyration", (), False, "radius of gyration of located bins", "km"),
    Indicator("frequent_antennas", (), False, "antennas that make 80% of the 30-min bins", "count"),
)

CHURN = Indicator(
    "churn_rate", (), False, "cosine distance of antenna frequencies of consecutive weeks", "1"
)

ALL_INDICATORS: tuple[Indicator, ...] = (*INDIVIDUAL, *SPATIAL, CHURN)


def parts_of_week(settings: Settings) -> tuple[str, ...]:
    return ("allweek", "weekday", "weekend") if settings.split_week else ("allweek",)


def parts_of_day(settings: Settings) -> tuple[str, ...]:
    return ("allday", "day", "night") if settings.split_day else ("allday",)


def time_scopes(settings: Settings) -> list[str]:
    """``part_of_week__part_of_day`` combinations, in bandicoot's order."""
    return [f"{w}__{d}" for w in parts_of_week(settings) for d in parts_of_day(settings)]


def indicator_keys(ind: Indicator, settings: Settings) -> list[tuple[str, str, str, str]]:
    """(flattened key, scope, per-week column, outer stat) for every value of ``ind``."""
    if ind is CHURN:
        return [(f"{ind.name}__{s}", "churn", ind.name, s) for s in STATS]
    out = []
    for ts in time_scopes(settings):
        scopes = [f"{ts}__{i}" for i in ind.interactions] if ind.interactions else [ts]
        for scope in scopes:
            inners = [f"{ind.name}__{s}" for s in STATS] if ind.summary else [ind.name]
            for inner in inners:
                inner_stat = inner[len(ind.name) :]
                for outer in STATS:
                    out.append((f"{ind.name}__{scope}{inner_stat}__{outer}", scope, inner, outer))
    return out


def bandicoot_keys(settings: Settings) -> list[str]:
    """Every flattened key of ``bandicoot.utils.all`` except ``name`` and ``reporting__*``,
    in bandicoot's order."""
    return [k for ind in ALL_INDICATORS for k, *_ in indicator_keys(ind, settings)]


def bandicoot_key_to_column(key: str) -> str:
    """Spark/Delta-safe column of a bandicoot key: ``bc_`` + the key.

    bandicoot keys are already lower-case ``[a-z0-9_]``; the prefix keeps them apart from
    telcoseg's own ``tc_`` features. The mapping is one-to-one (see
    :func:`column_to_bandicoot_key`).
    """
    if not _KEY_RE.match(key):
        raise ValueError(f"not a bandicoot flattened key: {key!r}")
    return COLUMN_PREFIX + key


def column_to_bandicoot_key(column: str) -> str:
    """Inverse of :func:`bandicoot_key_to_column`."""
    if not column.startswith(COLUMN_PREFIX):
        raise ValueError(f"not a bandicoot feature column: {column!r}")
    return column[len(COLUMN_PREFIX) :]
