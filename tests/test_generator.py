"""The operator-data generator: contract, determinism, planted faults, personas, sim-boxes."""

from __future__ import annotations

import dataclasses
import glob
import json
import os
from pathlib import Path

import phonenumbers
import pyspark.sql.functions as F
import pytest
from phonenumbers import carrier
from pyspark.sql import Column, DataFrame, SparkSession

from telcoseg.generator.cdr import CDR_COLUMNS
from telcoseg.generator.job import generate
from telcoseg.generator.landing import COLUMNS
from telcoseg.generator.settings import Settings
from telcoseg.schemas import REASON_CODES

SETTINGS = Settings(
    subscribers=200,
    days=6,
    bad_row_fraction=0.02,
    duplicate_fraction=0.01,
    simbox_fraction=0.02,
    call_center_fraction=0.03,
    spike_start_offset_days=2,
)


@pytest.fixture(scope="module")
def generated(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gen")
    generate(spark, SETTINGS, str(root / "landing"), str(root / "truth"))
    return root


def read_source(spark: SparkSession, root: Path, source: str) -> DataFrame:
    """All files of a source as strings (CSV and gzip CSV as text, Parquet cast)."""
    folder = root / "landing" / source
    csvs = sorted(glob.glob(f"{folder}/*.csv")) + sorted(glob.glob(f"{folder}/*.csv.gz"))
    pq = sorted(glob.glob(f"{folder}/*.parquet"))
    text = spark.read.option("header", True).csv(csvs)
    typed = spark.read.parquet(*pq)
    typed = typed.select(*[F.col(c).cast("string").alias(c) for c in text.columns])
    return text.unionByName(typed)


def test_writes_every_source_in_all_three_formats_with_contract_columns(
    spark: SparkSession, generated: Path
) -> None:
    for source in ("cdr", "app_usage", "subscribers", "cells", "outcomes", "campaigns"):
        names = os.listdir(generated / "landing" / source)
        for ext in (".csv", ".csv.gz", ".parquet"):
            assert any(n.endswith(ext) for n in names), (source, ext, names)
        expected = list(CDR_COLUMNS) if source == "cdr" else list(COLUMNS[source])
        assert read_source(spark, generated, source).columns == expected
    assert not os.path.exists(generated / "landing" / "truth")
    summary = json.loads((generated / "truth" / "summary.json").read_text())
    assert summary["rows"]["cdr"] == read_source(spark, generated, "cdr").count()


def test_writes_valid_e164_numbers_for_own_subscribers(
    spark: SparkSession, generated: Path
) -> None:
    subs = spark.read.parquet(str(generated / "truth" / "subscribers"))
    for row in subs.select("msisdn").limit(50).collect():
        number = phonenumbers.parse(row["msisdn"])
        assert phonenumbers.is_valid_number(number)
        assert carrier.name_for_number(number, "en")


def test_is_deterministic_regardless_of_partitioning(
    spark: SparkSession, generated: Path, tmp_path: Path
) -> None:
    other = dataclasses.replace(SETTINGS, files_per_day=1)
    generate(spark, other, str(tmp_path / "landing"), str(tmp_path / "truth"))
    for source in ("cdr", "subscribers", "outcomes"):
        a = read_source(spark, generated, source)
        b = read_source(spark, tmp_path, source)
        assert a.count() == b.count()
        assert a.exceptAll(b).isEmpty() and b.exceptAll(a).isEmpty(), source


def _cdr_rule_breaks(df: DataFrame) -> dict[str, Column]:
    """Independent, simple checks of the contract's CDR rules (one column per rule)."""
    etype = F.lower("event_type")
    is_voice, is_sms, is_data = etype == "voice", etype == "sms", etype == "data"
    number = r"^-?[0-9]+(\.[0-9]+)?$"
    numeric = ("duration_s", "bytes_up", "bytes_down", "charge")
    iso = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})?$"
    wall_clock = F.regexp_replace(F.substring("event_time", 1, 19), " ", "T")
    parsed = F.try_to_timestamp(wall_clock, F.lit("yyyy-MM-dd'T'HH:mm:ss"))
    ts_ok = F.col("event_time").rlike(iso) & parsed.isNotNull()
    phone_ok = r"^(\+|00)?[0-9 ]+$"
    return {
        "missing_required": F.col("record_id").isNull()
        | F.col("event_time").isNull()
        | F.col("msisdn").isNull()
        | F.col("event_type").isNull()
        | ((is_voice | is_sms) & F.col("direction").isNull()),
        "bad_timestamp": F.col("event_time").isNotNull() & ~ts_ok,
        "bad_enum": (F.col("event_type").isNotNull() & ~etype.isin("voice", "sms", "data"))
        | (F.col("direction").isNotNull() & ~F.lower("direction").isin("in", "out")),
        "bad_number": F.greatest(
            *[(F.col(c).isNotNull() & ~F.col(c).rlike(number)).cast("int") for c in numeric]
        )
        == 1,
        "negative_number": F.greatest(*[F.col(c).startswith("-").cast("int") for c in numeric])
        == 1,
        "bad_boolean": F.col("roaming").isNotNull()
        & ~F.lower("roaming").isin("true", "false", "1", "0", "yes", "no"),
        "field_not_allowed": (is_voice & F.col("bytes_down").isNotNull())
        | (is_sms & F.col("duration_s").isNotNull())
        | (is_data & (F.col("direction").isNotNull() | F.col("counterparty").isNotNull())),
        "unparseable_phone": (F.col("msisdn").isNotNull() & ~F.col("msisdn").rlike(phone_ok))
        | (F.col("counterparty").isNotNull() & ~F.col("counterparty").rlike(phone_ok)),
    }


