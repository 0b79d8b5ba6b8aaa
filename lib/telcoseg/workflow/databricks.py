"""Export the workflow as a Databricks Asset Bundle job (``databricks.yml``).

Each task becomes a ``spark_python_task`` running the same ``jobs/*.py`` entry point with
the same parameters as the local runner; the snapshot date becomes a job parameter
(default: the day the run starts) so scheduled runs featurize "today".
"""

from __future__ import annotations

from typing import Any

import yaml

from telcoseg.session import HUGE_METHODS
from telcoseg.workflow.spec import JOBS, WorkflowSpec, task_argv

SNAPSHOT_PARAM = "{{job.parameters.snapshot_date}}"


def bundle(
    wf: WorkflowSpec,
    wheel: str = "./dist/*.whl",
    conf: str = "${workspace.file_path}/conf/telcoseg.yaml",
    node_type: str = "i3.xlarge",
    workers: int = 2,
    spark_version: str = "17.3.x-scala2.13",
) -> dict[str, Any]:
    """The bundle as a dict; :func:`to_yaml` renders it."""
    key = wf.name.replace("-", "_")
    tasks = []
    for t in wf.tasks:
        entry = JOBS[t.job].entry
        task: dict[str, Any] = {
            "task_key": t.name,
            "job_cluster_key": "telcoseg",
            "spark_python_task": {
                "python_file": f"${{workspace.file_path}}/{entry}",
                "parameters": ["--conf", conf, *task_argv(t, SNAPSHOT_PARAM)],
            },
            "libraries": [{"whl": wheel}],
            "max_retries": t.max_retries,
            "min_retry_interval_millis": int(t.retry_delay_s * 1000),
            "retry_on_timeout": False,
        }
        if t.depends_on:
            task["depends_on"] = [{"task_key": d} for d in t.depends_on]
        tasks.append(task)
    return {
        "bundle": {"name": "telcoseg"},
        "include": [],
        "resources": {
            "jobs": {
                key: {
                    "name": wf.name,
                    "parameters": [
                        {"name": "snapshot_date", "default": "{{job.start_time.iso_date}}"}
                    ],
                    "schedule": {
                        "quartz_cron_expression": wf.schedule.quartz_cron,
                        "timezone_id": wf.schedule.timezone,
                        "pause_status": "PAUSED" if wf.schedule.paused else "UNPAUSED",
                    },
                    "max_concurrent_runs": 1,
                    "job_clusters": [
                        {
                            "job_cluster_key": "telcoseg",
                            "new_cluster": {
                                "spark_version": spark_version,
                                "node_type_id": node_type,
                                "num_workers": workers,
                                "spark_conf": {
                                    "spark.sql.session.timeZone": "UTC",
                                    # JIT-compile Spark's large generated methods
                                    # (telcoseg.session.JVM_OPTIONS says why).
                                    "spark.driver.extraJavaOptions": HUGE_METHODS,
                                    "spark.executor.extraJavaOptions": HUGE_METHODS,
                                },
                            },
                        }
                    ],
                    "tasks": tasks,
                }
            }
        },
        "targets": {"dev": {"mode": "development", "default": True}},
    }


def to_yaml(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, width=100)
