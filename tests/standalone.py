"""A Spark standalone cluster on loopback (one master, one worker) for cluster-mode tests.

Uses ``spark-class`` from the pyspark install: no download, no extra service.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyspark

from telcoseg.session import HUGE_METHODS

SPARK_HOME = Path(pyspark.__file__).parent
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SPARK_HOME=str(SPARK_HOME),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_LOCAL_DIRS=str(work / "local"),
        SPARK_WORKER_DIR=str(work / "worker"),
        SPARK_LOG_DIR=str(work / "logs"),
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
    )
    return env


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    raise RuntimeError(f"{text!r} not seen in {log}:\n{log.read_text(errors='replace')[-3000:]}")


@contextmanager
def standalone_cluster(work: Path, cores: int = 2, memory: str = "3g") -> Iterator[str]:
    """Start master and worker on 127.0.0.1, yield the master URL, stop both."""
    work.mkdir(parents=True, exist_ok=True)
    env = _env(work)
    port, ui, wui = free_port(), free_port(), free_port()
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    master_log, worker_log = work / "master.log", work / "worker.log"
    url = f"spark://127.0.0.1:{port}"
    with open(master_log, "wb") as mlog:
        master = subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(ui)],
            env=env, stdout=mlog, stderr=subprocess.STDOUT,
        )  # fmt: skip
    procs = [master]
    try:
        _wait_for(master_log, "I have been elected leader", master, 90)
        with open(worker_log, "wb") as wlog:
            worker = subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.worker.Worker", url, "--host",
                 "127.0.0.1", "--cores", str(cores), "--memory", memory,
                 "--webui-port", str(wui), "--work-dir", str(work / "worker")],
                env=env, stdout=wlog, stderr=subprocess.STDOUT,
            )  # fmt: skip
        procs.append(worker)
        _wait_for(worker_log, "Successfully registered with master", worker, 90)
        yield url
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def package_zip(dest: Path) -> Path:
    """The telcoseg package as a zip for ``--py-files`` (what a cluster user ships)."""
    out = dest / "telcoseg.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for f in (REPO / "lib").rglob("*.py"):
            z.write(f, f.relative_to(REPO / "lib"))
    return out


def spark_submit(
    master: str, work: Path, job: str, args: Sequence[str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run ``jobs/<job>`` with spark-submit against ``master``; output captured."""
    env = _env(work)
    cmd = [
        str(SPARK_HOME / "bin" / "spark-submit"),
        "--master", master,
        "--py-files", str(package_zip(work)),
        "--driver-memory", "2g",
        "--executor-memory", "2g",
        "--conf", "spark.sql.session.timeZone=UTC",
        "--conf", "spark.sql.shuffle.partitions=4",
        # As the README's command: let the JIT compile Spark's large generated methods.
        "--conf", f"spark.driver.extraJavaOptions={HUGE_METHODS}",
        "--conf", f"spark.executor.extraJavaOptions={HUGE_METHODS}",
        "--conf", f"spark.pyspark.python={sys.executable}",
        str(REPO / "jobs" / job),
        *args,
    ]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
