"""Logging set-up and a per-stage timer: one log line per stage with counts and timing."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr once; quiet the chatty libraries (py4j, mlflow's alembic)."""
    root = logging.getLogger()
    if not any(getattr(h, "_telcoseg", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._telcoseg = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("py4j", "alembic", "urllib3", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Stage:
    """Counts collected while a stage runs; logged when it ends."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: dict[str, Any] = {}
        self.started = time.perf_counter()
        self.seconds = 0.0

    def count(self, **counts: Any) -> None:
        self.counts.update(counts)


@contextmanager
def stage(logger: logging.Logger, name: str) -> Iterator[Stage]:
    """Time a stage and log ``stage <name> done in Xs: k=v ...`` (or its failure)."""
    st = Stage(name)
    logger.info("stage %s started", name)
    try:
        yield st
    except Exception:
        st.seconds = time.perf_counter() - st.started
        logger.error("stage %s failed after %.1fs", name, st.seconds)
        raise
    st.seconds = time.perf_counter() - st.started
    detail = " ".join(f"{k}={v}" for k, v in st.counts.items())
    logger.info("stage %s done in %.1fs%s", name, st.seconds, (": " + detail) if detail else "")
