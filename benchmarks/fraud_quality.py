"""Precision and recall of the SIM-box alerts, and whether the planted area spike is found.

Runs the real pipeline on a small generated population in a temporary root (or
``--root``): ``jobs/generate.py`` -> ``jobs/ingest.py`` -> ``jobs/features.py`` ->
``jobs/fraud.py``, then compares ``gold/fraud_alerts`` with the truth folder's
``is_simbox`` / ``is_call_center`` flags (subscriber_id = HMAC-SHA256(TELCOSEG_HMAC_KEY,
E.164 msisdn), computed here with Python's hmac) and ``gold/number_range_anomalies`` with
the truth ``spikes`` record (the area of the spike prefix, by libphonenumber's geocoder).

    .venv/bin/python benchmarks/fraud_quality.py [--subscribers 1500] [--days 28]
        [--simbox-fraction 0.01] [--call-center-fraction 0.02] [--root DIR --reuse]

Prints the numbers and writes ``benchmarks/results/fraud_quality.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import phonenumbers
import pyarrow.dataset as pads
from deltalake import DeltaTable
from phonenumbers import geocoder

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "fraud_quality.json"
BENCH_KEY = "fraud-benchmark-key-not-a-secret"


def run_step(name: str, args: list[str], env: dict[str, str]) -> float:
    """Run ``jobs/<name>.py`` with ``args``; fail loudly with its log tail."""
    started = time.perf_counter()
    cmd = [sys.executable, str(REPO / "jobs" / f"{name}.py"), *args]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-6000:])
        raise SystemExit(f"{name} failed with exit code {proc.returncode}")
    seconds = time.perf_counter() - started
    print(f"{name}: {seconds:.0f}s", flush=True)
    return seconds


def pseudonym(key: str, e164: str) -> str:
    return hmac.new(key.encode(), e164.encode(), hashlib.sha256).hexdigest()


def read_delta(path: Path) -> pd.DataFrame:
    return DeltaTable(str(path)).to_pandas()


def read_parquet(path: Path) -> pd.DataFrame:
    return pads.dataset(str(path), format="parquet").to_table().to_pandas()


def spike_area(prefix: str) -> str:
    """Country-qualified area of a number range, as the anomaly segments name it."""
    number = phonenumbers.parse(prefix + "0" * (13 - len(prefix)), None)
    country = phonenumbers.region_code_for_number(number)
    return f"{country}/{geocoder.description_for_number(number, 'en')}"


def evaluate(root: Path, key: str, snapshot: dt.date) -> dict[str, Any]:
    truth = read_parquet(root / "truth" / "subscribers")
    truth["subscriber_id"] = [pseudonym(key, m) for m in truth["msisdn"]]
    alerts = read_delta(root / "lake" / "gold" / "fraud_alerts")
    alerts = alerts[alerts["snapshot_date"].astype(str) == snapshot.isoformat()]
    alerted = set(alerts["subscriber_id"])
    simbox = set(truth.loc[truth["is_simbox"], "subscriber_id"])
    call_center = set(truth.loc[truth["is_call_center"], "subscriber_id"])
    tp = len(alerted & simbox)
    precision = tp / len(alerted) if alerted else 0.0
    recall = tp / len(simbox) if simbox else 0.0
    by_id = truth.set_index("subscriber_id")
    false_alerts = [
        {
            "persona": str(by_id.loc[s, "persona"]) if s in by_id.index else "unknown",
            "score": float(alerts.loc[alerts["subscriber_id"] == s, "score"].iloc[0]),
        }
        for s in sorted(alerted - simbox)
    ]
    missed = sorted(simbox - alerted)

    spikes = read_parquet(root / "truth" / "spikes")
    anomalies = read_delta(root / "lake" / "gold" / "number_range_anomalies")
    anomalies = anomalies[anomalies["snapshot_date"].astype(str) == snapshot.isoformat()]
    found = []
    for row in spikes.itertuples():
        area = spike_area(row.prefix)
        start, end = pd.Timestamp(row.start_date).date(), pd.Timestamp(row.end_date).date()
        days = pd.to_datetime(anomalies["event_date"]).dt.date
        hits = anomalies[
            (anomalies["dimension"] == "counterparty_number_region")
            & (anomalies["segment"] == area)
            & (days >= start)
            & (days <= end)
        ]
        found.append(
            {
                "prefix": row.prefix,
                "area": area,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "planted_rows": int(row.planted_rows),
                "days_flagged": len(hits),
                "max_robust_z": float(hits["robust_z"].max()) if len(hits) else None,
                "found": bool(len(hits)),
            }
        )
    return {
        "lines_in_truth": len(truth),
        "simbox_lines": len(simbox),
        "call_center_lines": len(call_center),
        "alerts": len(alerted),
        "true_positives": tp,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "call_centers_alerted": len(alerted & call_center),
        "false_alerts": false_alerts,
        "missed_simbox_scores": len(missed),
        "score_version": str(alerts["score_version"].iloc[0]) if len(alerts) else None,
        "spikes": found,
        "spike_found": all(s["found"] for s in found) and bool(found),
        "anomaly_rows": len(anomalies),
        "anomalies_by_dimension": {
            str(k): int(v) for k, v in anomalies["dimension"].value_counts().items()
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", help="run folder (default: a new temporary folder)")
    p.add_argument("--reuse", action="store_true", help="skip generate/ingest/features")
    p.add_argument("--subscribers", type=int, default=1500)
    p.add_argument("--days", type=int, default=28)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--simbox-fraction", type=float, default=0.01)
    p.add_argument("--call-center-fraction", type=float, default=0.02)
    p.add_argument("--skip-features", action="store_true", help="fraud without behavior vectors")
    p.add_argument("--set", action="append", default=[], help="extra --set for every job")
    args = p.parse_args()

    root = Path(args.root or tempfile.mkdtemp(prefix="fraud-quality-")).resolve()
    env = dict(os.environ)
    key = env.setdefault("TELCOSEG_HMAC_KEY", BENCH_KEY)
    common = ["--set", f"paths.root={root}", "--set", "spark.master=local[2]"]
    common += ["--set", "spark.driver_memory=3g"]
    for extra in args.set:
        common += ["--set", extra]
    gen = [
        f"generator.subscribers={args.subscribers}",
        f"generator.days={args.days}",
        f"generator.seed={args.seed}",
        f"generator.simbox_fraction={args.simbox_fraction}",
        f"generator.call_center_fraction={args.call_center_fraction}",
    ]
    timings: dict[str, float] = {}
    if not args.reuse:
        timings["generate"] = run_step(
            "generate", common + [x for g in gen for x in ("--set", g)], env
        )
        timings["ingest"] = run_step("ingest", common, env)
    summary = json.loads((root / "truth" / "summary.json").read_text())
    snapshot = dt.date.fromisoformat(summary["generated_at_end_date"])
    window = min(args.days, 28)
    snap = ["--snapshot-date", snapshot.isoformat(), "--window-days", str(window)]
    if not args.reuse and not args.skip_features:
        timings["features"] = run_step("features", common + snap, env)
    timings["fraud"] = run_step("fraud", common + snap, env)

    result = evaluate(root, key, snapshot)
    result.update(
        {
            "command": "benchmarks/fraud_quality.py " + " ".join(sys.argv[1:]),
            "root": str(root),
            "snapshot_date": snapshot.isoformat(),
            "window_days": window,
            "generator": {g.split("=")[0]: g.split("=")[1] for g in gen},
            "seconds": {k: round(v, 1) for k, v in timings.items()},
            "load_average_1m": round(os.getloadavg()[0], 1),
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    ok = result["precision"] >= 0.95 and result["recall"] >= 0.95 and result["spike_found"]
    print(
        f"precision={result['precision']} recall={result['recall']} "
        f"spike_found={result['spike_found']} -> {'PASS' if ok else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
