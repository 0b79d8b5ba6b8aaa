"""The demo: the whole workflow on generated data, on one machine, with a local key."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from pyspark.sql import SparkSession

from telcoseg.config import Config
from telcoseg.workflow import runner

log = logging.getLogger(__name__)


def ensure_demo_key() -> None:
    """Use the configured key if there is one; else a local key file outside the repo.

    Must run before the Spark session starts: Python workers inherit the environment of
    the JVM that launches them.
    """
    from telcoseg.ingest.hmac_key import ensure_demo_key_file
    from telcoseg.ingest.settings import DEFAULT_KEY_FILE_ENV

    if os.environ.get("TELCOSEG_HMAC_KEY") or os.environ.get(DEFAULT_KEY_FILE_ENV):
        return
    path = ensure_demo_key_file(None)
    os.environ[DEFAULT_KEY_FILE_ENV] = str(path)
    log.info("demo: using the local key file %s (owner-only); set %s to use yours",
             path, DEFAULT_KEY_FILE_ENV)  # fmt: skip


def add_args(parser: argparse.ArgumentParser) -> None:
    runner.add_args(parser)


def run(spark: SparkSession, cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    result = runner.run(spark, cfg, args)
    report_dir = os.path.join(cfg.paths.artifacts, "report")
    log.info("demo finished: tables under %s, report in %s", cfg.paths.lake, report_dir)
    return result
