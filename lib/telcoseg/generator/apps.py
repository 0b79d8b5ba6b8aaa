"""App usage: one row per subscriber, app and day, driven by the persona's category mix."""

from __future__ import annotations

import pyspark.sql.functions as F
from pyspark.sql import DataFrame

from telcoseg.generator import hashrand as hr
from telcoseg.generator.literals import lookup
from telcoseg.generator.personas import CATEGORIES
from telcoseg.generator.settings import Settings

# A few apps per category; a subscriber has one favorite per category.
APPS = {
    "video": ("YouTube", "Netflix", "TikTok", "Disney+"),
    "social": ("Instagram", "Facebook", "Snapchat", "X"),
    "music": ("Spotify", "Apple Music", "SoundCloud"),
    "gaming": ("Clash Royale", "PUBG Mobile", "Roblox"),
    "messaging": ("WhatsApp", "Telegram", "Signal", "Messenger"),
    "navigation": ("Google Maps", "Waze", "Citymapper"),
    "shopping": ("Amazon", "eBay", "Vinted"),
    "news": ("BBC News", "The Guardian", "Sky News"),
    "productivity": ("Outlook", "Teams", "Slack", "Zoom"),
    "other": ("Weather", "Banking", "Camera Sync"),
}
_WIDTH = max(len(v) for v in APPS.values())
_FLAT = [APPS[c][i % len(APPS[c])] for c in CATEGORIES for i in range(_WIDTH)]
_COUNTS = [len(APPS[c]) for c in CATEGORIES]
# Relative bytes per active app-day by category (video is heavy, messaging light).
_HEAVINESS = (6.0, 2.0, 1.5, 1.0, 0.4, 0.5, 0.6, 0.4, 0.5, 0.3)


def app_rows(sub_day: DataFrame, s: Settings) -> DataFrame:
    """Typed app-usage rows (good ones) of the given subscriber-days."""
    seed = s.seed
    rows = sub_day.filter(F.col("data_mb") > 0).select(
        "*", F.explode(F.sequence(F.lit(0), F.lit(len(CATEGORIES) - 1))).alias("cat")
    )
    weight = F.element_at(F.col("app_weights"), F.col("cat") + 1)
    # Most subscribers use their top categories daily and the rest now and then.
    p_use = F.least(F.lit(0.95), weight * 4.0 * F.pow(F.col("data_intensity"), F.lit(0.3)))
    key = (F.col("sub_id"), F.col("day_idx"), F.col("cat"))
    rows = rows.filter(hr.uniform(seed, "app-use", *key) < p_use)
    fav = hr.below(seed, "app-fav", lookup(_COUNTS, "int", F.col("cat")), "sub_id", "cat")
    heaviness = lookup(list(_HEAVINESS), "double", F.col("cat"))
    share = weight * heaviness / (weight * heaviness + 0.2)
    mb = (
        F.col("data_mb") * F.col("data_intensity") * share * hr.lognormal(seed, "app-mb", 0.8, *key)
    )
    sessions = 1 + hr.poisson_like(4.0 * weight * 3 + 1, hr.uniform(seed, "app-sessions", *key))
    down = F.round(mb * 1e6).cast("long")
    return rows.select(
        "sub_id",
        "day_idx",
        "cat",
        "msisdn",
        F.col("day").alias("usage_date"),
        lookup(_FLAT, "string", F.col("cat") * _WIDTH + fav).alias("app"),
        lookup(list(CATEGORIES), "string", F.col("cat")).alias("category"),
        F.round(down * (0.02 + 0.1 * hr.uniform(seed, "app-up", *key)))
        .cast("long")
        .alias("bytes_up"),
        down.alias("bytes_down"),
        sessions.cast("long").alias("sessions"),
        F.round(sessions * 90 * hr.lognormal(seed, "app-dur", 0.7, *key))
        .cast("long")
        .alias("duration_s"),
        "fmt",
    )
