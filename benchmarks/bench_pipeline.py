"""The whole workflow at scale: per-stage time, rows/s and peak memory.

    python benchmarks/bench_pipeline.py --rows 10000000 [--rows 100000000] [--root DIR]

For each size it generates a landing zone of about ``--rows`` CDR rows (the demo's 42
days and dates, more subscribers), runs ``conf/workflow.yaml`` on it with the local
runner in this process, and records per task: seconds, CDR rows per second (rows of the
run / task seconds, so stages compare on one scale) and the peak resident memory of the
whole process tree (driver, JVM, Python workers) while the task ran. Writes
``benchmarks/results/pipeline.json`` (every size measured so far) and prints a table plus
how time grows with size. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from telcoseg.config import load_config
from telcoseg.generator.settings import Settings as GeneratorSettings
from telcoseg.logs import configure_logging
from telcoseg.session import build_local_session
from telcoseg.workflow.demo import ensure_demo_key
from telcoseg.workflow.runner import run_workflow
from telcoseg.workflow.spec import load_workflow

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "pipeline.json"
PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of ``root_pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * PAGE
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


class PeakMemory:
    """Samples the process tree's RSS every ``interval`` s; ``take()`` returns and resets."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(me))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def take(self) -> int:
        peak, self.peak = self.peak, 0
        return peak


def subscribers_for(rows: int, days: int) -> int:
    """Lines that produce about ``rows`` CDR rows over ``days`` (the generator's model)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_generator", REPO / "benchmarks" / "bench_generator.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    per_day = mod.cdr_rows_per_subscriber_day(GeneratorSettings(days=days))
    return max(100, math.ceil(rows / (per_day * days)))


def run_size(rows: int, root: Path, driver_memory: str) -> dict[str, Any]:
    overrides = {
        "paths.root": str(root),
        "spark.driver_memory": driver_memory,
    }
    cfg0 = load_config(REPO / "conf" / "telcoseg.yaml", overrides)
    days = cfg0.section("generator").days
    overrides["generator.subscribers"] = subscribers_for(rows, days)
    cfg = load_config(REPO / "conf" / "telcoseg.yaml", overrides)
    wf = load_workflow(str(REPO / "conf" / "workflow.yaml"))
    spark = build_local_session(cfg.spark)
    stages: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    error = None
    with PeakMemory() as mem:
        failed: set[str] = set()
        for task in wf.tasks:
            if failed & set(task.depends_on):
                failed.add(task.name)
                stages.append({"task": task.name, "status": "upstream_failed"})
                continue
            try:
                res = run_workflow(spark, cfg, wf, only=[task.name], force=True)[0]
            except Exception as exc:
                # Recorded; tasks that do not depend on it still run (as the runner does).
                msg = f"{task.name}: {str(exc).splitlines()[0]}"
                error = f"{error}; {msg}" if error else msg
                failed.add(task.name)
                stages.append({"task": task.name, "status": "failed", "error": msg})
                mem.take()
                continue
            stages.append(
                {
                    "task": task.name,
                    "status": res.status,
                    "seconds": round(res.seconds, 1),
                    "peak_rss_gib": round(mem.take() / 2**30, 2),
                    "metrics": res.metrics,
                }
            )
            print(f"  {task.name:<22} {res.seconds:8.1f} s", flush=True)
    total = time.perf_counter() - t0
    cdr_rows = _cdr_rows(stages)
    for s in stages:
        if s.get("seconds"):
            s["cdr_rows_per_s"] = round(cdr_rows / s["seconds"]) if cdr_rows else None
    spark.stop()
    return {
        "target_rows": rows,
        "cdr_rows_read": cdr_rows,
        "subscribers": overrides["generator.subscribers"],
        "total_seconds": round(total, 1),
        "peak_rss_gib": max((s.get("peak_rss_gib", 0) for s in stages), default=0),
        "error": error,
        "stages": stages,
    }


def _cdr_rows(stages: list[dict[str, Any]]) -> int | None:
    """CDR rows the generator wrote (bad rows and duplicates included: ingest reads them)."""
    for s in stages:
        if s["task"] == "generate":
            return int(((s.get("metrics") or {}).get("rows") or {}).get("cdr", 0)) or None
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, action="append", help="CDR rows (repeatable)")
    ap.add_argument("--root", help="work folder (default: a folder under /tmp, removed)")
    ap.add_argument("--driver-memory", default="12g")
    args = ap.parse_args()
    configure_logging()
    ensure_demo_key()
    sizes = args.rows or [10_000_000]
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": {}}
    runs = previous.get("runs", {})
    for rows in sizes:
        root = Path(args.root or f"/tmp/telcoseg-bench-pipeline-{rows}")
        shutil.rmtree(root, ignore_errors=True)
        print(f"pipeline at {rows:,} CDR rows -> {root}", flush=True)
        result = run_size(rows, root, args.driver_memory)
        result["load_average_1m_at_end"] = round(os.getloadavg()[0], 1)
        runs[str(rows)] = result
        if not args.root:
            shutil.rmtree(root, ignore_errors=True)
        print(f"  total {result['total_seconds']:.0f} s, peak RSS {result['peak_rss_gib']} GiB")
    out = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
        },
        "runs": runs,
    }
    done = sorted((int(k), v) for k, v in runs.items() if not v.get("error"))
    if len(done) >= 2:
        (r1, a), (r2, b) = done[0], done[-1]
        out["growth"] = {
            "rows_ratio": round(r2 / r1, 2),
            "time_ratio": round(b["total_seconds"] / a["total_seconds"], 2),
            "target": "10x the rows within 11x the time",
        }
        print(f"growth: {r2 / r1:.1f}x rows took {out['growth']['time_ratio']}x the time")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
