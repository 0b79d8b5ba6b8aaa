"""Latent behavioral personas: the hidden truth that drives every generated behavior.

A persona fixes rates (calls, SMS, data), rhythms (hour of day, day of week), mobility,
social graph shape, app mix, plan and the persona part of outcome and campaign response.
Personas are written to the truth folder only, never to the landing zone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyspark.sql.functions as F
from pyspark.sql import Column

from telcoseg.generator.literals import const_array, lookup
from telcoseg.generator.settings import Settings

CATEGORIES = (
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

SIMBOX = "simbox"
CALL_CENTER = "call_center"
NEW_PERSONA = "gig_driver"


def _hours(*bumps: tuple[float, float, float], base: float = 0.05) -> tuple[float, ...]:
    """24 hourly weights: a floor plus Gaussian bumps (center hour, width, height)."""
    weights = []
    for h in range(24):
        w = base
        for center, width, height in bumps:
            d = min(abs(h - center), 24 - abs(h - center))  # circular distance
            w += height * math.exp(-0.5 * (d / width) ** 2)
        weights.append(w)
    return tuple(weights)


@dataclass(frozen=True)
class Persona:
    """Behavior parameters of one persona (rates are per day, means)."""

    name: str
    weight: float
    voice_out: float
    voice_in: float
    sms_out: float
    sms_in: float
    data_sessions: float
    data_mb: float  # median MB per day
    voice_median_s: float
    missed_share: float
    comm_hours: tuple[float, ...]
    data_hours: tuple[float, ...]
    week: tuple[float, ...]  # Mon..Sun multipliers
    p_home: float  # share of events at the home cell (outside work time)
    p_work: float  # share of working-hour weekday events at the work cell
    p_far: float  # share of remaining events in another city
    contacts: float
    reciprocity: float  # share of contacts who also call / text in
    onnet: float
    intl: float
    fixed: float
    short: float
    apps: tuple[float, ...]  # weights over CATEGORIES
    roaming_days: float  # probability that a day is spent abroad
    prepaid: float
    birth_year: float
    device_age_m: float  # mean device age in months
    # persona part of the outcome logits: upgrade, add_line, streaming, cloud
    outcome_bias: tuple[float, float, float, float]


WEEKDAY_HEAVY = (1.1, 1.1, 1.1, 1.1, 1.05, 0.7, 0.55)
FLAT = (1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 1.0)
WEEKEND_HEAVY = (0.9, 0.9, 0.9, 0.95, 1.1, 1.3, 1.2)

PERSONAS: tuple[Persona, ...] = (
    Persona(
        name="night_streamer",
        weight=0.18,
        voice_out=1.5,
        voice_in=1.2,
        sms_out=2.0,
        sms_in=2.5,
        data_sessions=22.0,
        data_mb=1800.0,
        voice_median_s=70.0,
        missed_share=0.18,
        comm_hours=_hours((21, 3, 1.0), (16, 3, 0.5), base=0.08),
        data_hours=_hours((23.5, 2.5, 1.6), (18, 3, 0.6), base=0.05),
        week=WEEKEND_HEAVY,
        p_home=0.7,
        p_work=0.3,
        p_far=0.05,
        contacts=25,
        reciprocity=0.5,
        onnet=0.35,
        intl=0.02,
        fixed=0.02,
        short=0.05,
        apps=(6.0, 3.0, 2.0, 3.0, 2.0, 0.3, 0.5, 0.2, 0.1, 0.5),
        roaming_days=0.01,
        prepaid=0.65,
        birth_year=2003,
        device_age_m=14,
        outcome_bias=(0.4, -0.6, 1.0, -0.4),
    ),
    Persona(
        name="business_commuter",
        weight=0.17,
        voice_out=9.0,
        voice_in=7.5,
        sms_out=2.0,
        sms_in=3.0,
        data_sessions=12.0,
        data_mb=450.0,
        voice_median_s=150.0,
        missed_share=0.12,
        comm_hours=_hours((10, 2, 1.0), (15, 2.5, 1.0), (8, 1, 0.5), base=0.03),
        data_hours=_hours((8, 1.2, 1.0), (12.5, 1.5, 0.6), (18, 1.2, 0.9), base=0.05),
        week=WEEKDAY_HEAVY,
        p_home=0.8,
        p_work=0.85,
        p_far=0.15,
        contacts=90,
        reciprocity=0.75,
        onnet=0.25,
        intl=0.06,
        fixed=0.2,
        short=0.01,
        apps=(0.8, 0.8, 1.0, 0.1, 2.0, 1.5, 0.5, 1.5, 4.0, 0.8),
        roaming_days=0.06,
        prepaid=0.05,
        birth_year=1981,
        device_age_m=10,
        outcome_bias=(0.3, 0.2, -0.5, 1.1),
    ),
    Persona(
        name="homebody",
        weight=0.2,
        voice_out=1.2,
        voice_in=1.5,
        sms_out=0.8,
        sms_in=1.5,
        data_sessions=6.0,
        data_mb=220.0,
        voice_median_s=110.0,
        missed_share=0.1,
        comm_hours=_hours((11, 3, 0.8), (18, 3, 1.0), base=0.04),
        data_hours=_hours((20, 3, 1.0), (13, 3, 0.5), base=0.04),
        week=FLAT,
        p_home=0.95,
        p_work=0.1,
        p_far=0.01,
        contacts=12,
        reciprocity=0.7,
        onnet=0.3,
        intl=0.01,
        fixed=0.15,
        short=0.03,
        apps=(2.5, 1.5, 0.8, 0.8, 1.5, 0.1, 1.5, 1.0, 0.2, 1.0),
        roaming_days=0.003,
        prepaid=0.45,
        birth_year=1975,
        device_age_m=34,
        outcome_bias=(-0.5, -0.2, 0.3, -0.8),
    ),
    Persona(
        name="social_texter",
        weight=0.18,
        voice_out=1.0,
        voice_in=1.0,
        sms_out=22.0,
        sms_in=20.0,
        data_sessions=14.0,
        data_mb=700.0,
        voice_median_s=60.0,
        missed_share=0.2,
        comm_hours=_hours((13, 3, 0.8), (20, 2.5, 1.2), base=0.06),
        data_hours=_hours((13, 3, 0.8), (21, 2.5, 1.0), base=0.05),
        week=WEEKEND_HEAVY,
        p_home=0.6,
        p_work=0.4,
        p_far=0.05,
        contacts=60,
        reciprocity=0.85,
        onnet=0.4,
        intl=0.02,
        fixed=0.01,
        short=0.06,
        apps=(1.5, 6.0, 1.5, 0.5, 5.0, 0.4, 1.0, 0.3, 0.1, 0.7),
        roaming_days=0.015,
        prepaid=0.5,
        birth_year=1997,
        device_age_m=18,
        outcome_bias=(0.1, 0.1, 0.2, -0.2),
    ),
    Persona(
        name="diaspora_international",
        weight=0.12,
        voice_out=4.0,
        voice_in=3.0,
        sms_out=2.0,
        sms_in=2.0,
        data_sessions=9.0,
        data_mb=400.0,
        voice_median_s=420.0,
        missed_share=0.15,
        comm_hours=_hours((19, 2.5, 1.0), (9, 2, 0.6), base=0.05),
        data_hours=_hours((20, 3, 1.0), base=0.06),
        week=WEEKEND_HEAVY,
        p_home=0.8,
        p_work=0.6,
        p_far=0.03,
        contacts=20,
        reciprocity=0.8,
        onnet=0.15,
        intl=0.55,
        fixed=0.03,
        short=0.02,
        apps=(1.5, 1.5, 0.8, 0.3, 5.0, 0.3, 0.5, 0.8, 0.2, 1.0),
        roaming_days=0.04,
        prepaid=0.7,
        birth_year=1986,
        device_age_m=24,
        outcome_bias=(-0.2, 0.4, -0.2, -0.5),
    ),
    Persona(
        name="senior_voice",
        weight=0.15,
        voice_out=3.0,
        voice_in=3.5,
        sms_out=0.3,
        sms_in=1.0,
        data_sessions=0.6,
        data_mb=15.0,
        voice_median_s=200.0,
        missed_share=0.08,
        comm_hours=_hours((10.5, 2, 1.0), (16, 2.5, 0.8), base=0.01),
        data_hours=_hours((11, 3, 1.0), base=0.02),
        week=FLAT,
        p_home=0.92,
        p_work=0.05,
        p_far=0.02,
        contacts=10,
        reciprocity=0.85,
        onnet=0.3,
        intl=0.01,
        fixed=0.35,
        short=0.01,
        apps=(0.5, 0.3, 0.2, 0.05, 1.0, 0.2, 0.3, 2.0, 0.1, 1.0),
        roaming_days=0.004,
        prepaid=0.35,
        birth_year=1952,
        device_age_m=44,
        outcome_bias=(-1.0, -0.5, -1.2, -1.2),
    ),
    Persona(
        name=NEW_PERSONA,
        weight=0.0,  # switched on by include_new_persona
        voice_out=6.0,
        voice_in=4.0,
        sms_out=1.0,
        sms_in=2.0,
        data_sessions=30.0,
        data_mb=1200.0,
        voice_median_s=35.0,
        missed_share=0.1,
        comm_hours=_hours((12, 2, 1.0), (19, 2, 1.2), base=0.04),
        data_hours=_hours((12, 2, 1.0), (19.5, 2, 1.3), base=0.03),
        week=WEEKEND_HEAVY,
        p_home=0.2,
        p_work=0.1,
        p_far=0.25,
        contacts=150,
        reciprocity=0.2,
        onnet=0.2,
        intl=0.03,
        fixed=0.05,
        short=0.1,
        apps=(0.5, 0.5, 2.5, 0.1, 2.0, 8.0, 0.5, 0.2, 0.5, 1.0),
        roaming_days=0.0,
        prepaid=0.6,
        birth_year=1992,
        device_age_m=20,
        outcome_bias=(0.6, -0.3, -0.3, 0.4),
    ),
    Persona(
        name=SIMBOX,
        weight=0.0,  # assigned by id range, not drawn
        voice_out=220.0,
        voice_in=0.3,
        sms_out=0.0,
        sms_in=0.0,
        data_sessions=0.0,
        data_mb=0.0,
        voice_median_s=45.0,
        missed_share=0.25,
        comm_hours=_hours((14, 5, 1.0), base=0.5),
        data_hours=_hours(base=1.0),
        week=FLAT,
        p_home=1.0,
        p_work=0.0,
        p_far=0.0,
        contacts=1_000_000,  # every call to a new number
        reciprocity=0.0,
        onnet=0.3,
        intl=0.0,
        fixed=0.0,
        short=0.0,
        apps=(0.0,) * 9 + (1.0,),
        roaming_days=0.0,
        prepaid=1.0,
        birth_year=1990,
        device_age_m=30,
        outcome_bias=(-3.0, -3.0, -3.0, -3.0),
    ),
    Persona(
        name=CALL_CENTER,
        weight=0.0,  # assigned by id range, not drawn
        voice_out=110.0,
        voice_in=45.0,
        sms_out=3.0,
        sms_in=1.0,
        data_sessions=10.0,
        data_mb=150.0,
        voice_median_s=180.0,
        missed_share=0.3,
        comm_hours=_hours((10, 1.5, 1.0), (14.5, 2, 1.0), base=0.0),
        data_hours=_hours((10, 2.5, 1.0), (15, 2.5, 1.0), base=0.01),
        week=(1.0, 1.0, 1.0, 1.0, 1.0, 0.15, 0.02),
        p_home=1.0,
        p_work=1.0,
        p_far=0.0,
        contacts=5000,
        reciprocity=0.35,
        onnet=0.3,
        intl=0.01,
        fixed=0.15,
        short=0.0,
        apps=(0.1, 0.1, 0.0, 0.0, 1.0, 0.0, 0.0, 0.2, 3.0, 0.5),
        roaming_days=0.0,
        prepaid=0.0,
        birth_year=1985,
        device_age_m=20,
        outcome_bias=(-2.0, 0.5, -3.0, 0.0),
    ),
)

REGULAR = tuple(p for p in PERSONAS if p.name not in (SIMBOX, CALL_CENTER))


def persona_names() -> tuple[str, ...]:
    return tuple(p.name for p in PERSONAS)


def regular_weights(s: Settings) -> list[tuple[str, float]]:
    """(name, probability) of the drawn personas, from defaults and settings."""
    weights = []
    for p in REGULAR:
        w = s.persona_weights.get(p.name, p.weight)
        if p.name == NEW_PERSONA:
            w = s.new_persona_weight if s.include_new_persona else 0.0
        weights.append((p.name, float(w)))
    unknown = set(s.persona_weights) - {p.name for p in REGULAR}
    if unknown:
        raise ValueError(f"generator.persona_weights: unknown persona(s) {sorted(unknown)}")
    total = sum(w for _, w in weights)
    return [(n, w / total) for n, w in weights if w > 0]


LUT_SIZE = 1024


def _cdf(weights: tuple[float, ...]) -> list[float]:
    total = sum(weights)
    acc, out = 0.0, []
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


def lut(weights: tuple[float, ...]) -> list[int]:
    """Inverse-CDF lookup table: bucket b of [0, 1) -> the index its midpoint falls in.

    A table lookup is codegen-friendly; a higher-order ``filter`` per row is ~7x slower.
    """
    cdf = _cdf(weights)
    out, idx = [], 0
    for b in range(LUT_SIZE):
        x = (b + 0.5) / LUT_SIZE
        while cdf[idx] < x:
            idx += 1
        out.append(idx)
    return out


def _flat_lut(attr: str) -> Column:
    return const_array([v for p in PERSONAS for v in lut(getattr(p, attr))], "int")


def pick_by_persona(attr: str, persona_idx: Column, u: Column) -> Column:
    """Index drawn from persona ``attr`` weights (comm_hours, data_hours, apps)."""
    bucket = F.floor(u * LUT_SIZE).cast("int")
    return F.element_at(_flat_lut(attr), persona_idx * LUT_SIZE + bucket + 1)


def pick_from_weights(weights: tuple[float, ...], u: Column) -> Column:
    """Index drawn from fixed ``weights``."""
    return lookup(lut(weights), "int", F.floor(u * LUT_SIZE))


SCALARS = (
    ("r_voice_out", "voice_out"),
    ("r_voice_in", "voice_in"),
    ("r_sms_out", "sms_out"),
    ("r_sms_in", "sms_in"),
    ("r_data", "data_sessions"),
    ("data_mb", "data_mb"),
    ("voice_median_s", "voice_median_s"),
    ("missed_share", "missed_share"),
    ("p_home", "p_home"),
    ("p_work", "p_work"),
    ("p_far", "p_far"),
    ("contacts_mean", "contacts"),
    ("reciprocity", "reciprocity"),
    ("onnet", "onnet"),
    ("intl", "intl"),
    ("fixed", "fixed"),
    ("short", "short"),
    ("roaming_days", "roaming_days"),
    ("prepaid_share", "prepaid"),
    ("birth_year_mean", "birth_year"),
    ("device_age_mean", "device_age_m"),
)


def persona_columns(persona_idx: Column) -> list[Column]:
    """The persona's parameters as literal lookups (no join, no Python rows)."""
    cols = []
    for out, attr in SCALARS:
        values = [float(getattr(p, attr)) for p in PERSONAS]
        cols.append(lookup(values, "double", persona_idx).alias(out))

    def per_persona(rows: list[list[float]], name: str) -> Column:
        width = len(rows[0])
        flat = const_array([v for row in rows for v in row], "double")
        return F.slice(flat, persona_idx * width + 1, width).alias(name)

    week = [[p.week[6], *p.week[:6]] for p in PERSONAS]  # Spark's dayofweek: 1 = Sunday
    apps = [[w / sum(p.apps) for w in p.apps] for p in PERSONAS]
    bias = [list(p.outcome_bias) for p in PERSONAS]
    cols.append(per_persona(week, "week"))
    cols.append(per_persona(apps, "app_weights"))
    cols.append(per_persona(bias, "outcome_bias"))
    return cols


def persona_index(name: str) -> int:
    return [p.name for p in PERSONAS].index(name)
