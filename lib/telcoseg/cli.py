"""Shared entry-point plumbing for ``jobs/*.py``: arguments, config, session, exit codes."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pyspark.sql import SparkSession

from telcoseg.config import Config, load_config
from telcoseg.errors import TelcosegError
from telcoseg.logs import configure_logging
from telcoseg.session import get_spark

log = logging.getLogger("telcoseg.job")

JobFn = Callable[[SparkSession, Config, argparse.Namespace], Any]
AddArgs = Callable[[argparse.ArgumentParser], None]


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--conf", help="YAML config (default conf/telcoseg.yaml or $TELCOSEG_CONF)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set paths.root=/tmp/run (repeatable)",
    )
    p.add_argument("--log-level", default="INFO")
    return p


def snapshot_date(text: str) -> dt.date:
    """argparse type for ``--snapshot-date YYYY-MM-DD``."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def run_job(
    name: str,
    job: JobFn,
    add_args: AddArgs | None = None,
    argv: Sequence[str] | None = None,
    spark: SparkSession | None = None,
) -> int:
    """Run ``job`` and turn its outcome into an exit code (0 success, 1 failure, 2 usage).

    A :class:`TelcosegError` is reported as one clear line; anything else with a traceback.
    """
    parser = base_parser(f"telcoseg {name}")
    if add_args:
        add_args(parser)
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        cfg = load_config(args.conf, args.set)
        session = spark or get_spark(cfg.spark)
        result = job(session, cfg, args)
    except TelcosegError as exc:
        log.error("%s failed: %s", name, exc)
        return 1
    except Exception:
        log.exception("%s failed with an unexpected error", name)
        return 1
    if result is not None:
        log.info("%s result: %s", name, json.dumps(result, default=str, sort_keys=True))
    log.info("%s succeeded", name)
    return 0


def main(name: str, job: JobFn, add_args: AddArgs | None = None) -> None:
    """``sys.exit(run_job(...))`` for ``if __name__ == "__main__"`` blocks."""
    sys.exit(run_job(name, job, add_args))