def test_plants_exactly_the_bad_rows_and_duplicates_the_manifest_says(
    spark: SparkSession, generated: Path
) -> None:
    cdr = read_source(spark, generated, "cdr")
    rules = _cdr_rule_breaks(cdr)
    flagged = cdr.select(
        *[F.coalesce(c, F.lit(False)).cast("int").alias(n) for n, c in rules.items()]
    ).cache()
    found = flagged.agg(*[F.sum(n).alias(n) for n in rules]).first().asDict()
    multi = flagged.filter(sum(F.col(n) for n in rules) > 1).count()
    assert multi == 0, "a bad row breaks more than one rule"
    manifest = spark.read.parquet(str(generated / "truth" / "bad_rows"))
    planted = {
        r["reason"]: r["rows"]
        for r in manifest.filter(
            (F.col("source") == "cdr") & (F.col("kind") == "bad_row")
        ).collect()
    }
    assert set(planted) <= set(REASON_CODES)
    assert {k: v for k, v in found.items() if v} == planted
    n_broken = sum(planted.values())
    assert 0.01 < n_broken / cdr.count() < 0.03
    dups = {r["reason"]: r["rows"] for r in manifest.filter(F.col("kind") == "duplicate").collect()}
    ids = cdr.filter(F.col("record_id").isNotNull())
    assert ids.count() - ids.select("record_id").distinct().count() == sum(dups.values())
    assert dups["duplicate_same_file"] > 0 and dups["duplicate_other_file"] > 0


def _with_truth(spark: SparkSession, root: Path) -> DataFrame:
    cdr = read_source(spark, root, "cdr").filter(F.col("record_id").isNotNull())
    national = F.concat(F.lit("+44"), F.regexp_replace(F.substring("msisdn", 2, 20), " ", ""))
    e164 = F.when(F.col("msisdn").startswith("0"), national).otherwise(F.col("msisdn"))
    truth = spark.read.parquet(str(root / "truth" / "subscribers")).select(
        "msisdn", "persona", "is_simbox", "is_call_center"
    )
    return cdr.withColumn("msisdn", e164).join(truth, on="msisdn", how="inner")


