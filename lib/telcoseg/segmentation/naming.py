"""Plain-language segment names from the indicators that distinguish a segment.

Each indicator maps (by regular expression on its column name) to a phrase for "higher
than the population" and one for "lower". The name joins the phrases of the strongest
indicators, e.g. ``night-time video streamers, high mobility, mostly prepaid``.
Time-of-day phrases ("night-time") are adjectives that go in front of the first noun.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Phrase:
    pattern: str
    high: str | None
    low: str | None
    adjective: bool = False  # goes in front of the first noun phrase


VOCABULARY: tuple[Phrase, ...] = (
    Phrase(r"night|nocturnal", "night-time", "daytime", adjective=True),
    Phrase(r"app_share_video", "video streamers", "few video"),
    Phrase(r"app_share_social", "social media fans", None),
    Phrase(r"app_share_music", "music listeners", None),
    Phrase(r"app_share_gaming", "gamers", None),
    Phrase(r"app_share_messaging", "messaging app users", None),
    Phrase(r"app_share_navigation", "navigation users", None),
    Phrase(r"app_share_shopping", "online shoppers", None),
    Phrase(r"app_share_news", "news readers", None),
    Phrase(r"app_share_productivity", "productivity app users", None),
    Phrase(r"plan_type__prepaid", "mostly prepaid", "mostly postpaid"),
    Phrase(r"plan_type__postpaid", "mostly postpaid", "mostly prepaid"),
    Phrase(r"roaming", "frequent roamers", None),
    Phrase(r"international", "international callers", "domestic callers"),
    Phrase(
        r"radius_of_gyration|number_of_antennas|entropy_of_antennas|frequent_antennas",
        "high mobility",
        "low mobility",
    ),
    Phrase(r"percent_at_home", "home-centred", "often away from home"),
    Phrase(r"churn_rate", "changing places week to week", "same places every week"),
    Phrase(r"data_bytes|data_sessions|app_bytes|app_sessions", "heavy data users", "light data"),
    Phrase(r"call_duration", "long calls", "short calls"),
    Phrase(
        r"(number_of_interaction\w*|interactions_per_contact)__\w*__text|sms",
        "heavy texters",
        "few texts",
    ),
    Phrase(
        r"(number_of_interaction\w*|interactions_per_contact)__\w*__call|voice",
        "heavy callers",
        "few calls",
    ),
    Phrase(r"number_of_contacts|entropy_of_contacts", "wide social circle", "few contacts"),
    Phrase(r"spend|monthly_fee", "high spenders", "low spenders"),
    Phrase(r"tenure", "long-standing customers", "recent joiners"),
    Phrase(r"active_days", "active every day", "occasionally active"),
    Phrase(r"lines_per_account", "multi-line accounts", None),
    Phrase(r"devices", "several devices", None),
    Phrase(r"response_rate|response_delay", "responsive texters", None),
)

_PREFIXES = re.compile(r"^(bc_|tc_)")


def readable(indicator: str) -> str:
    """``bc_radius_of_gyration__allweek__allday__mean`` -> ``radius of gyration``."""
    core = _PREFIXES.sub("", indicator).split("__")[0]
    return core.replace("_", " ")


def phrase_for(indicator: str, z: float) -> tuple[str, bool]:
    """(phrase, is_adjective) for ``indicator`` being higher (z > 0) or lower."""
    for p in VOCABULARY:
        if re.search(p.pattern, indicator):
            text = p.high if z > 0 else p.low
            if text:
                return text, p.adjective
            break
    return f"{'high' if z > 0 else 'low'} {readable(indicator)}", False


def segment_name(
    distinguishing: Sequence[tuple[str, float]], max_phrases: int = 3, min_z: float = 0.4
) -> str:
    """A name from (indicator, standardized difference) pairs, strongest first.

    Phrases repeat across indicators (several mobility measures): each is used once.
    """
    ordered = sorted(distinguishing, key=lambda p: -abs(p[1]))
    adjectives: list[str] = []
    nouns: list[str] = []
    for indicator, z in ordered:
        if abs(z) < min_z:
            continue
        text, is_adj = phrase_for(indicator, z)
        if text in adjectives or text in nouns:
            continue
        # One time-of-day adjective in front; up to ``max_phrases`` noun phrases.
        if is_adj and not adjectives:
            adjectives.append(text)
        elif not is_adj and len(nouns) < max_phrases:
            nouns.append(text)
    if not adjectives and not nouns:
        return "typical subscribers"
    if not nouns:
        return " ".join(adjectives) + " users"
    head = " ".join([*adjectives, nouns[0]])
    return ", ".join([head, *nouns[1:]])


def unique_names(names: Sequence[str], ids: Sequence[str]) -> list[str]:
    """Suffix duplicates with their segment id so every name points at one segment."""
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    return [f"{n} ({i})" if seen[n] > 1 else n for n, i in zip(names, ids, strict=True)]
