"""The landing zone: find new files, check them on the driver, read them as strings.

Every check that can be made without reading data happens on the driver first: the file
type, a CSV header (first line) or a Parquet footer, and the required columns. Files are
then read in groups that share a header, because Spark's CSV reader applies one header
(by position) to every file of a read. A failure while Spark reads a group (a truncated
gzip, say) is traced to its file by :func:`find_unreadable`.
"""

from __future__ import annotations

import csv
import io
import logging
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow.fs as pafs
import pyarrow.parquet as pq
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.errors import InputFileError
from telcoseg.ingest.contract import Source
from telcoseg.io.storage import TableStorage, normalize_uri, spark_uri

log = logging.getLogger(__name__)

HEADER_LIMIT = 1 << 20  # a header line longer than 1 MiB is not a CSV header
_FORMATS = ((".csv.gz", "csv"), (".csv", "csv"), (".parquet", "parquet"))
# Parquet values become the strings bronze keeps; an instant keeps its zone as "Z".
_INSTANT_TEXT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
_LOCAL_TEXT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"


@dataclass(frozen=True)
class LandingFile:
    """One file of the landing zone; its identity is path + size + modification time."""

    source: str
    rel_path: str  # relative to the landing root, '/'-separated
    uri: str  # absolute local path or URI
    size: int
    mtime_ms: int

    @property
    def key(self) -> str:
        return f"{self.rel_path}|{self.size}|{self.mtime_ms}"

    @property
    def fmt(self) -> str | None:
        name = self.rel_path.lower()
        return next((fmt for ext, fmt in _FORMATS if name.endswith(ext)), None)


@dataclass(frozen=True)
class ReadGroup:
    """Files of one source that Spark can read in one go (same format and header)."""

    source: Source
    fmt: str
    header: tuple[str, ...]  # the file's column names, in file order
    files: tuple[LandingFile, ...]
    columns: Mapping[str, str]  # canonical column -> file column (present ones only)
    types: tuple[str, ...] = ()  # Parquet: Arrow type of each header column


def discover(landing: str, source: str) -> list[LandingFile]:
    """Files below ``<landing>/<source>/`` (names starting with ``_`` or ``.`` skipped),
    oldest first (modification time, then path): the order rows of a source arrived."""
    storage = TableStorage(landing)
    root = normalize_uri(landing).rstrip("/")
    files = [
        LandingFile(
            source=source,
            rel_path=posixpath.join(source, f.rel_path),
            uri=f"{root}/{source}/{f.rel_path}",
            size=f.size,
            mtime_ms=f.mtime_ms,
        )
        for f in storage.list_data_files(source)
    ]
    return sorted(files, key=lambda f: (f.mtime_ms, f.rel_path))


def plan_reads(
    files: Sequence[LandingFile], source: Source, mapping: Mapping[str, str]
) -> list[ReadGroup]:
    """Check every file on the driver and group the files Spark may read together.

    Raises :class:`InputFileError` naming the file (and column) on the first bad file.
    """
    groups: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[LandingFile]] = {}
    resolved: dict[tuple[str, tuple[str, ...], tuple[str, ...]], dict[str, str]] = {}
    for f in files:
        if f.fmt is None:
            raise InputFileError(f.uri, "not a CSV (.csv, .csv.gz) or Parquet (.parquet) file")
        header, types = (read_csv_header(f), ()) if f.fmt == "csv" else read_parquet_footer(f)
        columns = match_columns(f, header, source, mapping)
        key = (f.fmt, header, types)
        groups.setdefault(key, []).append(f)
        resolved[key] = columns
    return [
        ReadGroup(source, fmt, header, tuple(members), resolved[(fmt, header, types)], types)
        for (fmt, header, types), members in groups.items()
    ]


def read_csv_header(f: LandingFile) -> tuple[str, ...]:
    """The column names of a CSV file's first line (gzip when the name ends in .gz)."""
    fs, path = pafs.FileSystem.from_uri(f.uri)
    compression = "gzip" if f.rel_path.lower().endswith(".gz") else None
    try:
        with fs.open_input_stream(path, compression=compression) as stream:
            head = _first_line(stream)
    except (OSError, EOFError, ValueError) as exc:
        raise InputFileError(f.uri, f"cannot be read ({_first(str(exc))})") from None
    if head is None:
        raise InputFileError(f.uri, "is empty: a CSV file needs a header row")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f.uri, "header row is not UTF-8 text (is it really CSV?)") from None
    if "\x00" in text:
        raise InputFileError(f.uri, "header row holds binary data (is it really CSV?)")
    names = tuple(n.strip() for n in next(csv.reader(io.StringIO(text))))
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputFileError(f.uri, "header names a column twice", column=dupes[0])
    return names


def _first_line(stream: pafs.NativeFile) -> bytes | None:
    buf = b""
    while b"\n" not in buf and len(buf) < HEADER_LIMIT:
        chunk = stream.read(65536)
        if not chunk:
            break
        buf += chunk
    if not buf:
        return None
    line = buf.split(b"\n", 1)[0].rstrip(b"\r")
    if len(line) >= HEADER_LIMIT:
        raise ValueError("first line longer than 1 MiB")
    return line


