"""The pipeline's jobs, unchanged, on a Spark standalone cluster via spark-submit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from standalone import REPO, spark_submit, standalone_cluster
from telcoseg.io import delta

pytestmark = pytest.mark.cluster


def test_jobs_run_on_a_standalone_cluster(tmp_path: Path) -> None:
    root = tmp_path / "run"
    key_file = tmp_path / "hmac.key"
    key_file.write_text("cluster-test-key-0123456789abcdef")
    key_file.chmod(0o600)
    common = [
        "--conf", str(REPO / "conf" / "telcoseg.yaml"),
        "--set", f"paths.root={root}",
        "--set", f"ingest.hmac_key_file={key_file}",
    ]  # fmt: skip
    steps = [
        ("generate.py", ["--subscribers", "40", "--days", "7"]),
        ("ingest.py", []),
        ("features.py", ["--snapshot-date", "2026-03-29", "--window-days", "7"]),
    ]
    os.environ.setdefault("TELCOSEG_HMAC_KEY_FILE", str(key_file))
    lake = root / "lake"
    with standalone_cluster(tmp_path / "cluster") as master:
        for job, args in steps:
            done = spark_submit(master, tmp_path / "cluster", job, [*common, *args])
            assert done.returncode == 0, f"{job} failed:\n{done.stderr[-4000:]}"
        before = {
            t: delta.describe(str(lake / t))["rows"]
            for t in ("silver/cdr", "gold/behavior_vectors")
        }
        # Lake upkeep on the cluster too (every partition with 2+ small files compacted).
        maintain = ["--set", "maintenance.min_small_files=2"]
        done = spark_submit(master, tmp_path / "cluster", "maintain.py", [*common, *maintain])
        assert done.returncode == 0, f"maintain failed:\n{done.stderr[-4000:]}"
    assert {t: delta.describe(str(lake / t))["rows"] for t in before} == before
    # Each job ran as an application on the worker, not in local mode.
    apps = list((tmp_path / "cluster" / "worker").glob("app-*"))
    assert len(apps) == len(steps) + 1
    silver = delta.describe(str(lake / "silver" / "cdr"))
    assert silver["rows"] > 1000 and silver["partition_columns"] == ["event_date"]
    gold = delta.describe(str(lake / "gold" / "behavior_vectors"))
    assert 35 <= gold["rows"] <= 41  # one row per generated line (a few may be inactive)
    runs = delta.history(str(lake / "ops" / "ingest_runs"))
    ops = [(h.get("telcoseg") or {}).get("operation") for h in runs]
    # One ingest run; maintain may have rewritten its small files since.
    assert ops.count(None) == 1 and set(ops) <= {None, "COMPACT"}
