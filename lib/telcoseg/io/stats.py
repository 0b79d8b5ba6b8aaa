"""Delta add actions for Spark-written Parquet files, from file metadata only.

Row counts and per-column min/max/null counts come from each file's Parquet footer, sizes
and times from the file system, partition values from the ``col=value`` folder names.
The stats JSON follows delta-rs's own: ``{"numRecords", "minValues", "maxValues",
"nullCount"}``; non-finite numbers are dropped (NaN in stats makes a table unloadable).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

import pyarrow.parquet as pq
from deltalake.transaction import AddAction

from telcoseg.errors import DeltaWriteError
from telcoseg.io.storage import FileInfo, TableStorage

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# Longer strings get no min/max: a bound must be exact, and long keys (hashes) gain nothing.
MAX_STRING_STAT = 32


def partition_values(rel_path: str, partition_by: Sequence[str]) -> dict[str, str | None]:
    """``a=1/b=x%3Ay/part-0.parquet`` -> ``{"a": "1", "b": "x:y"}``; checks every column."""
    dirs = rel_path.split("/")[:-1]
    values: dict[str, str | None] = {}
    for d in dirs:
        if "=" not in d:
            raise DeltaWriteError(f"unexpected folder {d!r} in data file path {rel_path!r}")
        col, raw = d.split("=", 1)
        value = unquote(raw)
        values[unquote(col)] = None if value == HIVE_NULL else value
    if list(values) != list(partition_by):
        raise DeltaWriteError(
            f"file {rel_path!r} has partition folders {list(values)}, table is partitioned "
            f"by {list(partition_by)}"
        )
    return values


def _json_value(value: Any, is_max: bool) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime):
        # Delta stats carry milliseconds: round the bounds outwards so they stay bounds.
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        ms = value.replace(microsecond=(value.microsecond // 1000) * 1000)
        if is_max and ms != value:
            ms += dt.timedelta(milliseconds=1)
        return ms.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value if len(value) <= MAX_STRING_STAT else None
    return None  # decimals, binary: no exact JSON bound, leave them out


def footer_stats(meta: pq.FileMetaData) -> dict[str, Any]:
    """Stats of one file from its footer (top-level columns only, as delta-rs does)."""
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    schema = meta.schema
    top_level = {
        i: schema.column(i).path
        for i in range(meta.num_columns)
        if "." not in schema.column(i).path
    }
    for i, name in top_level.items():
        lo: Any = None
        hi: Any = None
        null_count: int | None = 0
        has_bounds = meta.num_row_groups > 0
        for rg in range(meta.num_row_groups):
            col = meta.row_group(rg).column(i)
            st = col.statistics
            if st is None:
                has_bounds = False
                null_count = None
                continue
            if st.has_null_count and null_count is not None:
                null_count += st.null_count
            else:
                null_count = None
            if not st.has_min_max:
                # An all-null row group has no bounds but does not widen them either.
                if st.has_null_count and st.null_count == col.num_values:
                    continue
                has_bounds = False
                continue
            lo = st.min if lo is None else min(lo, st.min)
            hi = st.max if hi is None else max(hi, st.max)
        if null_count is not None:
            nulls[name] = null_count
        if has_bounds and lo is not None and hi is not None:
            jlo, jhi = _json_value(lo, False), _json_value(hi, True)
            if jlo is not None and jhi is not None:
                mins[name], maxs[name] = jlo, jhi
    return {"numRecords": meta.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}


def build_add_actions(
    storage: TableStorage,
    files: Sequence[FileInfo],
    partition_by: Sequence[str],
    threads: int = 8,
    data_change: bool = True,
) -> tuple[list[AddAction], list[dict[str, Any]]]:
    """Add actions (and their parsed stats) for files already at their final paths.

    ``data_change=False`` marks a rearrangement of rows already in the table (compaction).
    """

    def one(f: FileInfo) -> tuple[AddAction, dict[str, Any]]:
        with storage.open(f.rel_path) as handle:
            meta = pq.read_metadata(handle)
        stats = footer_stats(meta)
        action = AddAction(
            # The on-disk path as it is (Spark already escaped partition values in it);
            # delta-rs URL-encodes it for the log itself.
            path=f.rel_path,
            size=f.size,
            partition_values=partition_values(f.rel_path, partition_by),
            modification_time=f.mtime_ms,
            data_change=data_change,
            stats=json.dumps(stats, allow_nan=False, separators=(",", ":")),
        )
        return action, stats

    if not files:
        return [], []
    with ThreadPoolExecutor(max_workers=min(threads, len(files))) as pool:
        pairs = list(pool.map(one, files))
    return [a for a, _ in pairs], [s for _, s in pairs]
