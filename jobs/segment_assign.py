"""Score a snapshot with a registered segmentation version -> gold/segment_assignments.

``python jobs/segment_assign.py --help``
"""

from __future__ import annotations

from telcoseg.cli import main
from telcoseg.segmentation.jobs import assign_add_args, run_assign

if __name__ == "__main__":
    main("segment_assign", run_assign, assign_add_args)
