"""Writing landing files: Spark writes in parallel, then part files get meaningful names.

Only the local file system is supported for the renames (the landing zone of a laptop or a
mounted volume); data never passes through the driver.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pyspark.sql import DataFrame

EXTENSIONS = {"csv": ".csv", "csv.gz": ".csv.gz", "parquet": ".parquet"}


def write_files(
    df: DataFrame,
    fmt: str,
    source_dir: str,
    name: str,
    files: int | None = None,
    split_col: str | None = None,
) -> list[str]:
    """Write ``df`` as files ``<source_dir>/<name>[_<split value>]_<i><ext>``.

    ``files`` coalesces to that many files (None keeps one per partition); ``split_col``
    (e.g. the day) sends rows to separate files by value, without writing the column.
    """
    tmp = os.path.join(source_dir, f"_tmp_{name}")
    out = df.coalesce(files) if files else df
    writer = out.write.mode("overwrite")
    if split_col:
        writer = writer.partitionBy(split_col)
    if fmt == "parquet":
        # Small row groups: a task keeps one open writer per day (no sort before writing).
        writer.option("compression", "snappy").option("parquet.block.size", 16 * 2**20).parquet(tmp)
    else:
        writer = writer.option("header", True).option("encoding", "UTF-8")
        if fmt == "csv.gz":
            writer = writer.option("compression", "gzip")
        writer.csv(tmp)
    return _rename_parts(tmp, source_dir, name, EXTENSIONS[fmt], split_col)


def _rename_parts(
    tmp: str, source_dir: str, name: str, ext: str, split_col: str | None
) -> list[str]:
    written: list[str] = []
    groups: list[tuple[str, Path]] = []
    if split_col:
        for sub in sorted(Path(tmp).glob(f"{split_col}=*")):
            value = sub.name.split("=", 1)[1]
            groups.append((f"_{value}", sub))
    else:
        groups.append(("", Path(tmp)))
    for suffix, folder in groups:
        parts = sorted(p for p in folder.iterdir() if p.name.startswith("part-"))
        for i, part in enumerate(parts):
            target = os.path.join(source_dir, f"{name}{suffix}_{i}{ext}")
            os.replace(part, target)
            written.append(target)
    shutil.rmtree(tmp, ignore_errors=True)
    return written


def reset_dir(path: str) -> None:
    """Remove a previous generation so a re-run replaces it."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
