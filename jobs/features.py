"""Silver -> gold behavior vectors for one snapshot date.

``python jobs/features.py --snapshot-date 2026-03-29 [--window-days 28]
[--subscribers ID,ID | --subscribers-table PATH] [--conf FILE] [--set features.k=v]``
"""

from __future__ import annotations

from telcoseg.cli import main
from telcoseg.features.job import add_args, run

if __name__ == "__main__":
    main("features", run, add_args)