def read_parquet_footer(f: LandingFile) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Column names and Arrow types from a Parquet footer (nothing else is read)."""
    fs, path = pafs.FileSystem.from_uri(f.uri)
    try:
        with fs.open_input_file(path) as fh:
            schema = pq.read_schema(fh)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputFileError(
            f.uri, f"is not a readable Parquet file ({_first(str(exc))})"
        ) from None
    return tuple(schema.names), tuple(str(t) for t in schema.types)


def match_columns(
    f: LandingFile, header: Sequence[str], source: Source, mapping: Mapping[str, str]
) -> dict[str, str]:
    """Canonical -> file column for the columns present; a required one missing fails."""
    by_lower = {h.strip().lower(): h for h in header}
    columns: dict[str, str] = {}
    for canonical in source.columns:
        wanted = mapping[canonical]
        found = by_lower.get(wanted.lower())
        if found is not None:
            columns[canonical] = found
        elif canonical in source.required:
            detail = "" if wanted == canonical else f" (mapped to {wanted!r})"
            raise InputFileError(
                f.uri,
                f"lacks required column {canonical!r}{detail}; file columns: {list(header)}",
                column=wanted,
            )
    return columns


def read_group(spark: SparkSession, group: ReadGroup, landing: str) -> DataFrame:
    """The group's rows as canonical string columns plus ``source_file`` (relative path)
    and the row's position in it (:func:`file_position`)."""
    paths = [spark_uri(f.uri) for f in group.files]
    if group.fmt == "csv":
        schema = T.StructType([T.StructField(h, T.StringType()) for h in group.header])
        raw = (
            spark.read.schema(schema)
            .option("header", True)
            .option("enforceSchema", True)  # by position: the header was checked above
            .option("mode", "PERMISSIVE")
            .option("escape", '"')  # RFC 4180: a quote inside a field is doubled
            .option("multiLine", False)
            .option("encoding", "UTF-8")
            .csv(paths)
        )
    else:
        raw = spark.read.parquet(*paths)
    fields = {f.name: f.dataType for f in raw.schema.fields}
    cols = [
        _as_text(_col(group.columns[c]), fields[group.columns[c]]).alias(c)
        if c in group.columns
        else F.lit(None).cast("string").alias(c)
        for c in group.source.columns
    ]
    return raw.select(
        *cols,
        relative_source_file(landing).alias("source_file"),
        *file_position(group.fmt),
    )


def file_position(fmt: str) -> list[Column]:
    """``file_split``, ``file_row``: ordered by both, the rows of one file come in the
    order the file holds them (the contract's "latest row" within a file).

    Parquet has an exact row index. A CSV read has none: Spark may split a large file
    into byte ranges (``file_split`` is where the row's range starts), and inside one
    range ``monotonically_increasing_id`` counts up in file order. The values are not
    consecutive and not stable across reads, which is why bronze stores them once.
    """
    if fmt == "parquet":
        split, row = F.lit(0).cast("long"), F.col("_metadata.row_index")
    else:
        split, row = F.col("_metadata.file_block_start"), F.monotonically_increasing_id()
    return [split.alias("file_split"), row.alias("file_row")]


def _col(name: str) -> Column:
    return F.col("`" + name.replace("`", "``") + "`")


def _as_text(col: Column, dtype: T.DataType) -> Column:
    """A typed Parquet value as the text a CSV export would carry."""
    if isinstance(dtype, T.StringType):
        return col
    if isinstance(dtype, T.TimestampType):
        return F.date_format(col, _INSTANT_TEXT)
    if isinstance(dtype, T.TimestampNTZType):
        return F.date_format(col, _LOCAL_TEXT)
    return col.cast("string")


def relative_source_file(landing: str) -> Column:
    """Spark's file URI of the row, as a path relative to the landing root.

    Evaluated for every row, so the common case stays cheap: a URI without ``%`` has
    nothing to decode, and the scheme goes by prefix tests, not a regex. Decoding and the
    regex took a sixth of the landing -> bronze write of 10M CDR rows (42.5 s vs 35.1 s,
    three alternating rounds).
    """
    path = F.col("_metadata.file_path")
    # Hadoop URL-encodes the path but leaves '+', which url_decode would turn into a space.
    decoded = F.when(
        path.contains("%"), F.url_decode(F.replace(path, F.lit("+"), F.lit("%2B")))
    ).otherwise(path)
    local = (
        F.when(decoded.startswith("file://"), F.substring(decoded, 8, 1 << 20))
        .when(decoded.startswith("file:"), F.substring(decoded, 6, 1 << 20))
        .otherwise(decoded)
    )
    root = normalize_uri(landing).rstrip("/") + "/"
    root_remote = spark_uri(landing).rstrip("/") + "/"
    return (
        F.when(local.startswith(root), F.substring(local, len(root) + 1, 1 << 20))
        .when(local.startswith(root_remote), F.substring(local, len(root_remote) + 1, 1 << 20))
        .otherwise(local)
    )


def find_unreadable(spark: SparkSession, group: ReadGroup, landing: str) -> tuple[str, str]:
    """After a failed read of ``group``: the first file that fails alone, and why."""
    for f in group.files:
        single = ReadGroup(group.source, group.fmt, group.header, (f,), group.columns, group.types)
        try:
            read_group(spark, single, landing).write.format("noop").mode("overwrite").save()
        except (Py4JJavaError, PySparkException) as exc:
            return f.uri, spark_error_summary(exc)
    return ", ".join(f.uri for f in group.files), "Spark could not read these files together"


def spark_error_summary(exc: BaseException) -> str:
    """The root cause of a Spark failure in one line (no JVM stack trace)."""
    text = str(exc)
    causes = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("Caused by:")]
    line = causes[-1][len("Caused by:") :].strip() if causes else _first(text)
    return line[:300]


def _first(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0][:300] if lines else "unknown error"


__all__ = [
    "LandingFile",
    "ReadGroup",
    "discover",
    "file_position",
    "find_unreadable",
    "match_columns",
    "plan_reads",
    "read_csv_header",
    "read_group",
    "read_parquet_footer",
]
