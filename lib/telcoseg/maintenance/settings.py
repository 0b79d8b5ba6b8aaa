"""The ``maintenance:`` config section (``jobs/maintain.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TABLE = re.compile(r"^[A-Za-z0-9_]+/[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class Settings:
    """Validated ``maintenance:`` section."""

    # Rewrite a partition's files under small_file_mb when it has min_small_files of
    # them, into files of about target_file_mb (usually one).
    compact: bool = True
    small_file_mb: int = 32
    min_small_files: int = 8
    target_file_mb: int = 256  # the size of the files they become
    # Tables whose files are never merged: bronze/number_lookup drops whole files by
    # their plan tag and age, which a merged file (one age, many tags) would defeat.
    skip_compaction: tuple[str, ...] = ("bronze/number_lookup",)
    # Delete the files a commit removed this many hours ago (time travel reaches back
    # this far; Delta's own default is a week). Until then removed rows, phone numbers
    # of bronze included, are still on disk.
    vacuum: bool = True
    retain_hours: int = 168
    # Staging folders of writes that never committed (a killed job) go after this long;
    # a running job's staged files must outlive it.
    staging_hours: float = 24.0
    # "layer/name" of the tables to maintain; empty: every Delta table of the lake.
    tables: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.small_file_mb < 1:
            raise ValueError("small_file_mb must be >= 1")
        if self.target_file_mb < self.small_file_mb:
            raise ValueError("target_file_mb must be >= small_file_mb")
        if self.min_small_files < 2:
            raise ValueError("min_small_files must be >= 2 (one file is already compact)")
        if self.retain_hours < 1:
            raise ValueError(
                "retain_hours must be >= 1: a write's staged files are not in the log yet"
            )
        if self.staging_hours < 1:
            raise ValueError("staging_hours must be >= 1: a running job's files are staged")
        for key in ("tables", "skip_compaction"):
            for i, t in enumerate(getattr(self, key)):
                if not _TABLE.match(t):
                    raise ValueError(f"{key}[{i}] must look like silver/cdr, got {t!r}")
