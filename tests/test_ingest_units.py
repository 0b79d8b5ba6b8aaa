"""Ingestion building blocks: timestamp forms, number parsing, key handling, settings."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import stat
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from telcoseg.config import from_dict
from telcoseg.errors import ConfigError, SecretError
from telcoseg.ingest import landing
from telcoseg.ingest import rules as R
from telcoseg.ingest.contract import SOURCES
from telcoseg.ingest.hmac_key import (
    KeySource,
    ensure_demo_key_file,
    key_source,
    load_key,
    pseudonym,
)
from telcoseg.ingest.phones import NumberPlan, describe_number, normalized_imei, plan_tag
from telcoseg.ingest.settings import Settings

KEY = b"unit-test-key-0123456789"
PLAN = NumberPlan("GB", ("+447400",), ("ee",))


def test_timestamp_forms_become_utc_instants_and_local_dates(spark: SparkSession) -> None:
    tz = "Europe/Paris"  # UTC+1 in March
    texts = [
        ("2026-03-02T14:05:09", dt.datetime(2026, 3, 2, 13, 5, 9)),  # no offset: Paris
        ("2026-03-02T14:05:09Z", dt.datetime(2026, 3, 2, 14, 5, 9)),
        ("2026-03-02T14:05:09+01:00", dt.datetime(2026, 3, 2, 13, 5, 9)),
        ("2026-03-02T14:05:09-0230", dt.datetime(2026, 3, 2, 16, 35, 9)),
        ("2026-03-02 14:05:09.250Z", dt.datetime(2026, 3, 2, 14, 5, 9, 250000)),
        ("2026-03-02T00:30:00", dt.datetime(2026, 3, 1, 23, 30)),  # local date stays 03-02
        ("2026-03-02t14:05:09.123456789z", dt.datetime(2026, 3, 2, 14, 5, 9, 123456)),
        ("2026-03-02T14:05:09+01", dt.datetime(2026, 3, 2, 13, 5, 9)),
        ("2026-03-02T14:05:09+18:00", dt.datetime(2026, 3, 1, 20, 5, 9)),
        ("2026-03-02T14:05:09+19:00", None),  # beyond java.time's offsets
        ("2026-02-30T10:00:00", None),
        ("2026-03-02T25:00:00Z", None),
        ("2026-03-02T14:05", None),  # Spark's cast would read it; the contract does not
        ("yesterday", None),
        ("2026-03-02", None),
        (None, None),
    ]
    df = spark.createDataFrame([(t,) for t, _ in texts], "t string")
    instant = R.parse_instant(F.col("t"), tz)
    got = df.select(instant.alias("i"), R.local_date(instant, tz).alias("d")).collect()
    assert [r["i"] for r in got] == [want for _, want in texts]
    assert got[5]["d"] == dt.date(2026, 3, 2)
    # In a UTC deployment a value without an offset is a UTC wall time.
    utc = df.select(R.parse_instant(F.col("t"), "UTC").alias("i")).collect()
    assert [r["i"] for r in utc[:3]] == [dt.datetime(2026, 3, 2, 14, 5, 9)] + [
        want for _, want in texts[1:3]
    ]


def test_row_positions_keep_file_order_when_spark_splits_a_csv(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Ordered by (file_split, file_row), each file's rows come back in file order, also
    when small splits make Spark read one file in several tasks."""
    folder = tmp_path / "cells"
    folder.mkdir()
    for name, n in (("a.csv", 3000), ("b.csv", 700)):
        lines = ["cell_id,latitude,longitude"] + [f"{name}-{i},1.0,2.0" for i in range(n)]
        (folder / name).write_text("\n".join(lines) + "\n")
    files = landing.discover(str(tmp_path), "cells")
    source = SOURCES["cells"]
    (group,) = landing.plan_reads(files, source, Settings().mapping("cells"))
    keys = ("spark.sql.files.maxPartitionBytes", "spark.sql.files.openCostInBytes")
    before = {k: spark.conf.get(k) for k in keys}
    spark.conf.set(keys[0], "8192")
    spark.conf.set(keys[1], "0")
    try:
        rows = landing.read_group(spark, group, str(tmp_path)).collect()
    finally:
        for k, v in before.items():
            spark.conf.set(k, v)
    assert len({(r["source_file"], r["file_split"]) for r in rows}) > 4  # really split
    for name, n in (("a.csv", 3000), ("b.csv", 700)):
        mine = [r for r in rows if r["source_file"] == f"cells/{name}"]
        mine.sort(key=lambda r: (r["file_split"], r["file_row"]))
        assert [r["cell_id"] for r in mine] == [f"{name}-{i}" for i in range(n)]


