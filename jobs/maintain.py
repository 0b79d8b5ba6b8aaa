"""Compact small files, vacuum removed files and clean stale staging folders of the lake.

``python jobs/maintain.py [--dry-run] [--tables silver/cdr,bronze/number_lookup]
[--conf FILE] [--set maintenance.retain_hours=24]``
"""

from __future__ import annotations

from telcoseg.cli import main
from telcoseg.maintenance.job import add_args, run

if __name__ == "__main__":
    main("maintain", run, add_args)
