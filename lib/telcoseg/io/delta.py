"""Delta Lake tables, with or without delta-spark's jars.

With the delta-spark extension on the classpath, Spark's own Delta engine does the work.
Without it (the default here: no Maven repository is reachable), Spark writes the
Parquet files in parallel into a staging folder inside the table, the driver moves them
to their final paths and commits them with delta-rs as add actions built from file
metadata (sizes, partition values, footer stats). Table data never passes through the
driver.

delta-rs checks almost nothing it is handed, so every commit is validated here first:
paths exist and are new, partition values are complete and inside ``replace_where``,
schemas match, non-nullable columns hold no nulls, stats are finite JSON. A failed write
deletes its files; files that a killed process left behind are invisible to readers
(they are not in the log) and :func:`cleanup_orphans` removes them.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.exceptions import TableNotFoundError as DeltaTableNotFound
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    RemoveAction,
    create_table_with_add_actions,
)
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

from telcoseg.errors import (
    ConcurrentWriteError,
    DeltaWriteError,
    SchemaMismatchError,
    TableNotFoundError,
    first_line,
)
from telcoseg.io.stats import HIVE_NULL, build_add_actions
from telcoseg.io.storage import TableStorage, normalize_uri, spark_uri
from telcoseg.session import has_delta_extension, session_conf

log = logging.getLogger(__name__)

WriteMode = Literal["error", "append", "overwrite"]
STAGING = "_staging"
# Column names Delta cannot store without column mapping.
_BAD_NAME_CHARS = set(" ,;{}()\n\t=")
_PARTITION_TYPES = (
    T.StringType,
    T.DateType,
    T.IntegerType,
    T.LongType,
    T.ShortType,
    T.ByteType,
    T.BooleanType,
)
APPEND_RETRIES = 15
# Seconds spent in each phase of the last jar-free write (benchmarks report them).
LAST_WRITE_TIMINGS: dict[str, float] = {}
UPSERT_ATTEMPTS = 3


# --------------------------------------------------------------------------- metadata


def table_exists(path: str) -> bool:
    """True when ``path`` holds a Delta table (a ``_delta_log`` with a commit)."""
    return DeltaTable.is_deltatable(normalize_uri(path))


def _open(path: str, version: int | None = None) -> DeltaTable:
    try:
        return DeltaTable(normalize_uri(path), version=version)
    except DeltaTableNotFound:
        raise TableNotFoundError(f"no Delta table at {path}") from None
    except DeltaError as exc:
        raise TableNotFoundError(
            f"cannot open Delta table {path} version {version}: {exc}"
        ) from None


def table_version(path: str) -> int:
    """The latest committed version of the table."""
    return _open(path).version()


def history(path: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Commits, newest first: version, timestamp, operation, parameters, telcoseg metadata."""
    return _open(path).history(limit)


def partition_columns(path: str) -> list[str]:
    return list(_open(path).metadata().partition_columns)


def spark_schema(dtable: DeltaTable) -> T.StructType:
    """The table's schema as Spark sees it (timestamps as TimestampType, UTC instants)."""
    arrow = pa.schema(dtable.schema().to_arrow())
    return from_arrow_schema(arrow, prefer_timestamp_ntz=False)


def describe(path: str) -> dict[str, Any]:
    """Version, schema, partition columns, file and row counts, read from the log only."""
    dtable = _open(path)
    actions = pa.table(dtable.get_add_actions(flatten=True))
    rows = actions.column("num_records").to_pylist() if actions.num_rows else []
    return {
        "version": dtable.version(),
        "schema": spark_schema(dtable).simpleString(),
        "partition_columns": list(dtable.metadata().partition_columns),
        "files": actions.num_rows,
        "rows": int(sum(r for r in rows if r is not None)),
        "rows_known": all(r is not None for r in rows),
    }


def active_files(path: str, version: int | None = None) -> list[dict[str, Any]]:
    """The table's add actions (at ``version``, default latest), read from the log only:
    ``path``, ``size_bytes``, ``modification_time``, ``num_records``, ``partition.<col>``,
    statistics. ``partition_value`` turns a ``partition.<col>`` into its folder text."""
    return _add_actions(_open(path, version))


def _add_actions(dtable: DeltaTable) -> list[dict[str, Any]]:
    return pa.table(dtable.get_add_actions(flatten=True)).to_pylist()


def _active_paths(dtable: DeltaTable) -> dict[str, dict[str, Any]]:
    """Active files keyed by their on-disk relative path (the log's paths are URL-encoded)."""
    from urllib.parse import unquote

    return {unquote(a["path"]): a for a in _add_actions(dtable)}


# --------------------------------------------------------------------------- reading


