"""The ``maintain`` job: compact, vacuum and clean the staging area of the lake's tables.

Daily appends leave many small files in each partition (every ingest run adds some to
each date it touches), and every overwrite, upsert or retention rule leaves removed
files on disk for time travel. This job rewrites a partition's small files into one
(or a few past ``target_file_mb``; Spark reads and writes the rows, the commit says
``dataChange=false``), deletes files
removed more than ``retain_hours`` ago (delta-rs vacuum: the log and the file system
only) and staging folders of writes that never committed.

``python jobs/maintain.py [--dry-run] [--tables silver/cdr,bronze/number_lookup]``
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict, dataclass
from typing import Any

from pyspark.sql import SparkSession

from telcoseg.config import Config
from telcoseg.errors import ConcurrentWriteError, ConfigError, TelcosegError
from telcoseg.io import delta
from telcoseg.io.storage import TableStorage
from telcoseg.logs import stage
from telcoseg.maintenance.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class TableResult:
    """What one table's maintenance did (or, in a dry run, would delete)."""

    table: str
    compacted: int = 0  # small files rewritten
    written: int = 0  # files they became
    vacuumed: int = 0  # removed files deleted from disk
    staging: int = 0  # stale staging folders and unreferenced files deleted
    skipped: str = ""  # why the compaction was skipped (a concurrent writer)


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list what vacuum and cleanup would delete; change nothing",
    )
    parser.add_argument(
        "--tables", help="comma-separated layer/name tables (default: maintenance.tables or all)"
    )


def find_tables(lake: str) -> list[str]:
    """``layer/name`` of every Delta table of the lake (a folder with a ``_delta_log``)."""
    storage = TableStorage(lake)
    found = []
    for layer, _ in sorted(storage.subdirs("")):
        if layer.startswith(("_", ".")):
            continue
        for name, _ in sorted(storage.subdirs(layer)):
            if storage.exists(f"{layer}/{name}/_delta_log"):
                found.append(f"{layer}/{name}")
    return found


def maintain_table(
    spark: SparkSession, path: str, table: str, settings: Settings, dry_run: bool
) -> TableResult:
    res = TableResult(table)
    if settings.compact and not dry_run and table not in settings.skip_compaction:
        try:
            res.compacted, res.written = delta.compact(
                spark,
                path,
                settings.small_file_mb << 20,
                settings.min_small_files,
                {"job": "maintain"},
                settings.target_file_mb << 20,
            )
        except ConcurrentWriteError as exc:
            # Another job rewrote the same files: nothing was changed; the next run retries.
            res.skipped = str(exc).splitlines()[0]
            log.warning("compaction of %s skipped: %s", table, res.skipped)
    if settings.vacuum:
        res.vacuumed = len(delta.vacuum(path, settings.retain_hours, dry_run))
    res.staging = len(delta.cleanup_orphans(path, settings.staging_hours * 3600, dry_run))
    return res


def run(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    settings: Settings = cfg.section("maintenance")
    lake = cfg.paths.lake_root()
    wanted = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else []
    wanted = wanted or list(settings.tables)
    tables = find_tables(lake)
    missing = [t for t in wanted if t not in tables]
    if missing:
        raise ConfigError(f"maintain: no Delta table {missing[0]!r} in {lake}; found {tables}")
    results: list[TableResult] = []
    failed: list[str] = []
    for table in wanted or tables:
        layer, name = table.split("/", 1)
        try:
            with stage(log, f"maintain {table}") as st:
                res = maintain_table(
                    spark, cfg.paths.table(layer, name), table, settings, args.dry_run
                )
                st.count(**{k: v for k, v in asdict(res).items() if k != "table" and v})
        except TelcosegError as exc:
            # Keep going: one table's trouble should not leave the others unmaintained.
            failed.append(f"{table}: {str(exc).splitlines()[0]}")
            continue
        results.append(res)
    if failed:
        raise TelcosegError(f"maintenance failed for {len(failed)} table(s): {'; '.join(failed)}")
    return {
        "dry_run": bool(args.dry_run),
        "tables": len(results),
        "files_compacted": sum(r.compacted for r in results),
        "files_written": sum(r.written for r in results),
        "files_vacuumed": sum(r.vacuumed for r in results),
        "staging_deleted": sum(r.staging for r in results),
        "skipped": [r.table for r in results if r.skipped],
    }
