"""Where ingestion's tables live and what they hold (besides silver, see telcoseg.schemas).

* ``bronze/<source>``: rows as read, all contract columns as strings, plus ``source_file``
  (relative to the landing root), the row's position in it (:data:`POSITION`),
  ``read_time`` and ``ingest_run_id`` (partition). Holds phone numbers: the only layer
  that does.
* ``bronze/quarantine``: rows that broke a rule, with the row as read (JSON): also raw
  numbers, so it stays in bronze.
* ``bronze/number_lookup``: each raw number a run parsed, with its attributes and
  pseudonym, tagged with the key and number plan it was parsed under
  (:func:`telcoseg.ingest.phones.plan_tag`); later runs parse only numbers it lacks.
  Raw numbers again: bronze.
* ``ops/ingest_log``: one row per file and layer that a run ingested; a file is new to a
  layer while its identity (path + size + mtime) has no row for that layer.
* ``ops/ingest_runs``: one row per run, layer and source with the four counts.
"""

from __future__ import annotations

from pyspark.sql import types as T

from telcoseg.config import Config
from telcoseg.ingest.contract import SOURCES

# Ordered by these two, the rows of one file come in file order (landing.file_position).
POSITION = ("file_split", "file_row")

QUARANTINE = T.StructType(
    [
        T.StructField("source", T.StringType(), False),
        T.StructField("source_file", T.StringType()),
        T.StructField("ingest_run_id", T.StringType(), False),
        T.StructField("reason", T.StringType(), False),  # a code of schemas.REASON_CODES
        T.StructField("field", T.StringType()),  # the column that broke the rule
        T.StructField("raw", T.StringType(), False),  # JSON of the row as read
    ]
)

INGEST_LOG = T.StructType(
    [
        T.StructField("file_key", T.StringType(), False),  # path|size|mtime_ms
        T.StructField("layer", T.StringType(), False),  # bronze | silver
        T.StructField("source", T.StringType(), False),
        T.StructField("path", T.StringType(), False),  # relative to the landing root
        T.StructField("size_bytes", T.LongType(), False),
        T.StructField("mtime_ms", T.LongType(), False),
        T.StructField("rows", T.LongType(), False),
        T.StructField("bronze_run_id", T.StringType(), False),  # the run that read the file
        T.StructField("ingest_run_id", T.StringType(), False),
        T.StructField("ingested_at", T.TimestampType(), False),
    ]
)

INGEST_RUNS = T.StructType(
    [
        T.StructField("ingest_run_id", T.StringType(), False),
        T.StructField("layer", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("files", T.LongType(), False),
        T.StructField("rows_read", T.LongType(), False),
        T.StructField("rows_accepted", T.LongType(), False),
        T.StructField("rows_quarantined", T.LongType(), False),
        T.StructField("duplicates_collapsed", T.LongType(), False),
        # The batch's distinct numbers (parsed now or found in bronze/number_lookup).
        T.StructField("distinct_numbers", T.LongType()),
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("finished_at", T.TimestampType(), False),
    ]
)


def bronze_schema(source: str) -> T.StructType:
    return T.StructType(
        [T.StructField(c, T.StringType()) for c in SOURCES[source].columns]
        + [
            T.StructField("source_file", T.StringType()),
            T.StructField("file_split", T.LongType()),
            T.StructField("file_row", T.LongType()),
            T.StructField("read_time", T.TimestampType()),
            T.StructField("ingest_run_id", T.StringType()),
        ]
    )


def bronze_path(cfg: Config, source: str) -> str:
    return cfg.paths.table("bronze", source)


def silver_path(cfg: Config, source: str) -> str:
    return cfg.paths.table("silver", source)


def quarantine_path(cfg: Config) -> str:
    return cfg.paths.table("bronze", "quarantine")


def numbers_path(cfg: Config) -> str:
    return cfg.paths.table("bronze", "number_lookup")


def log_path(cfg: Config) -> str:
    return cfg.paths.table("ops", "ingest_log")


def runs_path(cfg: Config) -> str:
    return cfg.paths.table("ops", "ingest_runs")
