"""Run a workflow locally: tasks in order, retries, skip what is done, a status table."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.cli import base_parser
from telcoseg.config import Config
from telcoseg.errors import ConfigError, InputFileError, SecretError, TelcosegError
from telcoseg.io import delta
from telcoseg.workflow.spec import TaskSpec, WorkflowSpec, job_functions, task_argv

log = logging.getLogger(__name__)

STATUS_TABLE = ("ops", "workflow_runs")
STATUS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("workflow", T.StringType(), False),
        T.StructField("task", T.StringType(), False),
        T.StructField("job", T.StringType(), False),
        T.StructField("snapshot_date", T.DateType(), False),
        T.StructField("params_hash", T.StringType(), False),
        # succeeded | failed | skipped | upstream_failed
        T.StructField("status", T.StringType(), False),
        T.StructField("attempts", T.IntegerType(), False),
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("duration_s", T.DoubleType(), False),
        T.StructField("metrics", T.StringType()),  # JSON: row counts the job returned
        T.StructField("error", T.StringType()),
    ]
)
# Failures that another attempt cannot fix.
_PERMANENT = (ConfigError, SecretError, InputFileError)


class WorkflowError(TelcosegError):
    """One or more tasks failed; ``results`` has every task's outcome."""

    def __init__(self, message: str, results: list[TaskResult]) -> None:
        super().__init__(message)
        self.results = results


@dataclass
class TaskResult:
    task: str
    status: str
    attempts: int
    seconds: float
    metrics: dict[str, Any] | None = None
    error: str | None = None


