"""The workflow definition (``conf/workflow.yaml``): tasks in order with their parameters."""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from telcoseg.config import build
from telcoseg.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]
DEFAULT_WORKFLOW = REPO / "conf" / "workflow.yaml"


@dataclass(frozen=True)
class JobRef:
    """A job: its spark-submit entry point, and the functions the runner calls in-process.

    ``run`` and ``add_args`` are ``module:function`` (or ``jobs/x.py:function`` for an
    entry point that defines them itself).
    """

    entry: str
    run: str
    add_args: str | None


# The entry point under jobs/ is what spark-submit and a Databricks task run; the local
# runner calls the same functions in-process, so the two cannot drift apart.
JOBS: dict[str, JobRef] = {
    "generate": JobRef(
        "jobs/generate.py", "telcoseg.generator.job:run", "telcoseg.generator.job:add_args"
    ),
    "ingest": JobRef("jobs/ingest.py", "jobs/ingest.py:job", None),
    "features": JobRef(
        "jobs/features.py", "telcoseg.features.job:run", "telcoseg.features.job:add_args"
    ),
    "segment_train": JobRef(
        "jobs/segment_train.py",
        "telcoseg.segmentation.jobs:run_train",
        "telcoseg.segmentation.jobs:train_add_args",
    ),
    "segment_assign": JobRef(
        "jobs/segment_assign.py",
        "telcoseg.segmentation.jobs:run_assign",
        "telcoseg.segmentation.jobs:assign_add_args",
    ),
    "segment_migration": JobRef(
        "jobs/segment_migration.py",
        "telcoseg.segmentation.jobs:run_migration",
        "telcoseg.segmentation.jobs:migration_add_args",
    ),
    "propensity_train": JobRef(
        "jobs/propensity_train.py",
        "telcoseg.propensity.jobs:train_job",
        "telcoseg.propensity.jobs:add_train_args",
    ),
    "propensity_score": JobRef(
        "jobs/propensity_score.py",
        "telcoseg.propensity.jobs:score_job",
        "telcoseg.propensity.jobs:add_score_args",
    ),
    "fraud": JobRef("jobs/fraud.py", "telcoseg.fraud.job:run", "telcoseg.fraud.job:add_args"),
    "campaigns": JobRef(
        "jobs/campaigns.py", "telcoseg.campaigns.job:run", "telcoseg.campaigns.job:add_args"
    ),
    "report": JobRef("jobs/report.py", "jobs/report.py:run", "jobs/report.py:add_args"),
    "maintain": JobRef(
        "jobs/maintain.py", "telcoseg.maintenance.job:run", "telcoseg.maintenance.job:add_args"
    ),
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


def _resolve(ref: str) -> Callable[..., Any]:
    target, func = ref.rsplit(":", 1)
    if target.endswith(".py"):
        path = REPO / target
        spec = importlib.util.spec_from_file_location(f"telcoseg_job_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"cannot load job entry point {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    return getattr(module, func)


def job_functions(job: str) -> tuple[Callable[..., Any], Callable[..., Any] | None]:
    """``run`` and ``add_args`` of a job, imported on demand."""
    ref = JOBS[job]
    return _resolve(ref.run), (_resolve(ref.add_args) if ref.add_args else None)


def jsonable_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}
