"""The whole workflow at scale: per-stage time, rows/s and peak memory.

    python benchmarks/bench_pipeline.py --rows 10000000 [--rows 100000000] [--root DIR]

For each size it generates a landing zone of about ``--rows`` CDR rows (the demo's 42
days and dates, more subscribers), runs ``conf/workflow.yaml`` on it with the local
runner in this process, and records per task: seconds, CDR rows per second (rows of the
run / task seconds, so stages compare on one scale) and the peak memory of the whole
process tree (driver, JVM, Python workers) while the task ran: PSS, the real footprint,
and the RSS sum, which counts pages the forked Python workers share once per worker. Writes
``benchmarks/results/pipeline.json`` (every size measured so far) after every task, so a
run cut short keeps what it measured, and prints a table plus how time grows with size.
``--resume`` continues a size whose run was cut short: it keeps the work folder and the
recorded tasks and runs only the rest (the result says ``resumed``). Not part of the test
run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import shutil
import threading
from collections.abc import Callable
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


def _tree(root_pid: int) -> dict[int, int]:
    """pid -> RSS bytes of ``root_pid`` and all its descendants (from /proc/*/stat)."""
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
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * PAGE
    out, todo = {}, [root_pid]
    while todo:
        pid = todo.pop()
        out[pid] = rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return out


def tree_pss_bytes(pids: list[int]) -> int:
    """PSS summed over ``pids``: each page shared by the forked Python workers is split
    between its sharers, so the sum is the tree's real footprint (an RSS sum counts a
    shared page once per worker and can exceed physical memory). Reading smaps_rollup of
    a 15 GB JVM takes ~0.1 s, so it is sampled less often than RSS."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += sum(int(x.split()[1]) * 1024 for x in f if x.startswith("Pss:"))
        except OSError:
            continue
    return total


class PeakMemory:
    """Samples the process tree's RSS sum every ``interval`` s and its PSS every
    ``pss_every`` samples; ``take()`` returns the peaks since the last call and resets."""

    def __init__(self, interval: float = 0.5, pss_every: int = 4) -> None:
        self.interval, self.pss_every = interval, pss_every
        self.peak_rss = self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me, n = os.getpid(), 0
        while not self._stop.is_set():
            tree = _tree(me)
            self.peak_rss = max(self.peak_rss, sum(tree.values()))
            if n % self.pss_every == 0:
                self.peak_pss = max(self.peak_pss, tree_pss_bytes(list(tree)))
            n += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def take(self) -> dict[str, float]:
        peaks = {
            "peak_rss_gib": round(self.peak_rss / 2**30, 2),
            "peak_pss_gib": round(self.peak_pss / 2**30, 2),
        }
        self.peak_rss = self.peak_pss = 0
        return peaks


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


def shuffle_partitions_for(rows: int) -> int:
    """The config's 8 up to 10M rows, then 8 per 10M: keeps a shuffle partition of the CDR
    table near 150-200 MB so 100M rows do not sort 1.5 GB per task (AQE still coalesces
    the small shuffles of later stages)."""
    return max(8, round(8 * rows / 10_000_000))


def size_config(rows: int, root: Path, driver_memory: str) -> tuple[Any, dict[str, Any]]:
    """The config of one size (and the overrides that make it from conf/telcoseg.yaml)."""
    overrides: dict[str, Any] = {
        "paths.root": str(root),
        "spark.driver_memory": driver_memory,
        "spark.shuffle_partitions": shuffle_partitions_for(rows),
    }
    cfg0 = load_config(REPO / "conf" / "telcoseg.yaml", overrides)
    days = cfg0.section("generator").days
    overrides["generator.subscribers"] = subscribers_for(rows, days)
    return load_config(REPO / "conf" / "telcoseg.yaml", overrides), overrides


def rerun_tasks(rows: int, root: Path, driver_memory: str, tasks: list[str], out: Path) -> None:
    """Run ``tasks`` again, in workflow order, on the lake a finished run of ``rows`` left
    in ``root`` (to re-measure stages after a change); writes their times to ``out``."""
    cfg, _ = size_config(rows, root, driver_memory)
    wf = load_workflow(str(REPO / "conf" / "workflow.yaml"))
    unknown = set(tasks) - {t.name for t in wf.tasks}
    if unknown:
        raise SystemExit(f"unknown task(s): {sorted(unknown)}")
    spark = build_local_session(cfg.spark)
    stages = []
    with PeakMemory() as mem:
        for task in (t for t in wf.tasks if t.name in tasks):
            res = run_workflow(spark, cfg, wf, only=[task.name], force=True)[0]
            stages.append({"task": task.name, "status": res.status,
                           "seconds": round(res.seconds, 1), **mem.take(),
                           "metrics": res.metrics})  # fmt: skip
            print(f"  {task.name:<22} {res.seconds:8.1f} s", flush=True)
            out.write_text(json.dumps({"rows": rows, "root": str(root), "stages": stages,
                                       "load_average_1m": round(os.getloadavg()[0], 1)},
                                      indent=2, default=str) + "\n")  # fmt: skip
    spark.stop()
    print(f"wrote {out}")


def run_size(
    rows: int,
    root: Path,
    driver_memory: str,
    save: Callable[[dict[str, Any]], None],
    done: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run the workflow task by task; ``save`` gets the partial result after each task.
    ``done``: stages of an earlier, cut-short run of this size to keep rather than re-run."""
    cfg, overrides = size_config(rows, root, driver_memory)
    wf = load_workflow(str(REPO / "conf" / "workflow.yaml"))
    spark = build_local_session(cfg.spark)
    kept = {s["task"]: s for s in done or [] if s.get("status") == "succeeded"}
    stages: list[dict[str, Any]] = []
    error = None
    result: dict[str, Any] = {
        "target_rows": rows,
        "subscribers": overrides["generator.subscribers"],
        "shuffle_partitions": overrides["spark.shuffle_partitions"],
        "driver_memory": driver_memory,
        "complete": False,
        "resumed": bool(kept),
        "stages": stages,
    }
    with PeakMemory() as mem:
        failed: set[str] = set()
        for task in wf.tasks:
            if task.name in kept:
                stages.append(kept[task.name])
                continue
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
            else:
                stages.append(
                    {
                        "task": task.name,
                        "status": res.status,
                        "seconds": round(res.seconds, 1),
                        **mem.take(),
                        "metrics": res.metrics,
                    }
                )
                print(f"  {task.name:<22} {res.seconds:8.1f} s", flush=True)
            save(_summarise(result, error))
    spark.stop()
    result["complete"] = True
    return _summarise(result, error)


def _summarise(result: dict[str, Any], error: str | None) -> dict[str, Any]:
    """Totals over the stages so far (total = sum of task times, so a resumed run adds up
    the same way as one that ran straight through)."""
    stages = result["stages"]
    cdr_rows = _cdr_rows(stages)
    for s in stages:
        if s.get("seconds"):
            s["cdr_rows_per_s"] = round(cdr_rows / s["seconds"]) if cdr_rows else None
    result["cdr_rows_read"] = cdr_rows
    result["total_seconds"] = round(sum(s.get("seconds") or 0 for s in stages), 1)
    for key in ("peak_rss_gib", "peak_pss_gib"):
        result[key] = max((s.get(key, 0) for s in stages), default=0)
    result["error"] = error
    return result


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
    ap.add_argument("--resume", action="store_true", help="continue a size cut short")
    ap.add_argument(
        "--rerun",
        action="append",
        metavar="TASK",
        help="with --root of a finished run: run only these tasks again (repeatable) and "
        "write their times to --rerun-results; pipeline.json is left as it is",
    )
    ap.add_argument("--rerun-results", type=Path, default=RESULTS.with_name("pipeline_rerun.json"))
    args = ap.parse_args()
    configure_logging()
    ensure_demo_key()
    sizes = args.rows or [10_000_000]
    if args.rerun:
        if not args.root or len(sizes) != 1:
            raise SystemExit("--rerun needs --root and one --rows")
        rerun_tasks(sizes[0], Path(args.root), args.driver_memory, args.rerun, args.rerun_results)
        return
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": {}}
    runs = previous.get("runs", {})
    for rows in sizes:
        root = Path(args.root or f"/tmp/telcoseg-bench-pipeline-{rows}")
        earlier = runs.get(str(rows), {})
        resume = args.resume and not earlier.get("complete", True) and root.exists()
        if not resume:
            shutil.rmtree(root, ignore_errors=True)
        print(
            f"pipeline at {rows:,} CDR rows -> {root}{' (resumed)' if resume else ''}", flush=True
        )

        def save(result: dict[str, Any], rows: int = rows) -> None:
            result["load_average_1m"] = round(os.getloadavg()[0], 1)
            runs[str(rows)] = result
            _write(runs)

        result = run_size(
            rows, root, args.driver_memory, save, earlier.get("stages") if resume else None
        )
        save(result)
        if not args.root:
            shutil.rmtree(root, ignore_errors=True)
        print(
            f"  total {result['total_seconds']:.0f} s, peak PSS {result['peak_pss_gib']} GiB "
            f"(RSS summed {result['peak_rss_gib']} GiB)"
        )
    print(f"wrote {RESULTS}")


def _write(runs: dict[str, Any]) -> None:
    out: dict[str, Any] = {
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "runs": runs,
    }
    # Growth between consecutive complete sizes (the target: 10x the rows within 11x the time).
    done = sorted(
        (int(k), v) for k, v in runs.items() if v.get("complete", True) and not v.get("error")
    )
    out["growth"] = [
        {
            "from_rows": r1,
            "to_rows": r2,
            "rows_ratio": round(r2 / r1, 2),
            "time_ratio": round(b["total_seconds"] / a["total_seconds"], 2),
        }
        for (r1, a), (r2, b) in itertools.pairwise(done)
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
