"""A small synthetic lake (gold inputs of the report) and the report job run on it.

Shared by the report tests and the notebook test: building it costs a Spark job per table,
so one session-scoped copy serves both (see ``report_world`` in conftest).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import random
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import yaml
from pyspark.sql import SparkSession

from telcoseg.cli import run_job
from telcoseg.io.delta import write_table

SNAP = dt.date(2026, 3, 31)
PREV = dt.date(2026, 2, 28)
K = 5

REPO = Path(__file__).resolve().parents[1]

# The report's section ids, in page order: what both report tests expect to find.
SECTIONS = (
    "overview",
    "segment-sizes",
    "segment-heatmap",
    "segment-geography",
    "migration",
    "propensity",
    "fairness",
    "fraud",
    "campaigns",
    "number-attributes",
    "data-quality",
)


def report_job() -> ModuleType:
    spec = importlib.util.spec_from_file_location("report_job", REPO / "jobs" / "report.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class World:
    root: Path
    conf: Path
    html: str
    ids: list[str]
    msisdns: list[str]
    coords: list[float]
    exit_code: int


def _sid(i: int) -> str:
    return hashlib.sha256(f"+4479461{i:05d}".encode()).hexdigest()


def _write(spark: SparkSession, root: Path, layer: str, name: str, rows: list, ddl: str) -> None:
    write_table(spark.createDataFrame(rows, ddl), str(root / "lake" / layer / name))


def _build_inputs(spark: SparkSession, root: Path) -> tuple[list[str], list[str], list[float]]:
    rng = random.Random(7)
    n = 240
    ids = [_sid(i) for i in range(n)]
    msisdns = [f"+4479461{i:05d}" for i in range(n)]
    regions = ["north", "south", "east", "west"]
    subs = []
    for i, s in enumerate(ids):
        region = "islands" if i < K - 1 else regions[i % 4]  # k-1 subscribers: generalized
        country = "GB" if i % 10 else ("FR" if i % 20 else "NL")
        carrier = ["Vodafone", "O2", "EE"][i % 3] if i > 2 else "TinyTel"
        subs.append(
            (
                s,
                region,
                "p" + str(i % 3),
                ["prepaid", "postpaid"][i % 2],
                1960 + i % 40,
                ["f", "m"][i % 2],
                country,
                carrier,
                "mobile" if i % 7 else "fixed_line",
            )
        )
    _write(
        spark,
        root,
        "silver",
        "subscribers",
        subs,
        "subscriber_id string, region string, plan string, plan_type string, "
        "birth_year int, gender string, country_iso string, carrier string, "
        "number_type string",
    )
    coords = [51.50123, -0.14187, 53.48071, -2.24273]
    _write(
        spark,
        root,
        "silver",
        "cells",
        [("c1", coords[0], coords[1]), ("c2", coords[2], coords[3])],
        "cell_id string, latitude double, longitude double",
    )
    assign = []
    seg_rng = random.Random(11)
    prev: dict[int, int] = {}
    for snap in (PREV, SNAP):
        for i, s in enumerate(ids):
            macro = seg_rng.randrange(4) if snap == PREV or i % 5 == 0 else prev[i]
            prev[i] = macro
            assign.append((s, snap, f"M{macro}", f"M{macro}.{i % 2}", "v1"))
    _write(
        spark,
        root,
        "gold",
        "segment_assignments",
        assign,
        "subscriber_id string, snapshot_date date, macro_segment_id string, "
        "micro_segment_id string, model_version string",
    )
    vectors = [
        (s, SNAP, rng.uniform(0, 400), rng.random(), rng.uniform(0, 80), rng.gauss(0, 1e6))
        for s in ids
    ]
    _write(
        spark,
        root,
        "gold",
        "behavior_vectors",
        vectors,
        "subscriber_id string, snapshot_date date, tc_voice_records double, "
        "tc_data_night_share double, tc_spend double, tc_unbounded_thing double",
    )
    profiles = [
        (f"M{m}", "macro", f"Segment {m}", "tc_spend+, tc_voice_records-", 60, 0.25)
        for m in range(4)
    ]
    _write(
        spark,
        root,
        "gold",
        "segment_profiles",
        profiles,
        "segment_id string, level string, name string, top_indicators string, "
        "size long, share double",
    )
    ev = []
    for outcome in ("upgrade", "add_line"):
        for d in range(1, 11):
            pos = max(0, 30 - 3 * d)
            ev.append((outcome, d, 24, pos, pos / 24, 1.0, 0.71))
    _write(
        spark,
        root,
        "gold",
        "propensity_evaluation",
        ev,
        "outcome string, decile int, n long, positives long, rate double, lift double, auc double",
    )
    fair = [("upgrade", "gender", g, 120, 30, 0.25, 0.6) for g in ("f", "m")]
    fair += [("upgrade", "age_band", "18-24", 3, 1, 0.33, 0.5)]  # under k: suppressed
    _write(
        spark,
        root,
        "gold",
        "propensity_fairness",
        fair,
        "outcome string, attribute string, group string, n long, positives long, "
        "positive_rate double, tpr double",
    )
    alerts = [(ids[i], SNAP, ["sim_box", "wangiri"][i % 2], 0.9) for i in range(0, 60, 2)]
    _write(
        spark,
        root,
        "gold",
        "fraud_alerts",
        alerts,
        "subscriber_id string, snapshot_date date, rule string, score double",
    )
    ab = [
        ("C1", "treatment", 100, 18),
        ("C1", "control", 100, 9),
        ("C2", "treatment", 40, 4),
        ("C2", "control", 40, 3),
    ]
    _write(
        spark,
        root,
        "gold",
        "campaign_ab",
        ab,
        "campaign_id string, arm string, n long, converted long",
    )
    runs = [("r1", "cdr", 1000, 950, 30, 20), ("r1", "subscribers", 240, 238, 2, 0)]
    _write(
        spark,
        root,
        "ops",
        "ingest_runs",
        runs,
        "run_id string, source string, rows_read long, rows_accepted long, "
        "rows_quarantined long, duplicates long",
    )
    return ids, msisdns, coords


def build_world(spark: SparkSession, root: Path) -> World:
    """Write the inputs under ``root``, run the report job on them, return what it made."""
    ids, msisdns, coords = _build_inputs(spark, root)
    conf = root / "telcoseg.yaml"
    conf.write_text(
        yaml.safe_dump(
            {
                "paths": {"root": str(root)},
                "privacy": {"k": K, "epsilon_per_release": 1.0, "budget_epsilon": 12.0},
            }
        )
    )
    job = report_job()
    code = run_job(
        "report",
        job.run,
        job.add_args,
        ["--conf", str(conf), "--snapshot-date", SNAP.isoformat()],
        spark=spark,
    )
    html_path = root / "artifacts" / "report" / f"report_{SNAP.isoformat()}.html"
    html = html_path.read_text(encoding="utf-8") if html_path.exists() else ""
    return World(root, conf, html, ids, msisdns, coords, code)
