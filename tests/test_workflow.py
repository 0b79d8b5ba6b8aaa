"""The local workflow runner and the Databricks export."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession

from telcoseg.config import from_dict
from telcoseg.errors import ConfigError, TelcosegError
from telcoseg.io import delta
from telcoseg.workflow import databricks
from telcoseg.workflow.runner import WorkflowError, run_workflow
from telcoseg.workflow.spec import JOBS, JobRef, load_workflow, task_argv

REPO = Path(__file__).resolve().parents[1]


def test_every_registered_job_resolves_to_functions_and_an_entry_point() -> None:
    from telcoseg.workflow.spec import job_functions

    for name, ref in JOBS.items():
        run, add_args = job_functions(name)
        assert callable(run) and (add_args is None or callable(add_args)), name
        assert (REPO / ref.entry).is_file(), ref.entry


SNAP = dt.date(2026, 3, 28)


@pytest.fixture()
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(JOBS, "toy", JobRef("jobs/toy.py", "toyjobs:run", "toyjobs:add_args"))


def workflow_file(tmp_path: Path, fail_times: int, retries: int) -> Path:
    spec = {
        "name": "toy-flow",
        "snapshot_date": SNAP.isoformat(),
        "tasks": [
            {
                "name": "make",
                "job": "toy",
                "params": {
                    "snapshot_date": "{snapshot_date}",
                    "fail_times": fail_times,
                    "counter": str(tmp_path / "calls"),
                },
                "max_retries": retries,
                "retry_delay_s": 0,
                "outputs": ["gold/toy"],
            }
        ],
    }
    p = tmp_path / "wf.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


def status_rows(spark: SparkSession, cfg) -> list[tuple[str, str, int]]:
    df = delta.read_table(spark, cfg.paths.table("ops", "workflow_runs"))
    return [(r.task, r.status, r.attempts) for r in df.orderBy("started_at").collect()]


def test_retries_then_skips_done_tasks_unless_forced(
    spark: SparkSession, tmp_path: Path, toy: None
) -> None:
    cfg = from_dict({"paths": {"root": str(tmp_path / "data")}})
    wf = load_workflow(workflow_file(tmp_path, fail_times=1, retries=2))
    first = run_workflow(spark, cfg, wf)
    assert [(r.task, r.status, r.attempts) for r in first] == [("make", "succeeded", 2)]
    assert first[0].metrics == {"rows": 5}
    second = run_workflow(spark, cfg, wf)
    assert [(r.task, r.status) for r in second] == [("make", "skipped")]
    assert (tmp_path / "calls").read_text() == "2"  # the skipped run did not call the job
    forced = run_workflow(spark, cfg, wf, force=True)
    assert [(r.task, r.status) for r in forced] == [("make", "succeeded")]
    assert status_rows(spark, cfg) == [
        ("make", "succeeded", 2),
        ("make", "skipped", 0),
        ("make", "succeeded", 1),
    ]
    # A new snapshot date is not done yet.
    other = run_workflow(spark, cfg, wf, snapshot_date=dt.date(2026, 4, 4))
    assert other[0].status == "succeeded"


def test_failure_after_retries_fails_the_workflow_with_a_clear_error(
    spark: SparkSession, tmp_path: Path, toy: None
) -> None:
    cfg = from_dict({"paths": {"root": str(tmp_path / "data")}})
    wf = load_workflow(workflow_file(tmp_path, fail_times=5, retries=1))
    with pytest.raises(WorkflowError, match="make: transient failure 2"):
        run_workflow(spark, cfg, wf)
    assert status_rows(spark, cfg) == [("make", "failed", 2)]


def test_a_failed_task_skips_its_dependents_but_not_the_independent_tasks(
    spark: SparkSession, tmp_path: Path, toy: None
) -> None:
    def task(name: str, fail_times: int, depends_on: list[str]) -> dict:
        return {
            "name": name,
            "job": "toy",
            "params": {
                "snapshot_date": "{snapshot_date}",
                "fail_times": fail_times,
                "counter": str(tmp_path / f"calls-{name}"),
            },
            "depends_on": depends_on,
            "max_retries": 0,
        }

    spec = {
        "name": "dag",
        "snapshot_date": SNAP.isoformat(),
        "tasks": [
            task("broken", 9, []),
            task("needs_broken", 0, ["broken"]),
            task("independent", 0, []),
            task("needs_needs_broken", 0, ["needs_broken", "independent"]),
        ],
    }
    path = tmp_path / "dag.yaml"
    path.write_text(yaml.safe_dump(spec))
    cfg = from_dict({"paths": {"root": str(tmp_path / "data")}})
    with pytest.raises(WorkflowError) as caught:
        run_workflow(spark, cfg, load_workflow(path))
    assert "broken: transient failure 1" in str(caught.value)
    assert "not run (upstream failed): needs_broken, needs_needs_broken" in str(caught.value)
    assert [(r.task, r.status) for r in caught.value.results] == [
        ("broken", "failed"),
        ("needs_broken", "upstream_failed"),
        ("independent", "succeeded"),
        ("needs_needs_broken", "upstream_failed"),
    ]
    assert not (tmp_path / "calls-needs_broken").exists()  # never called
    assert (tmp_path / "calls-independent").read_text() == "1"
    assert [s for _, s, _ in status_rows(spark, cfg)] == [
        "failed",
        "upstream_failed",
        "succeeded",
        "upstream_failed",
    ]


def test_workflow_validation_names_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nsnapshot_date: 2026-03-28\ntasks:\n"
        "  - {name: a, job: features, depends_on: [b]}\n  - {name: b, job: ingest}\n"
    )
    with pytest.raises(ConfigError, match=r"tasks\[0\] \(a\): depends on 'b'"):
        load_workflow(bad)
    bad.write_text("name: x\nsnapshot_date: 2026-03-28\ntasks:\n  - {name: a, job: nope}\n")
    with pytest.raises(ConfigError, match="unknown job 'nope'"):
        load_workflow(bad)
    assert issubclass(ConfigError, TelcosegError)


def test_databricks_bundle_matches_the_workflow() -> None:
    wf = load_workflow(REPO / "conf" / "workflow.yaml")
    doc = yaml.safe_load(databricks.to_yaml(databricks.bundle(wf)))
    (job,) = doc["resources"]["jobs"].values()
    assert [t["task_key"] for t in job["tasks"]] == [t.name for t in wf.tasks]
    for task, spec in zip(job["tasks"], wf.tasks, strict=True):
        entry = task["spark_python_task"]["python_file"].replace("${workspace.file_path}/", "")
        assert (REPO / entry).is_file(), entry
        assert entry == JOBS[spec.job].entry
        params = task["spark_python_task"]["parameters"]
        assert params[:2] == ["--conf", "${workspace.file_path}/conf/telcoseg.yaml"]
        assert params[2:] == task_argv(spec, "{{job.parameters.snapshot_date}}")
        assert [d["task_key"] for d in task.get("depends_on", [])] == list(spec.depends_on)
        assert task["max_retries"] == spec.max_retries
    assert job["parameters"][0]["name"] == "snapshot_date"
    # The cluster runs the jobs as local sessions do: UTC, large generated methods compiled.
    (cluster,) = job["job_clusters"]
    conf = cluster["new_cluster"]["spark_conf"]
    assert conf["spark.sql.session.timeZone"] == "UTC"
    for side in ("driver", "executor"):
        assert "-XX:-DontCompileHugeMethods" in conf[f"spark.{side}.extraJavaOptions"]


def test_every_package_folder_is_a_regular_package() -> None:
    # A folder without __init__.py is left out of wheels and cannot be imported from the
    # --py-files zip a cluster run ships.
    lib = REPO / "lib" / "telcoseg"
    folders = [p for p in lib.rglob("*") if p.is_dir() and p.name != "__pycache__"]
    assert [str(p) for p in folders if not (p / "__init__.py").is_file()] == []
