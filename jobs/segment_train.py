"""Train the segmentation on a snapshot of gold/behavior_vectors, log and register it.

``python jobs/segment_train.py --help``
"""

from __future__ import annotations

from telcoseg.cli import main
from telcoseg.segmentation.jobs import run_train, train_add_args

if __name__ == "__main__":
    main("segment_train", run_train, train_add_args)
