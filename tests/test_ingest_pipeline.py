"""Landing -> bronze -> silver on tiny files: every reason code, every timestamp form,
duplicates within and across files and runs, the same file twice, failing files that
commit nothing, and the key never leaking.

One landing zone is ingested once (module fixture); the later tests add files to it, in
file order, so each run is paid for once.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from telcoseg.config import Config, from_dict
from telcoseg.errors import InputFileError, SchemaMismatchError, SecretError
from telcoseg.ingest import silver as S
from telcoseg.ingest import tables
from telcoseg.ingest.contract import SOURCES
from telcoseg.ingest.hmac_key import KeySource, pseudonym
from telcoseg.ingest.phones import NumberPlan, lookup_imeis, lookup_numbers
from telcoseg.ingest.pipeline import (
    SPLITS_PER_CORE,
    RunReport,
    prune_number_lookup,
    run_bronze,
    run_ingest,
    run_silver,
    silver_conf,
)
from telcoseg.io import delta

KEY = "leak-canary-7f3a9c0e5b1d4c2a8e6f"  # grepped for everywhere below
CDR_HEADER = SOURCES["cdr"].columns
OWN1, OWN2, OWN3 = "+447400000001", "+447400000002", "+447401000003"


def csv_text(header: tuple[str, ...] | list[str], rows: list[dict[str, str]]) -> str:
    lines = [",".join(header)]
    lines += [",".join(r.get(c, "") for c in header) for r in rows]
    return "\n".join(lines) + "\n"


def cdr(rid: str, **fields: str) -> dict[str, str]:
    base = {
        "record_id": rid,
        "event_time": "2026-03-02T10:00:00Z",
        "msisdn": OWN1,
        "event_type": "voice",
        "direction": "out",
        "counterparty": "+447508123456",
        "duration_s": "10",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


DATA = {"event_type": "data", "direction": "", "counterparty": "", "duration_s": ""}
DATA |= {"bytes_up": "1", "bytes_down": "2"}
SMS = {"event_type": "sms", "duration_s": ""}

# record_id -> expected reason (None: accepted). One file, standard header.
DAY1: list[tuple[dict[str, str], str | None]] = [
    (cdr("g1", event_time="2026-03-02T14:05:09", counterparty="07508 123456", duration_s="60",
         roaming="TRUE", charge="0.10", imei="49-015420-323751-8"), None),
    (cdr("g2", event_time="2026-03-02T14:05:09Z", msisdn="07400 000001", counterparty="12345",
         **SMS, direction="IN"), None),
    (cdr("g3", event_time="2026-03-02T14:05:09+01:00", msisdn=OWN2, **DATA), None),
    # Padded cells: the lookups match the trimmed text.
    (cdr("g4", msisdn=f" {OWN1} ", counterparty=" +12125551234  ", direction="in",
         roaming="no"), None),
    (cdr("g5", event_time="2026-03-02T00:30:00", counterparty="07401 000003", event_type="VOICE",
         duration_s="0"), None),
    (cdr("", event_time="2026-03-02T10:00:00Z"), "missing_required"),
    (cdr("m2", direction=""), "missing_required"),
    (cdr("t1", event_time="2026-02-30T10:00:00"), "bad_timestamp"),
    (cdr("t2", event_time="yesterday", event_type="fax"), "bad_timestamp"),  # precedence
    (cdr("e1", event_type="fax"), "bad_enum"),
    (cdr("e2", direction="both"), "bad_enum"),
    (cdr("e3", event_type=" FAX ", charge="  "), "bad_enum"),  # raw keeps the padding
    (cdr("n1", duration_s="12s"), "bad_number"),
    (cdr("n2", charge="EUR0.10", duration_s="-1"), "bad_number"),  # before negative_number
    (cdr("n3", **DATA | {"bytes_down": "-5"}), "negative_number"),
    (cdr("b1", roaming="maybe"), "bad_boolean"),
    (cdr("f1", **SMS | {"duration_s": "30"}), "field_not_allowed"),
    (cdr("f2", **DATA | {"direction": "out"}), "field_not_allowed"),
    (cdr("f3", bytes_down="2048"), "field_not_allowed"),
    (cdr("p1", msisdn="#VALUE!"), "unparseable_phone"),
    (cdr("p2", counterparty="??"), "unparseable_phone"),
    (cdr("p3", msisdn="12345"), "unparseable_phone"),  # an own line is never a short code
]  # fmt: skip
# g1 again lower in the same file, with another duration: the upper row is seen first
DUP_IN_FILE = DAY1[0][0] | {"duration_s": "61"}
DAY2_HEADER = list(reversed(CDR_HEADER))  # other column order: its own Spark read
DAY2 = [DAY1[2][0], cdr("g6", msisdn=OWN2, counterparty=OWN1)]  # g3 again: across files


def write_landing(root: Path) -> None:
    land = root / "landing"
    for d in SOURCES:
        (land / d).mkdir(parents=True)
    day1 = [r for r, _ in DAY1] + [DUP_IN_FILE]
    (land / "cdr" / "day1.csv").write_text(csv_text(CDR_HEADER, day1))
    with gzip.open(land / "cdr" / "day2.csv.gz", "wt") as fh:
        fh.write(csv_text(DAY2_HEADER, DAY2))
    typed = pa.table(
        {
            "record_id": ["q1", "q2"],
            "event_time": pa.array(
                [dt.datetime(2026, 3, 3, 9, 0), dt.datetime(2026, 3, 3, 9, 5)],
                pa.timestamp("us", tz="UTC"),
            ),
            "msisdn": [OWN1, OWN2],
            "event_type": ["voice", "voice"],
            "direction": ["out", "in"],
            "counterparty": ["+4915112345678", OWN1],
            "duration_s": pa.array([5, -3], pa.int64()),
            "roaming": pa.array([True, None]),
            "charge": pa.array([Decimal("0.5000"), None], pa.decimal128(18, 4)),
        }
    )
    pq.write_table(typed, land / "cdr" / "day3.parquet")
    os.utime(land / "cdr" / "day2.csv.gz", (2_000_000_000, 2_000_000_000))
    os.utime(land / "cdr" / "day3.parquet", (2_000_000_100, 2_000_000_100))
    subs = ["msisdn", "account_id", "plan_type", "as_of_date", "monthly_fee", "birth_year"]
    (land / "subscribers" / "subs.csv").write_text(
        csv_text(
            subs,
            [
                {"msisdn": OWN1, "account_id": "A1", "plan_type": "prepaid",
                 "as_of_date": "2026-03-02"},
                {"msisdn": "07400 000001", "account_id": "A1", "plan_type": "Postpaid",
                 "as_of_date": "2026-03-01", "monthly_fee": "12.5"},  # older: loses
                {"msisdn": OWN2, "plan_type": "gold"},
                {"msisdn": OWN3, "monthly_fee": "abc"},
                {"msisdn": "+447400000004", "as_of_date": "2026-13-01"},
                {"msisdn": "", "account_id": "A9"},
                {"msisdn": "+447400000005", "birth_year": "-1980"},
            ],
        )
    )  # fmt: skip
    (land / "cells" / "cells.csv").write_text(
        "CELL,LAT,LON,site_id\nc1,51.5,-0.12,s1\nc2,95,0,s2\nc3,north,0,s3\nc1,51.6,-0.12,s9\n"
    )
    (land / "app_usage" / "apps.csv").write_text(
        "msisdn,usage_date,app,category,bytes_up,bytes_down,sessions,duration_s\n"
        f"{OWN1},2026-03-02,YouTube,VIDEO,1,2,3,4\n"
        f"{OWN1},2026-03-02,YouTube,VIDEO,1,2,3,4\n"
        f"{OWN2},2026-03-02,Maps,navigation,1,2,-3,4\n"
        f"{OWN2},2026-03-32,Maps,navigation,1,2,3,4\n"
    )
    (land / "outcomes" / "outcomes.csv").write_text(
        "msisdn,event_date,outcome\n"
        f"{OWN1},2026-03-05,upgrade\n{OWN2},2026-03-06,ADOPT:streaming_bundle\n"
        f"{OWN2},2026-03-06,downgrade\n"
    )
    (land / "campaigns" / "campaigns.csv").write_text(
        "campaign_id,msisdn,offer,channel,sent_date,arm,converted,converted_date\n"
        f"k1,{OWN1},o,SMS,2026-03-01,treatment,yes,2026-03-03\n"
        f"k1,{OWN2},o,sms,2026-03-01,control,perhaps,\n"
        f"k1,{OWN3},o,fax,2026-03-01,control,no,\n"
    )


def make_cfg(root: Path, key_file: Path, **ingest: Any) -> Config:
    return from_dict(
        {
            "paths": {"root": str(root)},
            "timezone": "Europe/Paris",
            "spark": {"log_level": "WARN"},
            "ingest": {
                "hmac_key_file": str(key_file),
                "own_prefixes": ["+447400", "+447401"],
                "columns": {"cells": {"cell_id": "cell", "latitude": "LAT", "longitude": "lon"}},
                **ingest,
            },
        },
        "test.yaml",
    )


@pytest.fixture(scope="module")
def world(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("ingest")
    key_file = root / "secret" / "hmac.key"
    key_file.parent.mkdir()
    key_file.write_text(KEY + "\n")
    write_landing(root)
    cfg = make_cfg(root, key_file)
    report = run_ingest(spark, cfg)
    return {"root": root, "cfg": cfg, "report": report, "key_file": key_file}


def table(spark: SparkSession, cfg: Config, layer: str, name: str) -> DataFrame:
    return delta.read_table(spark, cfg.paths.table(layer, name))


def counts(report: RunReport, layer: str) -> dict[str, tuple[int, int, int, int]]:
    return {
        c.source: (c.read, c.accepted, c.quarantined, c.duplicates)
        for c in report.counts
        if c.layer == layer
    }


def versions(cfg: Config) -> dict[str, int]:
    paths = [cfg.paths.table(layer, n) for layer in ("bronze", "silver") for n in SOURCES]
    paths += [tables.quarantine_path(cfg), tables.log_path(cfg), tables.runs_path(cfg)]
    return {p: delta.table_version(p) for p in paths if delta.table_exists(p)}


def test_every_row_is_accepted_quarantined_or_a_counted_duplicate(
    spark: SparkSession, world: dict[str, Any]
) -> None:
    report, cfg = world["report"], world["cfg"]
    # cdr: 22 + 1 + 2 + 2 rows; g1 and g3 repeat; q2 has a negative duration.
    assert counts(report, "silver") == {
        "cdr": (27, 7, 18, 2),
        "app_usage": (4, 1, 2, 1),
        "subscribers": (7, 1, 5, 1),
        "cells": (4, 1, 2, 1),
        "outcomes": (3, 2, 1, 0),
        "campaigns": (3, 1, 2, 0),
    }
    assert counts(report, "bronze")["cdr"] == (27, 27, 0, 0)
    for c in report.counts:
        assert c.read == c.accepted + c.quarantined + c.duplicates
    runs = table(spark, cfg, "ops", "ingest_runs").where("layer = 'silver'").collect()
    assert {r["source"]: (r["rows_read"], r["rows_accepted"], r["rows_quarantined"],
            r["duplicates_collapsed"]) for r in runs} == counts(report, "silver")  # fmt: skip
    assert table(spark, cfg, "bronze", "cdr").count() == 27  # bronze keeps every row


def test_quarantine_reason_per_row_follows_the_precedence(
    spark: SparkSession, world: dict[str, Any]
) -> None:
    q = table(spark, world["cfg"], "bronze", "quarantine")
    ids = {"cdr": "record_id", "cells": "cell_id"}
    got = {
        (r["source"], json.loads(r["raw"]).get(ids.get(r["source"], "msisdn"))): r["reason"]
        for r in q.collect()
    }
    want = {("cdr", r["record_id"] or None): reason for r, reason in DAY1 if reason}
    want[("cdr", "q2")] = "negative_number"
    assert {k: v for k, v in got.items() if k[0] == "cdr"} == want
    assert {k[1]: v for k, v in got.items() if k[0] == "cells"} == {
        "c2": "bad_coordinate",
        "c3": "bad_number",
    }
    by_source: dict[str, set[str]] = {}
    for r in q.collect():
        by_source.setdefault(r["source"], set()).add(r["reason"])
    assert by_source["subscribers"] == {
        "missing_required", "bad_enum", "bad_number", "bad_timestamp", "negative_number",
    }  # fmt: skip
    assert by_source["app_usage"] == {"negative_number", "bad_timestamp"}
    assert by_source["outcomes"] == {"bad_enum"}
    assert by_source["campaigns"] == {"bad_boolean", "bad_enum"}
    row = q.where("raw like '%\"t2\"%'").first()
    assert (row["field"], row["source_file"]) == ("event_time", "cdr/day1.csv")
    assert json.loads(row["raw"])["event_type"] == "fax"  # the row as read, nulls included
    assert set(json.loads(row["raw"])) == set(CDR_HEADER)
    padded = json.loads(q.where("raw like '%\"e3\"%'").first()["raw"])
    assert (padded["event_type"], padded["charge"], padded["msisdn"]) == (" FAX ", "  ", OWN1)


def test_silver_cdr_is_typed_normalized_and_pseudonymized(
    spark: SparkSession, world: dict[str, Any]
) -> None:
    key = KEY.encode()
    rows = {r["record_id"]: r for r in table(spark, world["cfg"], "silver", "cdr").collect()}
    assert set(rows) == {"g1", "g2", "g3", "g4", "g5", "g6", "q1"}
    g1, g2, g3, g5 = rows["g1"], rows["g2"], rows["g3"], rows["g5"]
    # no offset = configured zone (Paris, UTC+1); Z; +01:00
    assert g1["event_time"] == dt.datetime(2026, 3, 2, 13, 5, 9)
    assert g2["event_time"] == dt.datetime(2026, 3, 2, 14, 5, 9)
    assert g3["event_time"] == dt.datetime(2026, 3, 2, 13, 5, 9)
    assert (g5["event_time"], g5["event_date"]) == (
        dt.datetime(2026, 3, 1, 23, 30),
        dt.date(2026, 3, 2),
    )
    # national and E.164 forms of one line are one subscriber
    assert g1["subscriber_id"] == g2["subscriber_id"] == pseudonym(key, OWN1)
    assert g1["counterparty_id"] == pseudonym(key, "+447508123456")
    assert (g1["counterparty_carrier"], g1["counterparty_number_type"]) == ("EE", "mobile")
    assert (g1["is_on_net"], g1["is_international"], g1["roaming"]) == (False, False, True)
    assert (g1["tac"], g1["imei_id"]) == ("49015420", pseudonym(key, "490154203237518"))
    assert g1["charge"] == Decimal("0.1000")
    assert g1["duration_s"] == 60  # a repeat in the same file: the upper row was seen first
    assert (g2["event_type"], g2["direction"], g2["counterparty_id"]) == (
        "sms",
        "in",
        pseudonym(key, "12345"),
    )
    assert g2["counterparty_number_type"] == "short_code" and g2["is_on_net"] is False
    assert (g3["direction"], g3["counterparty_id"], g3["bytes_down"]) == (None, None, 2)
    assert g3["source_file"] == "cdr/day1.csv"  # the first file's copy wins
    assert (g5["event_type"], g5["is_on_net"]) == ("voice", True)  # +447401 is an own range
    g4 = rows["g4"]  # padded msisdn and counterparty
    assert (g4["subscriber_id"], g4["counterparty_id"]) == (
        pseudonym(key, OWN1),
        pseudonym(key, "+12125551234"),
    )
    assert g4["is_international"] is True and g4["counterparty_country_iso"] == "US"
    assert rows["q1"]["counterparty_country_iso"] == "DE" and rows["q1"]["charge"] == Decimal("0.5")
    assert rows["q1"]["event_time"] == dt.datetime(2026, 3, 3, 9, 0)  # Parquet instant kept


def test_other_silver_tables_collapse_repeats_by_their_keys(
    spark: SparkSession, world: dict[str, Any]
) -> None:
    cfg, key = world["cfg"], KEY.encode()
    subs = table(spark, cfg, "silver", "subscribers").collect()
    assert [(r["subscriber_id"], r["plan_type"], r["as_of_date"]) for r in subs] == [
        (pseudonym(key, OWN1), "prepaid", dt.date(2026, 3, 2))  # latest as_of_date wins
    ]
    assert (subs[0]["carrier"], subs[0]["number_type"], subs[0]["country_iso"]) == (
        "Three",
        "mobile",
        "GB",
    )
    cells = table(spark, cfg, "silver", "cells").collect()
    # c1 twice in one file: the latest row is the lower one (s9), in every run
    assert [(r["cell_id"], r["site_id"], r["latitude"]) for r in cells] == [("c1", "s9", 51.6)]
    apps = table(spark, cfg, "silver", "app_usage").collect()
    assert [(r["app"], r["category"], r["sessions"]) for r in apps] == [("YouTube", "video", 3)]
    outcomes = sorted(r["outcome"] for r in table(spark, cfg, "silver", "outcomes").collect())
    assert outcomes == ["adopt:streaming_bundle", "upgrade"]
    camp = table(spark, cfg, "silver", "campaigns").collect()
    assert [(r["channel"], r["converted"], r["arm"]) for r in camp] == [("sms", True, "treatment")]


def test_a_batch_too_large_to_broadcast_gives_the_same_silver_tables(
    spark: SparkSession, world: dict[str, Any], tmp_path: Path
) -> None:
    """broadcast_numbers: 0 is the plan of a very large batch: the number lookups are
    joined with a shuffle and repeated record_ids ranked by a window. Same result."""
    write_landing(tmp_path)
    cfg = make_cfg(tmp_path, world["key_file"], broadcast_numbers=0, cache_numbers=False)
    report = run_ingest(spark, cfg)
    assert counts(report, "silver") == counts(world["report"], "silver")
    for name in SOURCES:
        got = table(spark, cfg, "silver", name).drop("ingest_run_id")
        want = table(spark, world["cfg"], "silver", name).drop("ingest_run_id")
        assertDataFrameEqual(got, want)
    # Without the number cache every number is parsed and none is stored.
    assert report.numbers_parsed == report.distinct_numbers > 0
    assert not delta.table_exists(tables.numbers_path(cfg))


def test_parsed_numbers_are_stored_in_bronze_with_their_tag(
    spark: SparkSession, world: dict[str, Any]
) -> None:
    report = world["report"]
    assert report.numbers_parsed == report.distinct_numbers > 0  # a fresh lake parses all
    stored = table(spark, world["cfg"], "bronze", "number_lookup")
    assert stored.count() == report.distinct_numbers
    assert stored.select("raw").distinct().count() == report.distinct_numbers
    tags = stored.select("plan_tag", "ingest_run_id").distinct().collect()
    assert len(tags) == 1 and len(tags[0]["plan_tag"]) == 16
    assert tags[0]["ingest_run_id"] == report.run_id
    row = stored.where(F.col("raw") == "07508 123456").first()
    assert row is not None and row["id"] == pseudonym(KEY.encode(), "+447508123456")


def test_stored_numbers_of_an_old_tag_or_past_retention_are_dropped(
    spark: SparkSession, world: dict[str, Any], tmp_path: Path
) -> None:
    write_landing(tmp_path)
    cfg = make_cfg(tmp_path, world["key_file"])
    first = run_ingest(spark, cfg)
    path = tables.numbers_path(cfg)
    (old_tag,) = {r["plan_tag"] for r in delta.read_table(spark, path).collect()}
    assert first.numbers_pruned == 0
    # A changed number plan (one own prefix fewer) makes every stored row stale.
    (tmp_path / "landing" / "cdr" / "day9.csv").write_text(
        csv_text(CDR_HEADER, [cdr("t1", counterparty="+447700900123")])
    )
    cfg = make_cfg(tmp_path, world["key_file"], own_prefixes=["+447400"])
    second = run_ingest(spark, cfg)
    assert second.numbers_parsed == second.distinct_numbers == 2  # nothing reused
    assert second.numbers_pruned == first.distinct_numbers
    pruned = first.distinct_numbers
    assert f"phone numbers: 2 distinct, 2 parsed, {pruned} dropped" in second.table()
    stored = delta.read_table(spark, path).collect()
    assert len(stored) == 2
    (tag,) = {r["plan_tag"] for r in stored}
    assert tag != old_tag
    # Age: kept up to cache_numbers_days after they were stored, then dropped whole.
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert prune_number_lookup(path, tag, 30, now + dt.timedelta(days=29)) == (0, 0)
    assert prune_number_lookup(path, tag, 0, now + dt.timedelta(days=3650)) == (0, 0)
    files, rows = prune_number_lookup(path, tag, 30, now + dt.timedelta(days=31))
    assert rows == 2 and files >= 1
    assert delta.read_table(spark, path).count() == 0


def test_no_silver_string_is_a_phone_number_and_no_table_holds_the_key(
    spark: SparkSession, world: dict[str, Any], spark_event_log_dir: str
) -> None:
    cfg, root = world["cfg"], world["root"]
    raw_numbers = {
        v
        for name in SOURCES
        for c in SOURCES[name].phone_columns
        if delta.table_exists(cfg.paths.table("bronze", name))
        for v in (r[0] for r in table(spark, cfg, "bronze", name).select(c).distinct().collect())
        if v
    }
    e164 = {re.sub(r"[^\d+]", "", v) for v in raw_numbers}
    for name in SOURCES:
        df = table(spark, cfg, "silver", name)
        strings = [f.name for f in df.schema.fields if isinstance(f.dataType, T.StringType)]
        for row in df.select(*strings).collect():
            for value in row:
                if value is None:
                    continue
                assert value not in raw_numbers | e164, (name, value)
                assert KEY not in value
                if re.fullmatch(r"\+?[\d ()\-]{7,20}", value):
                    number = phonenumbers.parse(value, "GB")
                    assert not phonenumbers.is_valid_number(number), (name, value)
    assert_no_key_in_files(root / "lake")
    assert_no_key_in_files(Path(spark_event_log_dir))


def assert_no_key_in_files(folder: Path) -> None:
    needles = [KEY.encode(), KEY.encode().hex().encode(), bytes(b ^ 0x36 for b in KEY.encode())]
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files
    for p in files:
        data = p.read_bytes()
        if p.suffix == ".gz" or data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        for needle in needles:
            assert needle not in data, p


def test_query_plans_never_carry_the_key(
    spark: SparkSession, world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    source = KeySource(file=str(world["key_file"]))
    plan = NumberPlan("GB", ("+447400",))
    bronze = table(spark, world["cfg"], "bronze", "cdr").where("ingest_run_id is not null")
    cleaned = S.with_file_order(S.with_clean_text(bronze, "cdr"), {})
    numbers = lookup_numbers(cleaned.select(F.col("msisdn").alias("raw")).distinct(), plan, source)
    imeis = lookup_imeis(cleaned.select(F.col("imei").alias("raw")).distinct(), source)
    df = S.validate_cdr(cleaned, numbers, imeis, "UTC")
    assert df.where("reason is null").count() > 0
    df.explain(mode="extended")
    for text in (df._jdf.queryExecution().toString(), capsys.readouterr().out):
        assert KEY not in text and KEY.encode().hex() not in text
        assert "MapInPandas" in text


def test_ingest_log_and_runs_record_each_file_once(
    spark: SparkSession, world: dict[str, Any]
) -> None:
    log_df = table(spark, world["cfg"], "ops", "ingest_log")
    rows = log_df.where("source = 'cdr'").orderBy("layer", "mtime_ms").collect()
    assert [(r["layer"], r["path"], r["rows"]) for r in rows] == [
        (layer, path, n)
        for layer in ("bronze", "silver")
        for path, n in (("cdr/day1.csv", 23), ("cdr/day2.csv.gz", 2), ("cdr/day3.parquet", 2))
    ]


def test_the_same_files_again_add_nothing(spark: SparkSession, world: dict[str, Any]) -> None:
    cfg = world["cfg"]
    before = versions(cfg)
    report = run_ingest(spark, cfg)
    assert report.counts == [] and report.committed == {}
    assert versions(cfg) == before


def test_new_files_are_deduplicated_across_runs_by_separate_layer_jobs(
    spark: SparkSession, world: dict[str, Any]
) -> None:
    cfg, land = world["cfg"], world["root"] / "landing"
    # A resend of day1's g1 and g5 (now on 03-02 in silver) plus one new call.
    (land / "cdr" / "day4.csv").write_text(
        csv_text(CDR_HEADER, [DAY1[0][0], DAY1[4][0], cdr("g7", event_time="2026-03-02T11:00:00Z")])
    )
    (land / "subscribers" / "subs2.csv").write_text(
        f"msisdn,plan_type,as_of_date\n{OWN1},postpaid,2026-03-03\n"
    )
    bronze = run_bronze(spark, cfg)
    assert counts(bronze, "bronze") == {"cdr": (3, 3, 0, 0), "subscribers": (1, 1, 0, 0)}
    assert counts(bronze, "silver") == {}
    silver = run_silver(spark, cfg)
    assert counts(silver, "silver") == {"cdr": (3, 1, 0, 2), "subscribers": (1, 1, 0, 0)}
    rows = {r["record_id"]: r for r in table(spark, cfg, "silver", "cdr").collect()}
    assert sorted(rows) == ["g1", "g2", "g3", "g4", "g5", "g6", "g7", "q1"]
    # Every number of this batch was parsed by the first run: looked up, not parsed again.
    assert (silver.distinct_numbers, silver.numbers_parsed) == (4, 0)
    key = KEY.encode()
    g7 = rows["g7"]
    assert (g7["subscriber_id"], g7["counterparty_id"], g7["counterparty_carrier"]) == (
        pseudonym(key, OWN1),
        pseudonym(key, "+447508123456"),
        "EE",
    )
    subs = table(spark, cfg, "silver", "subscribers").collect()
    assert [(r["plan_type"], r["as_of_date"]) for r in subs] == [("postpaid", dt.date(2026, 3, 3))]
    assert run_silver(spark, cfg).counts == []  # nothing left to promote


def test_a_file_without_a_required_column_fails_the_run_and_commits_nothing(
    spark: SparkSession, world: dict[str, Any]
) -> None:
    cfg, land = world["cfg"], world["root"] / "landing"
    good = land / "cdr" / "day5.csv"
    good.write_text(csv_text(CDR_HEADER, [cdr("g8")]))
    bad = land / "outcomes" / "no_outcome.csv"
    bad.write_text(f"msisdn,event_date\n{OWN1},2026-03-05\n")
    before = versions(cfg)
    with pytest.raises(
        InputFileError, match=r"no_outcome\.csv \(column 'outcome'\).*lacks required column"
    ):
        run_ingest(spark, cfg)
    assert versions(cfg) == before
    bad.unlink()


def test_a_truncated_gzip_fails_the_run_naming_it_and_commits_nothing(
    spark: SparkSession, world: dict[str, Any]
) -> None:
    cfg, land = world["cfg"], world["root"] / "landing"
    rows = [cdr(f"z{i}", imei="490154203237518") for i in range(3000)]
    whole = gzip.compress(csv_text(CDR_HEADER, rows).encode())
    bad = land / "cdr" / "day6.csv.gz"
    bad.write_bytes(whole[: len(whole) // 2])  # header readable, the end is missing
    before = versions(cfg)
    with pytest.raises(InputFileError, match=r"day6\.csv\.gz.*cannot be read") as info:
        run_ingest(spark, cfg)
    assert "\n\tat " not in str(info.value)  # no JVM stack trace in the message
    assert versions(cfg) == before
    bronze_files = [p for p in (world["root"] / "lake" / "bronze" / "cdr").rglob("*.parquet")]
    assert len(bronze_files) == len(
        delta.read_table(spark, cfg.paths.table("bronze", "cdr")).inputFiles()
    )
    bad.unlink()
    after = run_ingest(spark, cfg)  # the good file left waiting goes in now
    assert counts(after, "silver")["cdr"] == (1, 1, 0, 0)


def scratch_folders(cfg: Config) -> list[Path]:
    """The per-run scratch folders of validated rows (raw numbers in the broken ones)."""
    return list((Path(tables.quarantine_path(cfg)) / delta.STAGING).glob("validated-*"))


def test_the_validated_rows_scratch_is_gone_after_a_run(world: dict[str, Any]) -> None:
    assert world["report"].counts  # the run did validate rows
    assert scratch_folders(world["cfg"]) == []


def test_a_failed_silver_write_commits_nothing_and_leaves_no_scratch(
    spark: SparkSession, world: dict[str, Any], tmp_path: Path
) -> None:
    root = tmp_path / "failing"
    write_landing(root)
    cfg = make_cfg(root, world["key_file"])
    # A silver CDR table of another shape: its write fails after validation ran.
    delta.write_table(
        spark.createDataFrame([("r", dt.date(2026, 3, 2))], "record_id string, event_date date"),
        cfg.paths.table("silver", "cdr"),
        mode="error",
        partition_by=["event_date"],
    )
    before = versions(cfg)
    with pytest.raises(SchemaMismatchError, match="silver/cdr"):
        run_ingest(spark, cfg)
    assert versions(cfg) == before
    assert scratch_folders(cfg) == []


def test_no_key_refuses_to_start(
    spark: SparkSession, world: dict[str, Any], tmp_path: Path
) -> None:
    cfg = make_cfg(world["root"], tmp_path / "absent.key")
    before = versions(cfg)
    with pytest.raises(SecretError, match="cannot read the pseudonymization key"):
        run_ingest(spark, cfg)
    assert versions(cfg) == before


MIN_SPLITS = "spark.sql.files.minPartitionNum"


def test_silver_asks_for_scan_splits_per_core_and_gives_the_session_back(
    spark: SparkSession, world: dict[str, Any]
) -> None:
    assert world["report"].counts  # a silver run happened in this session
    assert spark.conf.get(MIN_SPLITS, None) is None  # the run restored (unset) it
    cores = spark.sparkContext.defaultParallelism
    assert silver_conf(spark) == {MIN_SPLITS: str(SPLITS_PER_CORE * cores)}
    spark.conf.set(MIN_SPLITS, str(SPLITS_PER_CORE * cores + 5))
    try:
        # An operator's larger setting is kept.
        assert silver_conf(spark) == {MIN_SPLITS: str(SPLITS_PER_CORE * cores + 5)}
    finally:
        spark.conf.unset(MIN_SPLITS)
