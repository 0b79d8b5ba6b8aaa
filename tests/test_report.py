"""The report job end to end on small synthetic tables: public tables, ledger, HTML, leaks."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import phonenumbers
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from reportworld import SECTIONS, SNAP, World, report_job
from telcoseg.cli import run_job
from telcoseg.io.delta import read_table, table_exists
from telcoseg.privacy.settings import Settings as PrivacySettings
from telcoseg.report.build import render
from telcoseg.report.settings import Settings as ReportSettings


@pytest.fixture()
def world(report_world: World) -> World:
    return report_world


def test_job_publishes_tables_records_the_ledger_and_writes_the_report(
    world: World, spark: SparkSession
) -> None:
    assert world.exit_code == 0
    lake = world.root / "lake"
    for table in (
        "segment_sizes",
        "segment_area_plan",
        "segment_indicator_means",
        "segment_migration",
        "segment_number_attributes",
        "fraud_summary",
        "campaign_results",
        "propensity_evaluation",
        "fairness_audit",
        "segment_profiles",
        "data_quality",
        "releases",
    ):
        assert table_exists(str(lake / "public" / table)), table
    ledger = read_table(spark, str(lake / "ops" / "privacy_ledger")).collect()
    assert len(ledger) == 9 and max(r["total_spent"] for r in ledger) == pytest.approx(9.0)
    for sid in SECTIONS:
        assert f'id="{sid}"' in world.html


def test_public_tables_hold_no_small_or_fine_grained_cells(
    world: World, spark: SparkSession
) -> None:
    lake = world.root / "lake" / "public"
    areas = {r["area"] for r in read_table(spark, str(lake / "segment_area_plan")).collect()}
    assert "islands" not in areas  # k-1 subscribers: generalized, never published
    carriers = {
        r["carrier"] for r in read_table(spark, str(lake / "segment_number_attributes")).collect()
    }
    assert "TinyTel" not in carriers
    fair = read_table(spark, str(lake / "fairness_audit")).collect()
    assert {r["group"] for r in fair} == {"f", "m"}
    means = read_table(spark, str(lake / "segment_indicator_means"))
    assert "mean_tc_unbounded_thing" not in means.columns  # no clamp bounds, no release
    for df_name in ("segment_sizes", "segment_area_plan", "fraud_summary"):
        cols = read_table(spark, str(lake / df_name)).columns
        assert "subscriber_id" not in cols and "_n" not in cols
        assert not {"latitude", "longitude", "cell_id"} & set(cols)


def _text_without_images(html: str) -> str:
    # Base64 PNG payloads are pixels, not text; scanning them would only find noise.
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)


def test_report_contains_no_subscriber_id_phone_number_or_coordinate(world: World) -> None:
    text = _text_without_images(world.html)
    assert world.html and not re.search(r"\b[0-9a-f]{64}\b", text)
    assert not any(s in world.html for s in world.ids)
    found = [m.raw_string for m in phonenumbers.PhoneNumberMatcher(text, "GB")]
    assert found == []
    assert not any(m in world.html for m in world.msisdns)
    for c in world.coords:
        assert f"{c}" not in text and f"{c:.3f}" not in text


def test_rerun_reuses_releases_and_an_exhausted_budget_refuses(
    world: World, spark: SparkSession
) -> None:
    job = report_job()
    ledger = str(world.root / "lake" / "ops" / "privacy_ledger")
    before = read_table(spark, ledger).count()
    code = run_job(
        "report",
        job.run,
        job.add_args,
        ["--conf", str(world.conf), "--snapshot-date", SNAP.isoformat()],
        spark=spark,
    )
    assert code == 0 and read_table(spark, ledger).count() == before  # nothing re-spent
    # A new snapshot needs 9 more; only 3 are left: refused before anything is published.
    code = run_job(
        "report",
        job.run,
        job.add_args,
        ["--conf", str(world.conf), "--snapshot-date", "2026-04-30"],
        spark=spark,
    )
    assert code == 1
    assert read_table(spark, ledger).count() == before
    sizes = read_table(spark, str(world.root / "lake" / "public" / "segment_sizes"))
    assert sizes.where(F.col("snapshot_date") == F.lit(dt.date(2026, 4, 30))).count() == 0


def test_every_section_degrades_to_a_note_when_its_table_is_missing() -> None:
    page = render({}, SNAP, PrivacySettings(), ReportSettings())
    for sid in SECTIONS:
        assert f'id="{sid}"' in page
    assert page.count("Not available for this snapshot") >= len(SECTIONS) - 1


def test_lift_deciles_are_ordered_as_numbers_not_strings() -> None:
    # Published keys come back as strings; "10" must not sort between "1" and "2".
    ev = pd.DataFrame(
        {
            "outcome": ["upgrade"] * 3,
            "decile": ["10", "2", "1"],
            "n": [100, 100, 100],
            "lift": [0.5, 1.5, 2.5],
        }
    )
    page = render({"propensity_evaluation": ev}, SNAP, PrivacySettings(), ReportSettings())
    section = page[page.index('id="propensity"') : page.index('id="fairness"')]
    cells = re.findall(r"<td[^>]*>\s*(10|2|1)\s*</td>", section)
    assert cells == ["1", "2", "10"]
