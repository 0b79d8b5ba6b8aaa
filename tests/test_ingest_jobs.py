"""The ingest jobs as entry points: exit codes, printed counts, the key from the environment."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pyspark.sql import SparkSession

from telcoseg.cli import run_job
from telcoseg.ingest.hmac_key import pseudonym
from telcoseg.io import delta

REPO = Path(__file__).resolve().parents[1]
CDR = (
    "record_id,event_time,msisdn,event_type,direction,counterparty,duration_s\n"
    "r1,2026-03-02T10:00:00Z,+447400000001,voice,out,+447508123456,10\n"
    "r2,2026-03-02T10:01:00Z,+447400000001,sms,in,12345,\n"
)


def load_job(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "jobs" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def landing(root: Path) -> None:
    (root / "landing" / "cdr").mkdir(parents=True)
    (root / "landing" / "cdr" / "a.csv").write_text(CDR)


def test_jobs_exit_non_zero_naming_the_file_and_zero_when_fixed(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    landing(tmp_path)
    key = tmp_path / "k"
    key.write_text("job-test-key-0123456789")
    bad = tmp_path / "landing" / "cdr" / "b.csv"
    bad.write_text("record_id,msisdn\nr9,+447400000001\n")
    argv = ["--set", f"paths.root={tmp_path}", "--set", f"ingest.hmac_key_file={key}"]
    bronze, silver = load_job("ingest_bronze"), load_job("ingest_silver")
    assert run_job("ingest_bronze", bronze.job, argv=argv, spark=spark) == 1
    assert not delta.table_exists(str(tmp_path / "lake" / "bronze" / "cdr"))
    bad.unlink()
    assert run_job("ingest_bronze", bronze.job, argv=argv, spark=spark) == 0
    assert run_job("ingest_silver", silver.job, argv=argv, spark=spark) == 0
    out = capsys.readouterr().out
    assert "bronze cdr" in out and "silver cdr" in out


def test_ingest_job_reads_the_key_from_the_environment(spark: SparkSession, tmp_path: Path) -> None:
    """A fresh process: the variable is set before Spark starts, as a deployment does."""
    landing(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELCOSEG_HMAC")}
    env["TELCOSEG_HMAC_KEY"] = "env-job-key-0123456789"
    env["PYSPARK_PYTHON"] = sys.executable
    cmd = [sys.executable, "jobs/ingest.py", "--set", f"paths.root={tmp_path}",
           "--set", "spark.master=local[1]", "--set", "spark.driver_memory=1g"]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "silver cdr" in done.stdout
    assert env["TELCOSEG_HMAC_KEY"] not in done.stdout + done.stderr
    ids = delta.read_table(spark, str(tmp_path / "lake" / "silver" / "cdr")).collect()
    want = pseudonym(env["TELCOSEG_HMAC_KEY"].encode(), "+447400000001")
    assert {r["subscriber_id"] for r in ids} == {want}