def read_table(
    spark: SparkSession,
    path: str,
    version: int | None = None,
    timestamp: dt.datetime | None = None,
    partition_filters: Sequence[tuple[str, str, Any]] | None = None,
) -> DataFrame:
    """The table at its latest version, at ``version``, or as of ``timestamp``.

    ``partition_filters`` prune files before Spark sees them, e.g.
    ``[("event_date", ">=", "2026-03-01")]``.
    """
    if has_delta_extension(spark):
        reader = spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        if timestamp is not None:
            reader = reader.option("timestampAsOf", timestamp.isoformat())
        if not table_exists(path):
            raise TableNotFoundError(f"no Delta table at {path}")
        df = reader.load(spark_uri(path))
        for col, op, value in partition_filters or ():
            df = df.where(_filter_column(col, op, value))
        return df
    dtable = _open(path, version)
    if timestamp is not None:
        dtable.load_as_version(timestamp)
    df = _scan(spark, dtable, path, partition_filters)
    return df.select(*[F.col(f"`{n}`") for n in spark_schema(dtable).names])


def _scan(
    spark: SparkSession,
    dtable: DeltaTable,
    path: str,
    partition_filters: Sequence[tuple[str, str, Any]] | None = None,
) -> DataFrame:
    """The table's active files as a Parquet scan (partition columns from folder names)."""
    schema = spark_schema(dtable)
    filters = [(c, op, _partition_string(v)) for c, op, v in partition_filters or ()]
    uris = dtable.file_uris(filters or None)
    if not uris:
        return spark.createDataFrame([], schema)
    base = spark_uri(path)
    # Without the schema Spark would guess partition types ("01" -> 1).
    return spark.read.schema(schema).option("basePath", base).parquet(*[spark_uri(u) for u in uris])


def _filter_column(col: str, op: str, value: Any) -> Any:
    c = F.col(col)
    ops = {"=": c == value, "!=": c != value, ">": c > value, ">=": c >= value, "<": c < value}
    ops["<="] = c <= value
    if op == "in":
        return c.isin(list(value))
    if op == "not in":
        return ~c.isin(list(value))
    return ops[op]


def partition_value(value: Any) -> str | None:
    """A partition value as Delta writes it in the log and folder names (dates ISO)."""
    return None if value is None else _partition_string(value)