def params_hash(task: TaskSpec, snapshot_date: dt.date) -> str:
    text = json.dumps([task.job, task_argv(task, snapshot_date)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _already_done(
    spark: SparkSession, cfg: Config, wf: WorkflowSpec, task: TaskSpec, snapshot: dt.date
) -> bool:
    """Done = a succeeded run with the same parameters, and its outputs still exist."""
    status_path = cfg.paths.table(*STATUS_TABLE)
    if not delta.table_exists(status_path):
        return False
    hit = (
        delta.read_table(spark, status_path)
        .where(
            (F.col("workflow") == wf.name)
            & (F.col("task") == task.name)
            & (F.col("snapshot_date") == F.lit(snapshot))
            & (F.col("params_hash") == params_hash(task, snapshot))
            & (F.col("status") == "succeeded")
        )
        .limit(1)
        .count()
    )
    if not hit:
        return False
    for output in task.outputs:
        layer, name = output.split("/", 1)
        path = cfg.paths.table(layer, name)
        if not delta.table_exists(path):
            return False
        if task.snapshot_scoped and "snapshot_date" in delta.partition_columns(path):
            rows = delta.read_table(
                spark, path, partition_filters=[("snapshot_date", "=", snapshot)]
            ).limit(1)
            if rows.count() == 0:
                return False
    return True


def _run_task(
    spark: SparkSession, cfg: Config, task: TaskSpec, snapshot: dt.date
) -> tuple[Any, int]:
    run, add_args = job_functions(task.job)
    parser = base_parser(task.job)
    if add_args:
        add_args(parser)
    argv = task_argv(task, snapshot)
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        raise ConfigError(
            f"task {task.name}: parameters {argv} are not valid for {task.job}"
        ) from None
    attempt = 0
    while True:
        attempt += 1
        try:
            return run(spark, cfg, args), attempt
        except _PERMANENT:
            raise
        except Exception as exc:
            if attempt > task.max_retries:
                raise
            log.warning(
                "task %s attempt %d failed (%s); retrying in %.0fs",
                task.name,
                attempt,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                task.retry_delay_s,
            )
            time.sleep(task.retry_delay_s)


def _record(spark: SparkSession, cfg: Config, rows: list[tuple]) -> None:
    df = spark.createDataFrame(rows, STATUS_SCHEMA)
    delta.write_table(df, cfg.paths.table(*STATUS_TABLE), mode="append")


def run_workflow(
    spark: SparkSession,
    cfg: Config,
    wf: WorkflowSpec,
    snapshot_date: dt.date | None = None,
    force: bool = False,
    only: list[str] | None = None,
) -> list[TaskResult]:
    """Run the tasks in order. A task that fails after its retries does not stop the tasks
    that do not depend on it (as a Databricks job run does): its dependents are recorded as
    ``upstream_failed`` and not run, and the workflow fails at the end naming them all."""
    snapshot = snapshot_date or wf.snapshot_date
    run_id = uuid.uuid4().hex[:12]
    results: list[TaskResult] = []
    not_ok: dict[str, str] = {}  # task -> why it did not succeed (failed or upstream_failed)
    first_error: BaseException | None = None
    total = len(wf.tasks)
    for i, task in enumerate(wf.tasks, start=1):
        if only and task.name not in only:
            continue
        started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        t0 = time.perf_counter()
        phash = params_hash(task, snapshot)
        blocked = [d for d in task.depends_on if d in not_ok]
        if blocked:
            why = f"not run: upstream task(s) {', '.join(blocked)} did not succeed"
            res = TaskResult(task.name, "upstream_failed", 0, 0.0, error=why)
            results.append(res)
            not_ok[task.name] = why
            _record(spark, cfg, [_row(run_id, wf, task, snapshot, phash, res, started)])
            log.error("[%d/%d] %s %s", i, total, task.name, why)
            continue
        if not force and _already_done(spark, cfg, wf, task, snapshot):
            log.info("[%d/%d] %s: skipped, done for %s", i, total, task.name, snapshot)
            res = TaskResult(task.name, "skipped", 0, 0.0)
            results.append(res)
            _record(spark, cfg, [_row(run_id, wf, task, snapshot, phash, res, started)])
            continue
        log.info("[%d/%d] %s (%s) started", i, total, task.name, task.job)
        try:
            out, attempts = _run_task(spark, cfg, task, snapshot)
        except Exception as exc:
            seconds = time.perf_counter() - t0
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            res = TaskResult(task.name, "failed", task.max_retries + 1, seconds, error=msg)
            results.append(res)
            not_ok[task.name] = msg
            first_error = first_error or exc
            _record(spark, cfg, [_row(run_id, wf, task, snapshot, phash, res, started)])
            log.error("[%d/%d] %s failed after %.1fs: %s", i, total, task.name, seconds, msg)
            continue
        seconds = time.perf_counter() - t0
        metrics = out if isinstance(out, dict) else None
        res = TaskResult(task.name, "succeeded", attempts, seconds, metrics)
        results.append(res)
        _record(spark, cfg, [_row(run_id, wf, task, snapshot, phash, res, started)])
        log.info(
            "[%d/%d] %s succeeded in %.1fs %s",
            i,
            total,
            task.name,
            seconds,
            json.dumps(metrics, default=str) if metrics else "",
        )
    if first_error is not None:
        failed = [r for r in results if r.status == "failed"]
        skipped = [r.task for r in results if r.status == "upstream_failed"]
        summary = "; ".join(f"{r.task}: {r.error}" for r in failed)
        if skipped:
            summary += f"; not run (upstream failed): {', '.join(skipped)}"
        raise WorkflowError(f"workflow {wf.name} failed: {summary}", results) from first_error
    return results


def _row(
    run_id: str,
    wf: WorkflowSpec,
    task: TaskSpec,
    snapshot: dt.date,
    phash: str,
    res: TaskResult,
    started: dt.datetime,
) -> tuple:
    return (
        run_id,
        wf.name,
        task.name,
        task.job,
        snapshot,
        phash,
        res.status,
        res.attempts,
        started,
        float(res.seconds),
        json.dumps(res.metrics, default=str, sort_keys=True) if res.metrics else None,
        res.error,
    )


def add_args(parser: argparse.ArgumentParser) -> None:
    from telcoseg.cli import snapshot_date

    parser.add_argument("--workflow", help="workflow YAML (default conf/workflow.yaml)")
    parser.add_argument("--snapshot-date", type=snapshot_date, help="override the workflow's")
    parser.add_argument("--force", action="store_true", help="re-run tasks that are done")
    parser.add_argument("--only", action="append", help="run only these tasks (repeatable)")


def run(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    """Entry point of ``jobs/workflow.py`` and of the demo."""
    from telcoseg.workflow.spec import load_workflow

    wf = load_workflow(args.workflow)
    results = run_workflow(spark, cfg, wf, args.snapshot_date, args.force, args.only)
    return {r.task: {"status": r.status, "seconds": round(r.seconds, 1)} for r in results}