def test_source_file_is_the_path_below_the_landing_root_for_awkward_names(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Spark URL-encodes the path of every row; source_file is the path as named. Under
    the first root every URI has an escape to decode; under the second only some do."""
    names = ["plain.csv", "a b+c%20d.csv", "caf\u00e9 #1.csv", "x+y.csv"]
    for root in (tmp_path / "land zone+1", tmp_path / "landing"):
        folder = root / "cells"
        folder.mkdir(parents=True)
        for i, name in enumerate(names):
            text = f"cell_id,latitude,longitude\n{i}-x,1.0,2.0\n{i}-y,1.5,2.5\n"
            (folder / name).write_text(text)
        files = landing.discover(str(root), "cells")
        (group,) = landing.plan_reads(files, SOURCES["cells"], Settings().mapping("cells"))
        rows = landing.read_group(spark, group, str(root)).collect()
        got = sorted((r["cell_id"], r["source_file"]) for r in rows)
        want = sorted(
            (f"{i}-{s}", f"cells/{name}") for i, name in enumerate(names) for s in ("x", "y")
        )
        assert got == want, root.name


def test_imei_separators_are_dropped_and_nothing_else(spark: SparkSession) -> None:
    """Spaces (ASCII whitespace), dashes and slashes go; any other character stays, so a
    non-breaking space or a dot still makes the IMEI malformed."""
    texts = [
        "49-015420-323751-8", "49 015420\t323751/8", "4901542032375\r\n18",
        "49\u00a0015420323751", "49.015420.323751", "abc",
    ]  # fmt: skip
    df = spark.createDataFrame([(t,) for t in texts], "imei string")
    got = [r[0] for r in df.select(normalized_imei("imei")).collect()]
    assert got == [
        "490154203237518", "490154203237518", "490154203237518",
        "49\u00a0015420323751", "49.015420.323751", "abc",
    ]  # fmt: skip


def test_text_parsers_return_null_instead_of_failing(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("12", "0.10", "YES", "2026-03-02"), ("12s", "EUR0.10", "maybe", "2026-02-30"),
         ("12.0", "-1", "0", "02/03/2026")],
        "n string, d string, b string, day string",
    )  # fmt: skip
    got = df.select(
        R.parse_long(F.col("n")), R.parse_decimal(F.col("d")).cast("string"),
        R.parse_bool(F.col("b")), R.parse_date(F.col("day")),
    ).collect()  # fmt: skip
    assert [tuple(r) for r in got] == [
        (12, "0.1000", True, dt.date(2026, 3, 2)),
        (None, None, None, None),
        (12, "-1.0000", False, None),
    ]


def test_numbers_parse_to_e164_with_attributes_and_hmac_ids() -> None:
    e164 = describe_number("+447400123456", PLAN, KEY)
    national = describe_number(" 07400 123456 ", PLAN, KEY)
    assert e164 == national  # national format read with the default region
    parsed, number, pid, country, code, _, carrier, ntype, valid, own, intl = e164
    assert (parsed, number, country, code, ntype, valid, own, intl) == (
        True, "+447400123456", "GB", 44, "mobile", True, True, False,
    )  # fmt: skip
    assert carrier == "Three"
    assert pid == hmac.new(KEY, b"+447400123456", hashlib.sha256).hexdigest()
    offnet = describe_number("07508 123456", PLAN, KEY)
    assert offnet[6] == "EE" and offnet[9] is True  # own carrier by name (case-insensitive)
    us = describe_number("+1 212 555 1234", PLAN, KEY)
    assert (us[3], us[4], us[5], us[10]) == ("US", 1, "New York, NY", True)
    fixed = describe_number("020 7123 4567", PLAN, KEY)
    assert (fixed[5], fixed[7]) == ("London", "fixed_line")


def test_stored_lookups_are_tagged_by_key_and_number_plan() -> None:
    plan = NumberPlan("GB", ("+447400", "+447401"), ("ee",))
    tag = plan_tag(plan, "a1b2c3d4e5f6")
    # The same plan written otherwise: carriers match case-insensitively, prefixes as a set.
    assert tag == plan_tag(NumberPlan("GB", ("+447401", "+447400"), ("EE",)), "a1b2c3d4e5f6")
    others = {
        plan_tag(plan, "ffffffffffff"),  # another key
        plan_tag(NumberPlan("DE", plan.own_prefixes, plan.own_carriers), "a1b2c3d4e5f6"),
        plan_tag(NumberPlan("GB", ("+447400",), plan.own_carriers), "a1b2c3d4e5f6"),
        plan_tag(NumberPlan("GB", plan.own_prefixes), "a1b2c3d4e5f6"),
    }
    assert tag not in others and len(others) == 4
    assert KEY.hex() not in tag and len(tag) == 16


def test_short_codes_keep_their_digits_and_garbage_does_not_parse() -> None:
    short = describe_number("12345", PLAN, KEY)
    assert short[:3] == (True, "12345", pseudonym(KEY, "12345"))
    assert short[7] == "short_code"
    for bad in ("#VALUE!", "??", "ERROR", "+44 12", ""):
        assert describe_number(bad, PLAN, KEY)[0] is False, bad


def test_key_from_env_or_file_and_refusal_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELCOSEG_HMAC_KEY", raising=False)
    monkeypatch.delenv("TELCOSEG_HMAC_KEY_FILE", raising=False)
    with pytest.raises(SecretError, match="TELCOSEG_HMAC_KEY is not set"):
        load_key(key_source(Settings()))
    monkeypatch.setenv("TELCOSEG_HMAC_KEY", "short")
    with pytest.raises(SecretError, match="too short") as info:
        load_key(key_source(Settings()))
    assert "short'" not in str(info.value)  # the message never quotes the key
    monkeypatch.setenv("TELCOSEG_HMAC_KEY", "an-env-key-of-enough-length")
    assert load_key(key_source(Settings())) == b"an-env-key-of-enough-length"
    secret = tmp_path / "hmac.key"
    secret.write_text("a-file-key-of-enough-length\n")
    monkeypatch.setenv("TELCOSEG_HMAC_KEY_FILE", str(secret))
    assert key_source(Settings()) == KeySource(file=str(secret))  # the file wins
    assert load_key(key_source(Settings())) == b"a-file-key-of-enough-length"
    with pytest.raises(SecretError, match="cannot read"):
        load_key(KeySource(file=str(tmp_path / "missing.key")))


def test_demo_key_file_is_private_and_never_in_the_repo(tmp_path: Path) -> None:
    path = ensure_demo_key_file(tmp_path / "cfg" / "hmac.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    assert len(first.strip()) == 64
    assert ensure_demo_key_file(path).read_text() == first  # kept, not replaced
    with pytest.raises(SecretError, match="inside the repository"):
        ensure_demo_key_file(Path(__file__).parent / "hmac.key")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"default_region": "XX"}, "ingest: default_region 'XX'"),
        ({"own_prefixes": ["447400"]}, r"own_prefixes\[0\] must look like"),
        ({"columns": {"cdrs": {"msisdn": "A"}}}, "columns.cdrs: unknown source"),
        ({"columns": {"cdr": {"phone": "A"}}}, "columns.cdr.phone: not a column"),
        ({"columns": {"cdr": {"msisdn": "counterparty"}}}, "map to one file column"),
        ({"hmac_key_envv": "X"}, "unknown key 'ingest.hmac_key_envv'"),
        ({"cache_numbers_days": -1}, "cache_numbers_days must be >= 0"),
    ],
)
def test_bad_ingest_settings_name_file_and_key(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        from_dict({"ingest": section}, "conf/x.yaml")
    assert str(info.value).startswith("conf/x.yaml: ")
