"""One session-scoped local Spark for the whole test run; tables live under tmp_path."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from pyspark.sql import SparkSession

from reportworld import World, build_world
from telcoseg.config import SparkSettings
from telcoseg.session import build_local_session


@pytest.fixture(scope="session")
def spark_event_log_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Where the test session's Spark event log goes (tests grep it for leaked secrets)."""
    return str(tmp_path_factory.mktemp("spark-events"))


TEST_KEY = "test-key-not-secret-0123456789abcdef"


@pytest.fixture(scope="session")
def spark(spark_event_log_dir: str) -> Iterator[SparkSession]:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    # Python workers inherit the JVM's environment, fixed when the session starts: the
    # test key must be there before, or workers could not pseudonymize.
    os.environ.setdefault("TELCOSEG_HMAC_KEY", TEST_KEY)
    session = build_local_session(
        SparkSettings(
            master="local[2]",
            app_name="telcoseg-tests",
            driver_memory="3g",
            shuffle_partitions=2,
            extra={
                "spark.default.parallelism": "2",
                "spark.sql.adaptive.enabled": "false",
                "spark.eventLog.enabled": "true",
                "spark.eventLog.dir": spark_event_log_dir,
            },
        )
    )
    yield session
    session.stop()


@pytest.fixture()
def hmac_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A throwaway pseudonymization key in the environment, as a deployment would set it."""
    monkeypatch.setenv("TELCOSEG_HMAC_KEY", TEST_KEY)
    return TEST_KEY


@pytest.fixture(scope="session")
def report_world(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> World:
    """A small synthetic lake with the report built on it (report and notebook tests)."""
    return build_world(spark, tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="session")
def parity() -> ModuleType:
    """benchmarks/bandicoot_parity.py, the parity harness and its user generator (it
    imports bandicoot only when asked to run it)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bandicoot_parity.py"
    spec = importlib.util.spec_from_file_location("bandicoot_parity", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bandicoot_parity"] = module
    spec.loader.exec_module(module)
    return module
