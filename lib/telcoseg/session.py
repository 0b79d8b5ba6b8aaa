"""The one place a SparkSession comes from.

Local runs (the default) get a session tuned for a laptop. Under spark-submit or a
Databricks-style job the session that exists is used as it is: telcoseg changes none of
its settings, it only checks the one it depends on (a UTC session time zone).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pyspark.sql import DataFrame, SparkSession

from telcoseg.config import SparkSettings
from telcoseg.errors import ConfigError

log = logging.getLogger(__name__)

_UTC_NAMES = {"UTC", "ETC/UTC", "GMT", "ETC/GMT", "Z", "+00:00", "UTC+00:00", "ZULU"}

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"


# -XX:-DontCompileHugeMethods: Spark generates one Java method per fused stage, and the
# JIT leaves a method of more than 8,000 bytecodes interpreted. A wide projection passes
# that size: the silver CDR validation (~30 rules over ~30 columns) took 21.2 s on 2.27M
# rows interpreted and 9.4 s compiled. Cluster runs pass the same option (README,
# "spark-submit on a cluster"; the Databricks export's job cluster).
HUGE_METHODS = "-XX:-DontCompileHugeMethods"
JVM_OPTIONS = f"-Duser.timezone=UTC {HUGE_METHODS}"


def _launched_by_spark_submit() -> bool:
    # spark-submit starts the Python driver with a ready JVM gateway.
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_spark(settings: SparkSettings | None = None) -> SparkSession:
    """Return the active session, the one spark-submit prepared, or a new local one."""
    active = SparkSession.getActiveSession()
    if active is not None:
        check_session(active)
        return active
    if _launched_by_spark_submit():
        spark = SparkSession.builder.getOrCreate()
        check_session(spark)
        return spark
    return build_local_session(settings or SparkSettings())


def build_local_session(s: SparkSettings) -> SparkSession:
    """A local session: AQE, UTC, few shuffle partitions, driver memory from config."""
    # Executors (Python workers) must use this interpreter, which has the dependencies.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(s.master)
        .appName(s.app_name)
        .config("spark.driver.memory", s.driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.adaptive.coalescePartitions.enabled", "true")
        .config("spark.sql.adaptive.advisoryPartitionSizeInBytes", s.advisory_partition_size)
        .config("spark.sql.adaptive.skewJoin.enabled", "true")
        .config("spark.sql.shuffle.partitions", str(s.shuffle_partitions))
        .config("spark.sql.files.maxPartitionBytes", s.max_partition_bytes)
        # Every sort and hash aggregation takes at least one page as it starts, and the
        # features' reduce stage chains about twenty of them per task: on 2M records the
        # stage's tasks reserved 13.4 GB of pages to hold a few hundred MB. With 1 MB
        # pages instead of Spark's 64 MB the same features took 20% less time, measured
        # side by side (benchmarks/HISTORY.md, bench_features.py --page-size).
        .config("spark.buffer.pageSize", s.page_size)
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", str(s.ui_enabled).lower())
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
        .config("spark.driver.extraJavaOptions", JVM_OPTIONS)
        .config("spark.executor.extraJavaOptions", JVM_OPTIONS)
    )
    for key, value in s.extra.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(s.log_level)
    log.info(
        "local Spark %s master=%s driver_memory=%s shuffle_partitions=%s delta_native=%s",
        spark.version,
        s.master,
        s.driver_memory,
        s.shuffle_partitions,
        has_delta_extension(spark),
    )
    return spark


def check_session(spark: SparkSession) -> None:
    """Refuse a session whose time zone is not UTC: local dates and hours would shift."""
    tz = (spark.conf.get("spark.sql.session.timeZone") or "").upper()
    if tz not in _UTC_NAMES:
        raise ConfigError(
            f"spark.sql.session.timeZone is {tz!r}; telcoseg needs UTC (set "
            "--conf spark.sql.session.timeZone=UTC). Local time comes from the 'timezone' key "
            "of the telcoseg config instead."
        )


def has_delta_extension(spark: SparkSession) -> bool:
    """True when delta-spark's classes are loadable *and* the extension is configured."""
    configured = DELTA_EXTENSION in (spark.conf.get("spark.sql.extensions", "") or "")
    if not configured:
        return False
    jvm = spark.sparkContext._jvm
    if jvm is None:  # Spark Connect: trust the configuration
        return True
    return bool(jvm.org.apache.spark.util.Utils.classIsLoadable(DELTA_EXTENSION))


def for_iterative_fitting(df: DataFrame) -> DataFrame:
    """``df`` in at most one partition per core of the application.

    Tree ensembles run a Spark job per tree level, each a task per input partition plus a
    reduce of per-partition histograms. Training rows joined with 80 shuffle partitions
    (the setting a 100M-row CDR table wants) spent nearly all their time on per-task
    overhead: one outcome's search took 600 s on 264k rows in 80 partitions, 127 s in 2.
    More partitions than cores add tasks, not parallelism; a coalesce (no shuffle) only
    groups the input partitions.
    """
    try:
        cores = df.sparkSession.sparkContext.defaultParallelism
    except Exception:  # Spark Connect has no SparkContext: leave the partitioning as is
        return df
    return df.coalesce(max(1, int(cores)))


@contextmanager
def session_conf(spark: SparkSession, wanted: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) session settings; restore them afterwards."""
    before = {k: spark.conf.get(k, None) for k in wanted}
    for k, v in wanted.items():
        if v is None:
            spark.conf.unset(k)
        else:
            spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, old in before.items():
            if old is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, old)
