"""Silver -> gold fraud_alerts (SIM-box score) and number_range_anomalies for one snapshot.

``python jobs/fraud.py --snapshot-date 2026-03-29 [--window-days 28] [--baseline-days 14]
[--conf FILE] [--set fraud.alert_threshold=0.6]``
"""

from __future__ import annotations

from telcoseg.cli import main
from telcoseg.fraud.job import add_args, run

if __name__ == "__main__":
    main("fraud", run, add_args)
