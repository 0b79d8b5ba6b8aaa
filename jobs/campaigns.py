"""Gold campaign_ab (A/B analysis of sent campaigns) and campaign_audience (targeting).

``python jobs/campaigns.py --snapshot-date 2026-03-29 [--mode target|analyze|both]
[--conf FILE] [--set campaigns.alpha=0.1]``
"""

from __future__ import annotations

from telcoseg.campaigns.job import add_args, run
from telcoseg.cli import main

if __name__ == "__main__":
    main("campaigns", run, add_args)
