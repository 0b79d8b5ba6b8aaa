"""The workflow definition (``conf/workflow.yaml``): tasks in order with their parameters."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from telcoseg.config import build
from telcoseg.errors import ConfigError

DEFAULT_WORKFLOW = Path(__file__).resolve().parents[3] / "conf" / "workflow.yaml"

# Job name -> (module with ``run(spark, cfg, args)`` and ``add_args(parser)``, entry point).
# The entry point under jobs/ is what spark-submit and a Databricks task run; the runner
# calls the same functions in-process.
JOBS: dict[str, tuple[str, str]] = {
    "generate": ("telcoseg.generator.job", "jobs/generate.py"),
    "ingest": ("telcoseg.ingest.job", "jobs/ingest.py"),
    "features": ("telcoseg.features.job", "jobs/features.py"),
    "segment_train": ("telcoseg.segmentation.jobs", "jobs/segment_train.py"),
    "segment_assign": ("telcoseg.segmentation.jobs", "jobs/segment_assign.py"),
    "propensity_train": ("telcoseg.propensity.jobs", "jobs/propensity_train.py"),
    "propensity_score": ("telcoseg.propensity.jobs", "jobs/propensity_score.py"),
}


@dataclass(frozen=True)
class TaskSpec:
    """One task: which job, its command-line parameters, and what it waits for."""

    name: str
    job: str
    params: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    max_retries: int = 1
    retry_delay_s: float = 5.0
    outputs: tuple[str, ...] = ()  # "layer/table" names whose snapshot partition proves done
    snapshot_scoped: bool = True  # outputs are partitioned by snapshot_date


@dataclass(frozen=True)
class ScheduleSpec:
    """When a scheduler runs the workflow (Quartz cron, as Databricks expects)."""

    quartz_cron: str = "0 0 3 * * ?"
    timezone: str = "UTC"
    paused: bool = True


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    snapshot_date: dt.date
    tasks: tuple[TaskSpec, ...]
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)

    def task(self, name: str) -> TaskSpec:
        for t in self.tasks:
            if t.name == name:
                return t
        raise ConfigError(f"workflow {self.name}: no task {name!r}")


def task_argv(task: TaskSpec, snapshot_date: dt.date | str) -> list[str]:
    """The task's parameters as command-line arguments (``{snapshot_date}`` filled in)."""
    snap = snapshot_date if isinstance(snapshot_date, str) else snapshot_date.isoformat()
    argv: list[str] = []
    for key, value in task.params.items():
        flag = "--" + key.replace("_", "-")
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if isinstance(v, bool):
                if v:
                    argv.append(flag)
                continue
            argv += [flag, str(v).format(snapshot_date=snap)]
    return argv


def load_workflow(path: str | Path | None = None) -> WorkflowSpec:
    """Read and validate a workflow file: known jobs, unique names, dependencies declared."""
    file = Path(path) if path else DEFAULT_WORKFLOW
    source = str(file)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read workflow file {source}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    spec = build(WorkflowSpec, data, source)
    seen: set[str] = set()
    for i, t in enumerate(spec.tasks):
        where = f"{source}: tasks[{i}] ({t.name})"
        if t.job not in JOBS:
            raise ConfigError(f"{where}: unknown job {t.job!r}; known: {sorted(JOBS)}")
        if t.name in seen:
            raise ConfigError(f"{where}: duplicate task name")
        for dep in t.depends_on:
            if dep not in seen:
                raise ConfigError(f"{where}: depends on {dep!r}, which is not an earlier task")
        seen.add(t.name)
    return spec


def job_functions(job: str) -> tuple[Callable[..., Any], Callable[..., Any] | None]:
    """``run`` and ``add_args`` of a job, imported on demand."""
    module_name, entry = JOBS[job]
    module = importlib.import_module(module_name)
    suffix = Path(entry).stem
    run = getattr(module, f"run_{suffix}", None) or module.run
    add_args = getattr(module, f"add_args_{suffix}", None) or getattr(module, "add_args", None)
    return run, add_args


def jsonable_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}