def _partition_string(value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return [_partition_string(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


# --------------------------------------------------------------------------- writing


def write_table(
    df: DataFrame,
    path: str,
    mode: WriteMode = "error",
    partition_by: Sequence[str] | None = None,
    replace_where: Mapping[str, Any] | None = None,
    commit_info: Mapping[str, Any] | None = None,
    overwrite_schema: bool = False,
) -> int:
    """Write ``df`` as a Delta table and return the new version.

    ``mode``: ``error`` (create; fail if the table exists), ``append``, or ``overwrite``.
    ``replace_where``: with ``overwrite``, replace only the partitions where each column
    equals the value (or is in the list of values), like Delta's ``replaceWhere``; rows of
    ``df`` outside it are refused. ``commit_info`` lands in the commit's metadata.
    """
    if mode not in ("error", "append", "overwrite"):
        raise DeltaWriteError(f"unknown write mode {mode!r}: expected error, append or overwrite")
    if replace_where and mode != "overwrite":
        raise DeltaWriteError("replace_where needs mode='overwrite'")
    _check_column_names(df.schema, path)
    partition_by = list(partition_by or [])
    if has_delta_extension(df.sparkSession):
        return _native_write(df, path, mode, partition_by, replace_where, overwrite_schema)
    return _WriteTxn(
        df, path, mode, partition_by, replace_where, commit_info, overwrite_schema
    ).run()


def upsert(
    df: DataFrame,
    path: str,
    keys: Sequence[str],
    partition_by: Sequence[str] | None = None,
    commit_info: Mapping[str, Any] | None = None,
) -> int:
    """Insert rows of ``df`` whose ``keys`` are new and replace the rows whose keys exist.

    Keys must be unique in ``df``. Without delta-spark, the files holding any matched key
    are rewritten (their unmatched rows kept) and swapped in one commit; a concurrent
    writer makes it start again from the new version, up to 3 times.
    """
    keys = list(keys)
    missing = [k for k in keys if k not in df.columns]
    if missing:
        raise SchemaMismatchError(f"upsert into {path}", missing, df.columns)
    dup = df.groupBy(*keys).count().where(F.col("count") > 1).limit(1).collect()
    if dup:
        raise DeltaWriteError(
            f"upsert into {path}: key {dict(zip(keys, dup[0][:-1], strict=True))} appears "
            f"{dup[0]['count']} times in the new rows; keys must be unique"
        )
    if not table_exists(path):
        return write_table(df, path, "error", partition_by, commit_info=commit_info)
    spark = df.sparkSession
    if has_delta_extension(spark):
        from delta.tables import DeltaTable as SparkDeltaTable

        cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
        (
            SparkDeltaTable.forPath(spark, spark_uri(path))
            .alias("t")
            .merge(df.alias("s"), cond)
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .execute()
        )
        return table_version(path)
    for attempt in range(1, UPSERT_ATTEMPTS + 1):
        try:
            return _upsert_once(df, path, keys, commit_info)
        except ConcurrentWriteError:
            if attempt == UPSERT_ATTEMPTS:
                raise
            log.warning("upsert into %s lost a commit race; retrying (%d)", path, attempt)
    raise AssertionError("unreachable")


class PendingWrite:
    """A write whose files are in place but not committed: invisible until :meth:`commit`.

    Lets a job stage every table of a run first and commit only when all staged cleanly
    (an unreadable input then commits nothing anywhere). :meth:`read` reads the staged
    rows back, so a later step can build on them without reading the inputs again.
    """

    def __init__(self, txn: _WriteTxn) -> None:
        self._txn = txn
        self.path = txn.path
        self.committed_version: int | None = None

    @property
    def rows(self) -> int:
        return self._txn.rows

    @property
    def files(self) -> list[str]:
        return [spark_uri(f"{self._txn.uri}/{a.path}") for a in self._txn.adds]

    def read(self, spark: SparkSession) -> DataFrame:
        schema = self._txn.schema
        if not self.files:
            return spark.createDataFrame([], schema)
        return (
            spark.read.schema(schema)
            .option("basePath", spark_uri(self._txn.uri))
            .parquet(*self.files)
            .select(*[F.col(f"`{n}`") for n in schema.names])
        )

    def commit(self) -> int:
        if self.committed_version is None:
            self.committed_version = self._txn.commit()
        return self.committed_version

    def discard(self) -> None:
        if self.committed_version is None:
            self._txn.discard()


def prepare_write(
    df: DataFrame,
    path: str,
    mode: WriteMode = "error",
    partition_by: Sequence[str] | None = None,
    replace_where: Mapping[str, Any] | None = None,
    commit_info: Mapping[str, Any] | None = None,
    write_options: Mapping[str, str] | None = None,
) -> PendingWrite:
    """Like :func:`write_table` but stops before the commit.

    With delta-spark the native writer has no separate commit step: the write is deferred
    to :meth:`PendingWrite.commit` and :meth:`PendingWrite.read` recomputes ``df``.
    ``write_options`` go to Spark's Parquet writer (e.g. ``parquet.block.size``).
    """
    if has_delta_extension(df.sparkSession):
        return _DeferredNativeWrite(df, path, mode, partition_by, replace_where, write_options)
    if replace_where and mode != "overwrite":
        raise DeltaWriteError("replace_where needs mode='overwrite'")
    _check_column_names(df.schema, path)
    txn = _WriteTxn(
        df,
        path,
        mode,
        list(partition_by or []),
        replace_where,
        commit_info,
        False,
        write_options=write_options,
    )
    txn.stage()
    return PendingWrite(txn)


class _DeferredNativeWrite(PendingWrite):
    def __init__(
        self,
        df: DataFrame,
        path: str,
        mode: WriteMode,
        partition_by: Sequence[str] | None,
        replace_where: Mapping[str, Any] | None,
        write_options: Mapping[str, str] | None = None,
    ) -> None:
        self.df, self.path, self.mode = df, path, mode
        self.partition_by, self.replace_where = list(partition_by or []), replace_where
        self.write_options = dict(write_options or {})
        self.committed_version = None

    @property
    def rows(self) -> int:
        return self.df.count()

    @property
    def files(self) -> list[str]:
        return []

    def read(self, spark: SparkSession) -> DataFrame:
        return self.df

    def commit(self) -> int:
        if self.committed_version is None:
            self.committed_version = _native_write(
                self.df,
                self.path,
                self.mode,
                self.partition_by,
                self.replace_where,
                False,
                self.write_options,
            )
        return self.committed_version

    def discard(self) -> None:
        return None


def _upsert_once(
    df: DataFrame, path: str, keys: list[str], commit_info: Mapping[str, Any] | None
) -> int:
    spark = df.sparkSession
    dtable = _open(path)
    read_version = dtable.version()
    current = read_table(spark, path, version=read_version)
    # A null key never matches, as in MERGE.
    new_keys = df.select(*keys).na.drop(subset=keys)
    touched = (
        _scan(spark, dtable, path)
        .select(*keys, F.col("_metadata.file_path").alias("_file"))
        .join(F.broadcast(new_keys) if len(keys) == 1 else new_keys, keys, "left_semi")
        .select("_file")
        .distinct()
        .collect()
    )
    table_uri = normalize_uri(path)
    touched_rel = sorted({_relative(r["_file"], table_uri) for r in touched})
    if touched_rel:
        base = spark_uri(path)
        old = (
            spark.read.schema(current.schema)
            .option("basePath", base)
            .parquet(*[f"{base}/{rel}" for rel in touched_rel])
        )
        kept = old.join(df.select(*keys), keys, "left_anti")
        out = kept.unionByName(df.select(*current.columns))
    else:
        out = df
    txn = _WriteTxn(
        out,
        path,
        "append",
        partition_columns(path),
        None,
        {**(commit_info or {}), "operation": "UPSERT", "keys": keys},
        False,
        removes=touched_rel,
        read_version=read_version,
    )
    return txn.run()


def remove_files(
    path: str,
    select: Callable[[Mapping[str, Any]], bool],
    commit_info: Mapping[str, Any] | None = None,
) -> tuple[int, int]:
    """Remove the active files for which ``select(add_action)`` is true, in one commit.

    ``add_action`` is a row of delta-rs ``get_add_actions(flatten=True)``: ``path``,
    ``size_bytes``, ``modification_time``, ``num_records``, ``min.<col>``/``max.<col>``
    statistics and ``partition.<col>`` values. A log-only change (no data file is read or
    written), for retention rules decided from file metadata. The removed files stay on
    disk for time travel until a vacuum. Returns (files removed, rows removed); nothing
    is committed when no file matches.
    """
    dtable = _open(path)
    active = _active_paths(dtable)
    chosen = sorted(rel for rel, action in active.items() if select(action))
    if not chosen:
        return 0, 0
    parts = list(dtable.metadata().partition_columns)
    rows = sum(int(active[rel].get("num_records") or 0) for rel in chosen)
    meta = {"telcoseg": {**(commit_info or {}), "operation": "REMOVE FILES"}}
    try:
        # Removes conflict with a concurrent rewrite: no blind retries.
        dtable.create_write_transaction(
            _remove_actions(active, chosen, parts),
            mode="append",
            schema=dtable.schema(),
            partition_by=parts or None,
            commit_properties=CommitProperties(
                custom_metadata=_jsonable(meta), max_commit_retries=0
            ),
        )
    except CommitFailedError as exc:
        raise ConcurrentWriteError(
            f"removing files of {path} lost to a concurrent writer: {exc}"
        ) from exc
    except DeltaError as exc:
        raise DeltaWriteError(f"delta-rs refused to remove files of {path}: {exc}") from exc
    return len(chosen), rows


def _remove_actions(
    active: Mapping[str, Mapping[str, Any]],
    rels: Sequence[str],
    partition_by: Sequence[str],
    data_change: bool = True,
) -> list[RemoveAction]:
    now = int(time.time() * 1000)
    return [
        RemoveAction(
            path=rel,
            data_change=data_change,
            deletion_timestamp=now,
            size=int(active[rel]["size_bytes"]),
            partition_values={
                c: partition_value(active[rel].get(f"partition.{c}")) for c in partition_by
            }
            if partition_by
            else None,
        )
        for rel in rels
    ]


def _relative(file_uri: str, table_uri: str) -> str:
    """A Spark ``_metadata.file_path`` (a URI) relative to the table folder, as on disk."""
    local = normalize_uri(file_uri)
    root = table_uri.rstrip("/") + "/"
    if not local.startswith(root):
        raise DeltaWriteError(f"file {file_uri} is not inside table {table_uri}")
    # Spark gives the path URL-encoded; the file on disk carries Spark's own escapes.
    return local[len(root) :]


def _check_column_names(schema: T.StructType, path: str) -> None:
    for f in schema.fields:
        bad = _BAD_NAME_CHARS & set(f.name)
        if bad:
            raise SchemaMismatchError(
                f"write to {path}",
                [],
                schema.names,
                f"column {f.name!r} has characters Delta cannot store: {sorted(bad)}",
            )


def _comparable(schema: T.StructType) -> dict[str, str]:
    return {f.name: f.dataType.simpleString() for f in schema.fields}


def _delta_schema(schema: T.StructType) -> DeltaSchema:
    try:
        arrow = to_arrow_schema(schema, timezone="UTC")
    except (TypeError, AssertionError, PySparkException) as exc:
        raise SchemaMismatchError(
            "delta schema", [], schema.names, f"type not storable in Delta: {exc}"
        ) from None
    return DeltaSchema.from_arrow(arrow)


# INT96 timestamps have no stats and become timestamp_nanos in Delta: write micros. A SQL
# setting, not a writer option (Spark copies it from the session into the Parquet writer).
_PARQUET_MICROS = {"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS"}


class _WriteTxn:
    """One write through the delta-rs path: stage, move, validate, commit (or clean up)."""

    def __init__(
        self,
        df: DataFrame,
        path: str,
        mode: WriteMode,
        partition_by: list[str],
        replace_where: Mapping[str, Any] | None,
        commit_info: Mapping[str, Any] | None,
        overwrite_schema: bool,
        removes: Sequence[str] = (),
        read_version: int | None = None,
        data_change: bool = True,
        write_options: Mapping[str, str] | None = None,
    ) -> None:
        self.df = df
        self.path = path
        self.uri = normalize_uri(path)
        self.mode = mode
        self.partition_by = partition_by
        self.replace_where = dict(replace_where or {})
        self.commit_info = dict(commit_info or {})
        self.overwrite_schema = overwrite_schema
        self.removes = list(removes)
        self.read_version = read_version
        self.data_change = data_change
        self.write_options = dict(write_options or {})
        self.storage = TableStorage(self.uri)
        self.moved: list[str] = []
        self.adds: list[AddAction] = []
        self.stats: list[dict[str, Any]] = []
        self.dtable: DeltaTable | None = None
        self.schema: T.StructType = df.schema
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}

    # -- preparation

    def _prepare(self) -> tuple[DeltaTable | None, DataFrame]:
        dtable = _open(self.path, self.read_version) if table_exists(self.path) else None
        df = self.df
        if dtable is None:
            if self.replace_where:
                raise DeltaWriteError(f"replace_where on {self.path}: the table does not exist")
            self._check_partition_types(df.schema)
            return None, df
        if self.mode == "error":
            raise DeltaWriteError(f"table {self.path} already exists (mode='error')")
        table_parts = list(dtable.metadata().partition_columns)
        if self.partition_by and self.partition_by != table_parts:
            raise DeltaWriteError(
                f"{self.path} is partitioned by {table_parts}, the write asks for "
                f"{self.partition_by}"
            )
        self.partition_by = table_parts
        table_schema = spark_schema(dtable)
        if not (self.mode == "overwrite" and not self.replace_where and self.overwrite_schema):
            want, have = _comparable(table_schema), _comparable(df.schema)
            missing = [c for c in want if c not in have]
            extra = [c for c in have if c not in want]
            wrong = [
                f"{c}: table {want[c]}, data {have[c]}"
                for c in want
                if c in have and want[c] != have[c]
            ]
            if missing or extra or wrong:
                raise SchemaMismatchError(
                    f"write to {self.path}",
                    missing,
                    df.columns,
                    "; ".join(
                        p
                        for p in (
                            f"columns not in the table: {extra}" if extra else "",
                            f"type mismatch: {wrong}" if wrong else "",
                        )
                        if p
                    ),
                )
            df = df.select(*[F.col(f"`{c}`") for c in table_schema.names])
        for col in self.replace_where:
            if col not in table_parts:
                raise DeltaWriteError(
                    f"replace_where on {self.path}: {col!r} is not a partition column "
                    f"({table_parts})"
                )
        return dtable, df

    def _check_partition_types(self, schema: T.StructType) -> None:
        for col in self.partition_by:
            if col not in schema.names:
                raise SchemaMismatchError(f"partition_by of {self.path}", [col], schema.names)
            if not isinstance(schema[col].dataType, _PARTITION_TYPES):
                raise DeltaWriteError(
                    f"cannot partition {self.path} by {col} of type "
                    f"{schema[col].dataType.simpleString()}: use a string, date, integer "
                    "or boolean column"
                )

    # -- the write

    def run(self) -> int:
        self.stage()
        return self.commit()

    def stage(self) -> None:
        """Write the files and validate the commit; nothing is visible to readers yet."""
        self.started = time.perf_counter()
        self.dtable, df = self._prepare()
        self.stage_dir = f"{STAGING}/{uuid.uuid4().hex}"
        self.schema = df.schema
        try:
            try:
                with session_conf(df.sparkSession, _PARQUET_MICROS):
                    writer = df.write.mode("errorifexists").options(**self.write_options)
                    if self.partition_by:
                        writer = writer.partitionBy(*self.partition_by)
                    writer.parquet(spark_uri(f"{self.uri}/{self.stage_dir}"))
            except (Py4JJavaError, PySparkException) as exc:
                raise DeltaWriteError(
                    f"writing {self.path} failed, nothing was committed: {first_line(exc)}"
                ) from exc
            self.timings["spark_write_s"] = time.perf_counter() - self.started
            files = self.storage.list_data_files(self.stage_dir)
            for f in files:
                self.storage.move(f"{self.stage_dir}/{f.rel_path}", f.rel_path)
                self.moved.append(f.rel_path)
            self.storage.delete_dir(self.stage_dir)
            self.adds, self.stats = build_add_actions(
                self.storage, files, self.partition_by, data_change=self.data_change
            )
            # Nullability is the table's promise, not the data frame's.
            target = spark_schema(self.dtable) if self.dtable is not None else df.schema
            self._validate(self.dtable, target, self.adds, self.stats)
            self.timings["stage_s"] = time.perf_counter() - self.started
        except BaseException:
            self.discard()
            raise

    def commit(self) -> int:
        """Commit what :meth:`stage` wrote; on failure its files are deleted."""
        t0 = time.perf_counter()
        try:
            version = self._commit(self.dtable, self.schema, self.adds)
        except BaseException:
            self.discard()
            raise
        self.timings["commit_s"] = time.perf_counter() - t0
        # What the delta-rs path adds on top of Spark's own Parquet write.
        self.timings["delta_overhead_s"] = (
            self.timings["stage_s"] - self.timings["spark_write_s"] + self.timings["commit_s"]
        )
        LAST_WRITE_TIMINGS.clear()
        LAST_WRITE_TIMINGS.update(self.timings)
        log.info(
            "delta %s %s: version %d, +%d files (%d rows), -%d files in %.1fs",
            self.mode if not self.removes else "upsert",
            self.path,
            version,
            len(self.adds),
            self.rows,
            len(self.removes),
            time.perf_counter() - self.started,
        )
        return version

    @property
    def rows(self) -> int:
        return sum(s["numRecords"] for s in self.stats)

    def discard(self) -> None:
        """Delete every file this write created (it was never committed)."""
        self._discard(getattr(self, "stage_dir", f"{STAGING}/none"))
        self.moved = []

    def _discard(self, stage: str) -> None:
        for rel in self.moved:
            self.storage.delete_file(rel)
        self.storage.delete_dir(stage)

    # -- validation: delta-rs accepts nearly anything, so nothing unchecked reaches it

    def _validate(
        self,
        dtable: DeltaTable | None,
        schema: T.StructType,
        adds: list[AddAction],
        stats: list[dict[str, Any]],
    ) -> None:
        active = _active_paths(dtable) if dtable is not None else {}
        not_null = [
            f.name for f in schema.fields if not f.nullable and f.name not in self.partition_by
        ]
        for add, st in zip(adds, stats, strict=True):
            where = f"commit to {self.path}: file {add.path}"
            if add.path.startswith("/") or ".." in add.path.split("/") or "://" in add.path:
                raise DeltaWriteError(f"{where}: path must be relative inside the table")
            if not self.storage.exists(add.path):
                raise DeltaWriteError(f"{where}: does not exist")
            if add.path in active:
                raise DeltaWriteError(f"{where}: is already in the table")
            if set(add.partition_values) != set(self.partition_by):
                raise DeltaWriteError(
                    f"{where}: partition values {dict(add.partition_values)} do not cover "
                    f"{self.partition_by}"
                )
            if not isinstance(st.get("numRecords"), int) or st["numRecords"] < 0:
                raise DeltaWriteError(f"{where}: no row count in stats")
            for col in not_null:
                if st["nullCount"].get(col, 0) > 0:
                    raise DeltaWriteError(
                        f"{where}: column {col} is not nullable but has "
                        f"{st['nullCount'][col]} null(s)"
                    )
            for col in self.partition_by:
                if add.partition_values[col] is None and not schema[col].nullable:
                    raise DeltaWriteError(f"{where}: null partition value for non-nullable {col}")
            for col, allowed in self.replace_where.items():
                allowed_set = {
                    _partition_string(v)
                    for v in (allowed if isinstance(allowed, list | tuple | set) else [allowed])
                }
                if add.partition_values[col] not in allowed_set:
                    raise DeltaWriteError(
                        f"{where}: rows with {col}={add.partition_values[col]} are outside "
                        f"replace_where {col} in {sorted(allowed_set)}; nothing was committed"
                    )
        for rel in self.removes:
            if rel not in active:
                raise ConcurrentWriteError(
                    f"commit to {self.path}: file {rel} to remove is no longer in the table "
                    "(another writer changed it)"
                )

    # -- commit

    def _properties(self, retries: int) -> CommitProperties:
        meta = {"telcoseg": {k: v for k, v in self.commit_info.items()}}
        return CommitProperties(custom_metadata=_jsonable(meta), max_commit_retries=retries)

    def _commit(
        self, dtable: DeltaTable | None, schema: T.StructType, adds: list[AddAction]
    ) -> int:
        try:
            if dtable is None:
                create_table_with_add_actions(
                    self.uri,
                    _delta_schema(schema),
                    adds,
                    mode="error",
                    partition_by=self.partition_by or None,
                    commit_properties=self._properties(0),
                )
            elif self.removes:
                removes = _remove_actions(
                    _active_paths(dtable), self.removes, self.partition_by, self.data_change
                )
                # Removes conflict with a concurrent rewrite: no blind retries.
                dtable.create_write_transaction(
                    [*adds, *removes],
                    mode="append",
                    schema=_delta_schema(schema),
                    partition_by=self.partition_by or None,
                    commit_properties=self._properties(0),
                )
            elif self.mode == "append":
                dtable.create_write_transaction(
                    adds,
                    mode="append",
                    schema=dtable.schema(),
                    partition_by=self.partition_by or None,
                    commit_properties=self._properties(APPEND_RETRIES),
                )
            else:
                filters = [
                    (c, "in", _partition_string(list(v)))
                    if isinstance(v, list | tuple | set)
                    else (c, "=", _partition_string(v))
                    for c, v in self.replace_where.items()
                ]
                dtable.create_write_transaction(
                    adds,
                    mode="overwrite",
                    schema=_delta_schema(schema) if self.overwrite_schema else dtable.schema(),
                    partition_by=self.partition_by or None,
                    partition_filters=filters or None,
                    commit_properties=self._properties(0),
                )
        except CommitFailedError as exc:
            raise ConcurrentWriteError(
                f"commit to {self.path} lost to a concurrent writer and was rolled back: {exc}"
            ) from exc
        except DeltaError as exc:
            if dtable is None and table_exists(self.path):
                raise ConcurrentWriteError(
                    f"table {self.path} was created by another writer at the same time"
                ) from exc
            raise DeltaWriteError(f"delta-rs refused the commit to {self.path}: {exc}") from exc
        return self._verify(adds)

    def _verify(self, adds: list[AddAction]) -> int:
        after = _open(self.path)
        active = _active_paths(after)
        lost = [a.path for a in adds if a.path not in active]
        if lost:
            raise DeltaWriteError(
                f"commit to {self.path} at version {after.version()} does not list "
                f"{len(lost)} written file(s), e.g. {lost[0]}"
            )
        return after.version()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# --------------------------------------------------------------------------- native path


def _native_write(
    df: DataFrame,
    path: str,
    mode: WriteMode,
    partition_by: list[str],
    replace_where: Mapping[str, Any] | None,
    overwrite_schema: bool,
    write_options: Mapping[str, str] | None = None,
) -> int:
    writer = df.write.format("delta").mode("errorifexists" if mode == "error" else mode)
    writer = writer.options(**dict(write_options or {}))
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    if replace_where:
        clauses = []
        for col, value in replace_where.items():
            values = value if isinstance(value, list | tuple | set) else [value]
            lits = ", ".join(f"'{_partition_string(v)}'" for v in values)
            clauses.append(f"`{col}` IN ({lits})")
        writer = writer.option("replaceWhere", " AND ".join(clauses))
    if overwrite_schema:
        writer = writer.option("overwriteSchema", "true")
    try:
        writer.save(spark_uri(path))
    except (Py4JJavaError, PySparkException) as exc:
        raise DeltaWriteError(f"writing {path} failed: {first_line(exc)}") from exc
    return table_version(path)


# --------------------------------------------------------------------------- maintenance


def cleanup_orphans(
    path: str, older_than_seconds: float = 3600.0, dry_run: bool = False
) -> list[str]:
    """Delete data files that no version of the table references, and stale staging folders.

    Only files older than ``older_than_seconds`` are touched, so a concurrent writer's
    files that are not committed yet survive. Files that a commit removed stay (time
    travel needs them); ``vacuum`` is for those.
    """
    import json as _json
    from urllib.parse import unquote

    storage = TableStorage(normalize_uri(path))
    cutoff_ms = (time.time() - older_than_seconds) * 1000
    referenced = set(_active_paths(_open(path)))
    log_dir = "_delta_log"
    for info in storage.fs.get_file_info(pafs.FileSelector(storage.abs(log_dir))):
        if not info.path.endswith(".json"):
            continue
        with storage.fs.open_input_stream(info.path) as fh:
            for line in fh.read().decode("utf-8").splitlines():
                action = _json.loads(line) if line.strip() else {}
                for kind in ("add", "remove"):
                    if kind in action:
                        referenced.add(unquote(action[kind]["path"]))
    doomed = [
        f.rel_path
        for f in storage.list_data_files()
        if f.rel_path not in referenced and f.mtime_ms < cutoff_ms
    ]
    stale_stages = [
        f"{STAGING}/{name}" for name, mtime in storage.subdirs(STAGING) if mtime < cutoff_ms
    ]
    if not dry_run:
        for rel in doomed:
            storage.delete_file(rel)
        for rel in stale_stages:
            storage.delete_dir(rel)
    if doomed or stale_stages:
        log.info(
            "cleanup %s: %d orphan file(s), %d stale staging folder(s)%s",
            path,
            len(doomed),
            len(stale_stages),
            " (dry run)" if dry_run else "",
        )
    return doomed + stale_stages


def vacuum(path: str, retain_hours: int = 168, dry_run: bool = False) -> list[str]:
    """Delete the files the log removed more than ``retain_hours`` ago, and files the log
    never mentions that are as old; returns them. Through delta-rs: the log and the file
    system only. Time travel to versions older than the retention stops working. Folders
    starting with ``_`` (the staging area) are left to :func:`cleanup_orphans`.
    """
    if retain_hours < 1:
        # Staged files sit at their final paths, not yet in the log, until the commit.
        raise DeltaWriteError(f"vacuum {path}: retain_hours must be >= 1, got {retain_hours}")
    from urllib.parse import unquote

    dtable = _open(path)
    storage = TableStorage(normalize_uri(path))
    opts = {"retention_hours": retain_hours, "enforce_retention_duration": False}
    try:
        # delta-rs lists every expired tombstone, deleted already or not: keep the ones
        # still on disk, and skip the vacuum (and its two commits) when there are none.
        listed = dtable.vacuum(dry_run=True, **opts)
        present = [r for r in listed if storage.exists(r) or storage.exists(unquote(r))]
        if present and not dry_run:
            dtable.vacuum(dry_run=False, **opts)
    except DeltaError as exc:
        raise DeltaWriteError(f"delta-rs could not vacuum {path}: {exc}") from exc
    return present


def compact(
    spark: SparkSession,
    path: str,
    small_file_bytes: int = 32 << 20,
    min_files: int = 8,
    commit_info: Mapping[str, Any] | None = None,
    target_file_bytes: int = 256 << 20,
) -> tuple[int, int]:
    """Rewrite the small files of each partition that has at least ``min_files`` of them
    into files of about ``target_file_bytes`` (one, usually), in one commit marked
    ``dataChange=false`` (the rows do not change).

    Spark reads and writes the rows; the driver only commits. Returns (files removed,
    files added); (0, 0) when nothing qualifies. A concurrent rewrite of the same files
    makes it fail with :class:`ConcurrentWriteError` and change nothing.
    """
    if has_delta_extension(spark):
        from delta.tables import DeltaTable as SparkDeltaTable

        # The native engine's OPTIMIZE, with its own small-file rules.
        done = SparkDeltaTable.forPath(spark, spark_uri(path)).optimize().executeCompaction()
        metrics = done.collect()[0]["metrics"]
        return int(metrics["numFilesRemoved"]), int(metrics["numFilesAdded"])
    dtable = _open(path)
    version = dtable.version()
    parts = list(dtable.metadata().partition_columns)
    active = _active_paths(dtable)
    groups: dict[tuple[Any, ...], list[str]] = {}
    for rel, action in active.items():
        if int(action["size_bytes"]) < small_file_bytes:
            key = tuple(action.get(f"partition.{c}") for c in parts)
            groups.setdefault(key, []).append(rel)
    chosen = {k: sorted(v) for k, v in groups.items() if len(v) >= max(min_files, 2)}
    if not chosen:
        return 0, 0
    files = [rel for rels in chosen.values() for rel in rels]
    expected = sum(int(active[rel].get("num_records") or 0) for rel in files)
    base = spark_uri(path)
    rows = (
        spark.read.schema(spark_schema(dtable))
        .option("basePath", base)
        .parquet(*[f"{base}/{rel}" for rel in files])
    )
    # Hashing on the partition columns sends each partition to one task, which starts a
    # new file every max_records rows: the old files' bytes per row sets the file size.
    rows = rows.repartition(len(chosen), *parts) if parts else rows.coalesce(1)
    size = sum(int(active[rel]["size_bytes"]) for rel in files)
    max_records = max(1, int(target_file_bytes * expected / max(size, 1)))
    txn = _WriteTxn(
        rows,
        path,
        "append",
        parts,
        None,
        {**(commit_info or {}), "operation": "COMPACT"},
        False,
        removes=files,
        read_version=version,
        data_change=False,
        write_options={"maxRecordsPerFile": str(max_records)},
    )
    txn.stage()
    if txn.rows != expected:
        txn.discard()
        raise DeltaWriteError(
            f"compacting {path}: rewrote {txn.rows} rows of {expected}; nothing was committed"
        )
    txn.commit()
    return len(files), len(txn.adds)


__all__ = [
    "HIVE_NULL",
    "PendingWrite",
    "cleanup_orphans",
    "compact",
    "describe",
    "history",
    "partition_columns",
    "prepare_write",
    "read_table",
    "remove_files",
    "table_exists",
    "table_version",
    "upsert",
    "vacuum",
    "write_table",
]
