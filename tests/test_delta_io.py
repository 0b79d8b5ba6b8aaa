"""Delta IO without jars: every write mode round-trips through delta-rs and Spark."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from telcoseg.errors import (
    ConcurrentWriteError,
    DeltaWriteError,
    SchemaMismatchError,
    TableNotFoundError,
)
from telcoseg.io import delta
from telcoseg.io.delta import _WriteTxn

SCHEMA = T.StructType(
    [
        T.StructField("id", T.LongType(), False),
        T.StructField("day", T.DateType(), True),
        T.StructField("name", T.StringType(), True),
        T.StructField("ts", T.TimestampType(), True),
        T.StructField("amount", T.DecimalType(18, 4), True),
        T.StructField("score", T.DoubleType(), True),
    ]
)
D1, D2, D3 = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)
TS = dt.datetime(2026, 3, 1, 10, 30, 15, 123456)


def rows(spark: SparkSession, data: list[tuple]) -> DataFrame:
    return spark.createDataFrame(data, SCHEMA)


def base(spark: SparkSession) -> DataFrame:
    return rows(
        spark,
        [
            (1, D1, "a", TS, Decimal("1.5000"), 0.5),
            (2, D1, None, None, None, float("nan")),
            (3, D2, "c", TS, Decimal("3.2500"), 3.0),
        ],
    )


def data_files(path: Path) -> list[str]:
    return sorted(
        str(p.relative_to(path))
        for p in path.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts)
    )


def test_create_is_read_back_by_delta_rs_and_spark(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    one_task = base(spark).coalesce(1)  # one file per day, so the stats below are per day
    version = delta.write_table(one_task, path, partition_by=["day"], commit_info={"job": "t"})
    assert version == 0
    dtable = DeltaTable(path)
    assert dtable.version() == 0
    assert dtable.metadata().partition_columns == ["day"]
    assert [f.name for f in dtable.schema().fields] == SCHEMA.names
    assert dtable.count() == 3  # delta-rs counts from our stats
    info = delta.describe(path)
    assert info["rows"] == 3 and info["rows_known"] and info["files"] >= 2
    assert_df_equality(
        delta.read_table(spark, path),
        base(spark),
        ignore_row_order=True,
        ignore_nullable=True,
        allow_nan_equality=True,
    )
    # Stats are finite JSON with exact bounds (NaN dropped, timestamps widened to ms).
    log0 = (tmp_path / "t" / "_delta_log" / f"{0:020d}.json").read_text().splitlines()
    adds = [json.loads(json.loads(line)["add"]["stats"]) for line in log0 if '"add"' in line]
    assert all(s["numRecords"] in (1, 2) for s in adds)
    d1 = next(s for s in adds if s["numRecords"] == 2)
    assert d1["minValues"]["ts"] == "2026-03-01T10:30:15.123Z"
    assert d1["maxValues"]["ts"] == "2026-03-01T10:30:15.124Z"
    assert "score" not in d1["minValues"]
    assert d1["nullCount"]["name"] == 1
    assert delta.history(path)[0]["telcoseg"] == {"job": "t"}


def test_append_overwrite_and_time_travel(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    delta.write_table(base(spark), path, partition_by=["day"])
    more = rows(spark, [(4, D3, "d", None, None, None)])
    assert delta.write_table(more, path, mode="append") == 1
    assert delta.read_table(spark, path).count() == 4
    assert DeltaTable(path).count() == 4
    only = rows(spark, [(9, D1, "z", None, None, None)])
    assert delta.write_table(only, path, mode="overwrite") == 2
    assert [r.id for r in delta.read_table(spark, path).collect()] == [9]
    assert delta.read_table(spark, path, version=0).count() == 3
    assert delta.read_table(spark, path, version=1).count() == 4
    ops = [h["operation"] for h in delta.history(path)]
    assert len(ops) == 3


def test_replace_where_replaces_one_partition_and_refuses_rows_outside(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = str(tmp_path / "t")
    delta.write_table(base(spark), path, partition_by=["day"])
    new_d1 = rows(spark, [(10, D1, "x", None, None, None)])
    v = delta.write_table(new_d1, path, mode="overwrite", replace_where={"day": D1})
    got = {(r.id, r.day) for r in delta.read_table(spark, path).collect()}
    assert got == {(10, D1), (3, D2)}
    outside = rows(spark, [(11, D1, "x", None, None, None), (12, D3, "y", None, None, None)])
    with pytest.raises(DeltaWriteError, match="outside replace_where"):
        delta.write_table(outside, path, mode="overwrite", replace_where={"day": D1})
    assert delta.table_version(path) == v
    # The refused write left no files behind.
    assert len(data_files(tmp_path / "t")) == len(DeltaTable(path).file_uris()) + 2
    with pytest.raises(DeltaWriteError, match="not a partition column"):
        delta.write_table(new_d1, path, mode="overwrite", replace_where={"name": "x"})


def test_upsert_updates_inserts_and_keeps_untouched_rows(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = str(tmp_path / "t")
    delta.write_table(base(spark), path, partition_by=["day"])
    changes = rows(
        spark,
        [(2, D1, "b-updated", None, None, 2.0), (7, D2, "new", None, None, 7.0)],
    )
    delta.upsert(changes, path, keys=["id"])
    got = {r.id: r.name for r in delta.read_table(spark, path).collect()}
    assert got == {1: "a", 2: "b-updated", 3: "c", 7: "new"}
    assert DeltaTable(path).count() == 4
    dup = rows(spark, [(1, D1, "p", None, None, None), (1, D1, "q", None, None, None)])
    with pytest.raises(DeltaWriteError, match="appears 2 times"):
        delta.upsert(dup, path, keys=["id"])
    # Upsert into a table that does not exist creates it.
    new_path = str(tmp_path / "u")
    delta.upsert(changes, new_path, keys=["id"], partition_by=["day"])
    assert delta.read_table(spark, new_path).count() == 2


def test_schema_mismatch_is_refused_and_changes_nothing(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = str(tmp_path / "t")
    delta.write_table(base(spark), path, partition_by=["day"])
    wrong = base(spark).withColumn("id", F.col("id").cast("string"))
    with pytest.raises(SchemaMismatchError, match=r"type mismatch: \['id: table bigint"):
        delta.write_table(wrong, path, mode="append")
    extra = base(spark).withColumn("more", F.lit(1))
    with pytest.raises(SchemaMismatchError, match=r"columns not in the table: \['more'\]"):
        delta.write_table(extra, path, mode="append")
    with pytest.raises(DeltaWriteError, match="already exists"):
        delta.write_table(base(spark), path)
    assert delta.table_version(path) == 0


def test_non_nullable_column_with_nulls_is_refused(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    delta.write_table(base(spark), path)
    # The data frame says id may be null (a left join would do that): the table says not.
    nulls = base(spark).withColumn("id", F.when(F.col("id") == 1, None).otherwise(F.col("id")))
    with pytest.raises(DeltaWriteError, match="column id is not nullable but has 1 null"):
        delta.write_table(nulls, path, mode="append")
    assert delta.table_version(path) == 0
    assert len(data_files(tmp_path / "t")) == len(DeltaTable(path).file_uris())


def test_write_failing_midway_leaves_previous_version(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    delta.write_table(base(spark), path, partition_by=["day"])
    before = data_files(tmp_path / "t")
    boom = base(spark).withColumn(
        "name", F.when(F.col("id") == 3, F.raise_error(F.lit("boom at row 3"))).otherwise("ok")
    )
    with pytest.raises(DeltaWriteError, match="nothing was committed"):
        delta.write_table(boom, path, mode="overwrite")
    assert delta.table_version(path) == 0
    assert delta.read_table(spark, path).count() == 3
    assert data_files(tmp_path / "t") == before
    assert not (tmp_path / "t" / "_staging").exists() or not any(
        (tmp_path / "t" / "_staging").iterdir()
    )


def test_uncommitted_files_are_invisible_and_cleaned_up(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = str(tmp_path / "t")
    delta.write_table(base(spark), path, partition_by=["day"])
    # What a writer killed between writing and committing leaves behind.
    base(spark).write.partitionBy("day").parquet(str(tmp_path / "t" / "_staging" / "dead"))
    orphan = tmp_path / "t" / "day=2026-03-01" / "part-99999-orphan.snappy.parquet"
    base(spark).drop("day").coalesce(1).write.parquet(str(tmp_path / "orphan"))
    os.replace(next((tmp_path / "orphan").glob("*.parquet")), orphan)
    assert delta.read_table(spark, path).count() == 3
    assert DeltaTable(path).count() == 3
    assert delta.cleanup_orphans(path, older_than_seconds=3600) == []  # too young to touch
    removed = delta.cleanup_orphans(path, older_than_seconds=-1)
    assert "day=2026-03-01/part-99999-orphan.snappy.parquet" in removed
    assert "_staging/dead" in removed
    assert not orphan.exists()
    assert delta.read_table(spark, path).count() == 3


def test_lost_commit_race_is_a_clear_error_and_log_stays_sound(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = str(tmp_path / "t")
    delta.write_table(base(spark), path, partition_by=["day"])
    # Writer A read version 0; writer B overwrites first; A must not silently win.
    late = _WriteTxn(
        rows(spark, [(5, D1, "a", None, None, None)]),
        path,
        "overwrite",
        [],
        None,
        None,
        False,
        read_version=0,
    )
    delta.write_table(rows(spark, [(6, D2, "b", None, None, None)]), path, mode="overwrite")
    with pytest.raises(ConcurrentWriteError, match="concurrent writer"):
        late.run()
    assert delta.table_version(path) == 1
    assert [r.id for r in delta.read_table(spark, path).collect()] == [6]
    assert sorted(data_files(tmp_path / "t")) == sorted(
        p for p in data_files(tmp_path / "t") if "part-" in p
    )


def test_concurrent_appends_both_land(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    delta.write_table(base(spark), path, partition_by=["day"])
    errors: list[BaseException] = []

    def append(i: int) -> None:
        try:
            df = rows(spark, [(100 + i, D3, f"w{i}", None, None, None)])
            delta.write_table(df, path, mode="append")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert delta.table_version(path) == 3
    assert DeltaTable(path).count() == 6
    assert delta.read_table(spark, path).count() == 6


def test_awkward_partition_values_round_trip(spark: SparkSession, tmp_path: Path) -> None:
    schema = T.StructType(
        [T.StructField("k", T.StringType()), T.StructField("v", T.IntegerType(), False)]
    )
    df = spark.createDataFrame([("a:b/c%d", 1), (None, 2), ("with space", 3), ("01", 4)], schema)
    path = str(tmp_path / "p")
    delta.write_table(df, path, partition_by=["k"])
    parts = {tuple(sorted(p.items())) for p in DeltaTable(path).partitions()}
    assert (("k", "a:b/c%d"),) in parts and (("k", None),) in parts
    assert DeltaTable(path).count() == 4
    assert_df_equality(
        delta.read_table(spark, path), df, ignore_row_order=True, ignore_nullable=True
    )
    pruned = delta.read_table(spark, path, partition_filters=[("k", "=", "01")])
    assert [(r.k, r.v) for r in pruned.collect()] == [("01", 4)]


def test_remove_files_drops_whole_files_chosen_by_their_log_entry(
    spark: SparkSession, tmp_path: Path
) -> None:
    schema = T.StructType(
        [T.StructField("k", T.StringType()), T.StructField("v", T.IntegerType(), False)]
    )
    df = spark.createDataFrame([("a:b/c%d", 1), ("a:b/c%d", 2), ("keep", 3)], schema)
    path = str(tmp_path / "r")
    delta.write_table(df, path, partition_by=["k"])
    assert delta.remove_files(path, lambda a: False) == (0, 0)
    assert delta.table_version(path) == 0  # nothing matched: no commit
    removed = delta.remove_files(path, lambda a: a["partition.k"] == "a:b/c%d", {"job": "test"})
    assert removed[1] == 2 and removed[0] >= 1
    assert delta.table_version(path) == 1
    assert [(r.k, r.v) for r in delta.read_table(spark, path).collect()] == [("keep", 3)]
    assert DeltaTable(path).count() == 1
    # Log-only: the old version still reads whole (its files stay until a vacuum).
    assert delta.read_table(spark, path, version=0).count() == 3
    # Statistics are there to choose by.
    by_stats = delta.remove_files(path, lambda a: a["max.v"] == 3)
    assert by_stats == (1, 1) and delta.read_table(spark, path).count() == 0


def log_actions(path: Path, version: int) -> list[dict]:
    text = (path / "_delta_log" / f"{version:020d}.json").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_compact_rewrites_small_files_per_partition_without_changing_rows(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = str(tmp_path / "c")
    delta.write_table(base(spark), path, partition_by=["day"])
    for i in range(4):
        more = rows(
            spark, [(10 + i, D1, f"n{i}", TS, None, 1.0), (20 + i, D2, None, None, None, None)]
        )
        delta.write_table(more, path, mode="append")
    before = delta.read_table(spark, path)
    v = delta.table_version(path)
    actions = pa.table(DeltaTable(path).get_add_actions(flatten=True)).to_pylist()
    assert {a["partition.day"] for a in actions} == {D1, D2} and len(actions) >= 10
    removed, added = delta.compact(spark, path, min_files=3)
    assert added == 2 and removed >= 10  # every partition ends with one file
    assert delta.table_version(path) == v + 1
    after = delta.read_table(spark, path)
    assertDataFrameEqual(after, before)  # any order; NaN equals NaN
    assertDataFrameEqual(delta.read_table(spark, path, version=v), before)
    acts = log_actions(tmp_path / "c", v + 1)
    changes = [a[k]["dataChange"] for a in acts for k in ("add", "remove") if k in a]
    assert len(changes) == removed + added and not any(changes)
    assert delta.compact(spark, path, min_files=3) == (0, 0)  # nothing small enough left
    assert delta.table_version(path) == v + 1


def test_compact_splits_a_partition_past_the_target_file_size(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = str(tmp_path / "t")
    for i in range(4):
        more = rows(
            spark, [(i, D1, f"n{i}", None, None, None), (10 + i, D1, None, None, None, None)]
        )
        delta.write_table(more, path, mode="append", partition_by=["day"])
    before = delta.read_table(spark, path).collect()
    # A target below one row's share of the bytes: a file per row.
    removed, added = delta.compact(spark, path, min_files=3, target_file_bytes=1)
    assert added == 8 and removed >= 4
    assertDataFrameEqual(delta.read_table(spark, path), before)


def test_vacuum_deletes_only_files_removed_before_the_retention(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "v")
    delta.write_table(base(spark), path, partition_by=["day"])
    on_disk = set(data_files(tmp_path / "v"))
    # One partition's files removed two days ago, the other's just now.
    now = __import__("time").time()
    monkeypatch.setattr(delta.time, "time", lambda: now - 2 * 86400)
    old = delta.remove_files(path, lambda a: a["partition.day"] == D1)
    monkeypatch.undo()
    young = delta.remove_files(path, lambda a: a["partition.day"] == D2)
    assert old[1] == 2 and young[1] == 1
    # A staged write's files are at their paths but not in the log until it commits.
    pending = delta.prepare_write(rows(spark, [(7, D3, "s", None, None, None)]), path, "append")
    assert delta.vacuum(path, retain_hours=24, dry_run=True) != []
    assert set(data_files(tmp_path / "v")) >= on_disk  # a dry run deletes nothing
    gone = delta.vacuum(path, retain_hours=24)
    left = set(data_files(tmp_path / "v"))
    assert {g.split("/")[0] for g in gone} == {"day=2026-03-01"}
    assert not any(f.startswith("day=2026-03-01") for f in left)
    assert any(f.startswith("day=2026-03-02") for f in left)
    pending.commit()
    assert [r.id for r in delta.read_table(spark, path).collect()] == [7]
    with pytest.raises(DeltaWriteError, match="retain_hours must be >= 1"):
        delta.vacuum(path, retain_hours=0)


def test_empty_table_and_missing_table(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "e")
    delta.write_table(spark.createDataFrame([], SCHEMA), path)
    empty = delta.read_table(spark, path)
    assert empty.count() == 0 and empty.columns == SCHEMA.names
    with pytest.raises(TableNotFoundError, match="no Delta table"):
        delta.read_table(spark, str(tmp_path / "nope"))


def test_prepared_writes_are_invisible_until_committed(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    delta.write_table(base(spark), path, partition_by=["day"])
    pending = delta.prepare_write(
        rows(spark, [(8, D3, "h", None, None, None)]), path, mode="append"
    )
    assert pending.rows == 1
    assert [r.id for r in pending.read(spark).collect()] == [8]
    assert delta.read_table(spark, path).count() == 3  # staged, not visible
    assert pending.commit() == 1
    assert delta.read_table(spark, path).count() == 4
    dropped = delta.prepare_write(
        rows(spark, [(9, D3, "i", None, None, None)]), path, mode="append"
    )
    dropped.discard()
    assert delta.table_version(path) == 1
    assert len(data_files(tmp_path / "t")) == len(DeltaTable(path).file_uris())


def test_write_options_reach_the_parquet_writer(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "t"
    df = spark.range(60_000).select(F.col("id"), F.sha2(F.col("id").cast("string"), 256).alias("h"))
    pending = delta.prepare_write(
        df.coalesce(1), str(path), write_options={"parquet.block.size": str(256 * 1024)}
    )
    pending.commit()
    (only,) = data_files(path)
    # ~4.7 MB of hashes in 256 KB row groups; Spark's default would be one row group.
    assert pq.ParquetFile(path / only).metadata.num_row_groups > 4
    assert delta.read_table(spark, str(path)).count() == 60_000


def test_timestamps_are_written_as_micros_and_the_session_setting_is_given_back(
    spark: SparkSession, tmp_path: Path
) -> None:
    key = "spark.sql.parquet.outputTimestampType"
    before = spark.conf.get(key)
    spark.conf.unset(key)  # Spark's own default (INT96), as under spark-submit
    try:
        delta.write_table(base(spark), str(tmp_path / "t"))
        assert spark.conf.get(key, None) in (None, "INT96")  # not left at micros
    finally:
        spark.conf.set(key, before)
    (first, *_) = data_files(tmp_path / "t")
    ts = pq.ParquetFile(tmp_path / "t" / first).schema_arrow.field("ts").type
    assert ts == pa.timestamp("us", tz="UTC") or ts == pa.timestamp("us")
