"""Build the report of one snapshot from the public tables and write one HTML file."""

from __future__ import annotations

import datetime as dt
import logging
import os

import jinja2
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from telcoseg.config import Config
from telcoseg.io.delta import read_table, table_exists
from telcoseg.privacy.publish import PUBLIC, RELEASES_TABLE
from telcoseg.privacy.settings import Settings as PrivacySettings
from telcoseg.report.sections import build_sections
from telcoseg.report.settings import Settings

log = logging.getLogger(__name__)

PUBLIC_TABLES = (
    RELEASES_TABLE,
    "segment_sizes",
    "segment_profiles",
    "segment_area_plan",
    "segment_indicator_means",
    "segment_migration",
    "segment_number_attributes",
    "fraud_summary",
    "campaign_results",
    "propensity_evaluation",
    "fairness_audit",
    "data_quality",
)


def load_public(
    spark: SparkSession, cfg: Config, snapshot: dt.date
) -> dict[str, pd.DataFrame | None]:
    """Each public table's rows for ``snapshot`` (None when the table does not exist).

    Only ``public`` tables are read: the report cannot show anything that did not pass
    the privacy checks.
    """
    out: dict[str, pd.DataFrame | None] = {}
    for name in PUBLIC_TABLES:
        path = cfg.paths.table(PUBLIC, name)
        if not table_exists(path):
            out[name] = None
            continue
        df = read_table(spark, path).where(F.col("snapshot_date") == F.lit(snapshot))
        df = df.drop(*[c for c in ("snapshot_date", "release_id") if c in df.columns])
        rows = [r.asDict() for r in df.collect()]
        out[name] = pd.DataFrame(rows, columns=df.columns)
    return out


def render(
    tables: dict[str, pd.DataFrame | None],
    snapshot: dt.date,
    privacy: PrivacySettings,
    settings: Settings,
) -> str:
    """The whole HTML page as a string (self-contained: inline CSS, JS and PNGs)."""
    rel = tables.get(RELEASES_TABLE)
    location = privacy.location_level
    if rel is not None and not rel.empty and "location_level" in rel:
        location = str(rel["location_level"].iloc[0])
    params = {
        "k": privacy.k,
        "mechanism": privacy.mechanism,
        "epsilon per release": privacy.epsilon_per_release,
        "lifetime budget": privacy.budget_epsilon,
        "location": location,
    }
    sections = build_sections(tables, params, settings.figure_dpi)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    from telcoseg.report.template import PAGE

    return env.from_string(PAGE).render(
        title=settings.title,
        snapshot=snapshot.isoformat(),
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=sections,
    )


def report_path(cfg: Config, snapshot: dt.date) -> str:
    """``<artifacts>/report/report_<snapshot>.html``."""
    return os.path.join(cfg.paths.artifacts, "report", f"report_{snapshot.isoformat()}.html")


def write_report(spark: SparkSession, cfg: Config, snapshot: dt.date) -> str:
    """Render the report of ``snapshot`` and write it atomically; returns its path."""
    page = render(
        load_public(spark, cfg, snapshot), snapshot, cfg.section("privacy"), cfg.section("report")
    )
    path = report_path(cfg, snapshot)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(page)
    os.replace(tmp, path)  # readers never see half a file
    log.info("report %s: %d bytes", path, len(page))
    return path