def test_makes_personas_measurably_different(spark: SparkSession, generated: Path) -> None:
    df = _with_truth(spark, generated).filter(F.lower("event_type") == "data")
    local_hour = F.substring("event_time", 12, 2).cast("int")
    per = (
        df.filter(F.length("event_time") == 19)
        .groupBy("persona")
        .agg(
            F.avg(local_hour.isin(22, 23, 0, 1, 2, 3).cast("double")).alias("night_share"),
            (F.sum(F.col("bytes_down").try_cast("double")) / F.countDistinct("msisdn")).alias(
                "bytes"
            ),
        )
    )
    got = {r["persona"]: r for r in per.collect()}
    assert got["night_streamer"]["night_share"] > 2 * got["business_commuter"]["night_share"]
    assert got["night_streamer"]["bytes"] > 10 * got["senior_voice"]["bytes"]


def test_makes_simbox_lines_look_like_simboxes_and_call_centers_not(
    spark: SparkSession, generated: Path
) -> None:
    df = _with_truth(spark, generated)
    stats = (
        df.groupBy("msisdn", "is_simbox", "is_call_center")
        .agg(
            F.count("*").alias("events"),
            F.avg(
                ((F.lower("event_type") == "voice") & (F.lower("direction") == "out")).cast(
                    "double"
                )
            ).alias("voice_out_share"),
            (F.countDistinct("counterparty") / F.count("*")).alias("distinct_share"),
            F.countDistinct("cell_id").alias("cells"),
            F.countDistinct("imei").alias("imeis"),
        )
        .collect()
    )
    simbox = [r for r in stats if r["is_simbox"]]
    call_center = [r for r in stats if r["is_call_center"]]
    assert simbox and call_center
    for r in simbox:
        # On-net targets repeat in a population of 200; off-net ones never do.
        assert r["voice_out_share"] > 0.97 and r["distinct_share"] > 0.75 and r["cells"] == 1
    for r in call_center:
        assert r["voice_out_share"] < 0.8
    truth = spark.read.parquet(str(generated / "truth" / "subscribers"))
    shared = truth.filter("is_simbox").groupBy("imei").count().agg(F.max("count")).first()[0]
    assert shared > 1, "sim-box SIMs cycle in one device"


def test_age_follows_the_persona_only_as_strongly_as_configured(spark: SparkSession) -> None:
    from telcoseg.generator.population import population_df

    def spread_of_persona_means(link: float) -> float:
        s = Settings(subscribers=3000, age_persona_link=link)
        pop = population_df(spark, s, partitions=2).where(~F.col("is_simbox"))
        means = pop.groupBy("persona").agg(F.avg("birth_year").alias("m"), F.count("*").alias("n"))
        # Personas with a few lines (call centers) have means too noisy to compare.
        row = means.where("n >= 200").agg((F.max("m") - F.min("m")).alias("spread")).first()
        return float(row["spread"])

    # Persona means are 1952..2003: fully linked, the personas' mean ages lie decades
    # apart; unlinked, only sampling noise separates them.
    assert spread_of_persona_means(1.0) > 35.0
    assert spread_of_persona_means(0.0) < 5.0


def test_subscriber_rows_are_valid_from_the_first_day_of_data_or_activation(
    spark: SparkSession, generated: Path
) -> None:
    # Point-in-time features keep only rows with as_of_date <= snapshot: a line's static
    # state must be known at every snapshot after it was activated.
    subs = read_source(spark, generated, "subscribers")
    parsed = subs.select(
        F.try_to_date("as_of_date", "yyyy-MM-dd").alias("as_of"),
        F.try_to_date("activation_date", "yyyy-MM-dd").alias("activated"),
    ).where(F.col("as_of").isNotNull() & F.col("activated").isNotNull())
    rows = parsed.collect()
    assert len(rows) >= SETTINGS.subscribers * 0.9
    start = SETTINGS.start_date
    assert all(r["as_of"] == max(start, r["activated"]) for r in rows)
    assert sum(r["as_of"] == start for r in rows) >= len(rows) * 0.8
