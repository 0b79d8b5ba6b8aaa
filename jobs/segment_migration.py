"""Transition matrices between two scored snapshots -> gold/segment_migration.

``python jobs/segment_migration.py --help``
"""

from __future__ import annotations

from telcoseg.cli import main
from telcoseg.segmentation.jobs import migration_add_args, run_migration

if __name__ == "__main__":
    main("segment_migration", run_migration, migration_add_args)
