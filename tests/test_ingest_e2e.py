"""End to end on generated data: landing -> bronze -> silver with planted bad rows.

The generator (telcoseg.generator) writes the landing zone and a truth folder whose
``bad_rows`` table holds, per source and reason code, the exact number of planted bad
rows and the planted CDR duplicates. Ingestion must quarantine exactly those, collapse
exactly those duplicates, and leave no phone number or key material below bronze.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import phonenumbers
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.config import from_dict
from telcoseg.ingest.contract import SOURCES
from telcoseg.ingest.pipeline import run_ingest
from telcoseg.io import delta

generator_job = pytest.importorskip("telcoseg.generator.job")
generator_settings = pytest.importorskip("telcoseg.generator.settings")

KEY = "e2e-canary-key-5d1c0a9b7e3f"
PHONE_LIKE = re.compile(r"\+?[\d ()\-]{7,20}")


@pytest.mark.slow
def test_generated_landing_zone_adds_up_exactly(spark: SparkSession, tmp_path: Path) -> None:
    s = generator_settings.Settings(subscribers=300, days=7, end_date=dt.date(2026, 3, 8))
    generator_job.generate(spark, s, str(tmp_path / "landing"), str(tmp_path / "truth"))
    key_file = tmp_path / "hmac.key"
    key_file.write_text(KEY)
    cfg = from_dict(
        {
            "paths": {"root": str(tmp_path)},
            "ingest": {
                "hmac_key_file": str(key_file),
                "own_prefixes": ["+447400", "+447401", "+447402", "+447403", "+447453"],
            },
        },
        "e2e.yaml",
    )
    report = run_ingest(spark, cfg)
    for c in report.counts:
        assert c.read == c.accepted + c.quarantined + c.duplicates, c

    manifest = spark.read.parquet(str(tmp_path / "truth" / "bad_rows")).collect()
    planted = {(r["source"], r["reason"]): r["rows"] for r in manifest if r["kind"] == "bad_row"}
    quarantined = {
        (r["source"], r["reason"]): r["count"]
        for r in delta.read_table(spark, cfg.paths.table("bronze", "quarantine"))
        .groupBy("source", "reason")
        .count()
        .collect()
    }
    assert quarantined == {k: v for k, v in planted.items() if v}
    dups = sum(r["rows"] for r in manifest if r["kind"] == "duplicate")
    cdr = next(c for c in report.counts if c.layer == "silver" and c.source == "cdr")
    assert cdr.duplicates == dups

    for name in SOURCES:
        df = delta.read_table(spark, cfg.paths.table("silver", name))
        strings = [f.name for f in df.schema.fields if isinstance(f.dataType, T.StringType)]
        values = df.select(F.explode(F.array(*strings)).alias("v")).where("v is not null")
        for (value,) in values.distinct().collect():
            assert KEY not in value
            if PHONE_LIKE.fullmatch(value):
                assert not phonenumbers.is_valid_number(phonenumbers.parse(value, "GB")), value
