"""File-system operations on table folders through pyarrow's file systems.

pyarrow speaks the same local, S3, GCS, ABFS and HDFS paths as delta-rs, so the driver
can move Spark's files into place, stat them and read their Parquet footers without
touching the JVM. Only metadata passes through the driver, never table data.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from dataclasses import dataclass
from urllib.parse import unquote

import pyarrow.fs as pafs

# Spark's Hadoop schemes and the scheme the same store has in pyarrow / delta-rs.
_SCHEME_ALIASES = {"s3a://": "s3://", "s3n://": "s3://", "file:": ""}


def normalize_uri(path: str) -> str:
    """An absolute local path, or a URI with the scheme delta-rs and pyarrow understand."""
    for alias, target in _SCHEME_ALIASES.items():
        if path.startswith(alias):
            rest = path[len(alias) :]
            if alias == "file:":
                rest = "/" + rest.lstrip("/")
                return os.path.abspath(unquote(rest))
            return target + rest
    if "://" in path:
        return path
    return os.path.abspath(os.path.expanduser(path))


def spark_uri(path: str) -> str:
    """The form of ``path`` Spark's Hadoop file systems want (s3:// -> s3a://)."""
    uri = normalize_uri(path)
    if uri.startswith("s3://"):
        return "s3a://" + uri[len("s3://") :]
    return uri


@dataclass(frozen=True)
class FileInfo:
    rel_path: str  # relative to the folder listed, '/'-separated, partition dirs escaped
    size: int
    mtime_ms: int


class TableStorage:
    """The files of one table folder."""

    def __init__(self, table_uri: str) -> None:
        self.uri = normalize_uri(table_uri)
        self.fs, self.root = pafs.FileSystem.from_uri(self.uri)

    def abs(self, rel: str) -> str:
        return posixpath.join(self.root, rel)

    def exists(self, rel: str = "") -> bool:
        return self.fs.get_file_info(self.abs(rel)).type != pafs.FileType.NotFound

    def list_data_files(self, rel_dir: str = "", skip_dirs: tuple[str, ...] = ()) -> list[FileInfo]:
        """Data files below ``rel_dir``: names starting with ``_`` or ``.`` are Spark's or
        Delta's bookkeeping (``_SUCCESS``, ``.crc``, ``_delta_log``) and are skipped."""
        base = self.abs(rel_dir)
        if self.fs.get_file_info(base).type == pafs.FileType.NotFound:
            return []
        out: list[FileInfo] = []
        for info in self.fs.get_file_info(pafs.FileSelector(base, recursive=True)):
            if info.type != pafs.FileType.File:
                continue
            rel = posixpath.relpath(info.path, base)
            parts = rel.split("/")
            if any(p.startswith(("_", ".")) for p in parts):
                continue
            if parts[0] in skip_dirs:
                continue
            mtime = info.mtime_ns // 1_000_000 if info.mtime_ns is not None else 0
            out.append(FileInfo(rel_path=rel, size=int(info.size or 0), mtime_ms=mtime))
        return out

    def move(self, src_rel: str, dst_rel: str) -> None:
        dst = self.abs(dst_rel)
        self.fs.create_dir(posixpath.dirname(dst), recursive=True)
        self.fs.move(self.abs(src_rel), dst)

    def delete_file(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.abs(rel))

    def delete_dir(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_dir(self.abs(rel))

    def open(self, rel: str) -> pafs.NativeFile:
        return self.fs.open_input_file(self.abs(rel))

    def subdirs(self, rel_dir: str) -> list[tuple[str, int]]:
        """(name, mtime_ms) of the folders directly below ``rel_dir``."""
        base = self.abs(rel_dir)
        if self.fs.get_file_info(base).type == pafs.FileType.NotFound:
            return []
        return [
            (posixpath.basename(i.path), (i.mtime_ns or 0) // 1_000_000)
            for i in self.fs.get_file_info(pafs.FileSelector(base))
            if i.type == pafs.FileType.Directory
        ]
