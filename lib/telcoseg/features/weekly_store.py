"""Per-week individual indicators kept between snapshots (gold ``bandicoot_weekly``).

bandicoot computes each individual indicator per ISO week from that week's records alone
(:mod:`telcoseg.features.individual`), and only then averages over weeks. A week that lies
wholly inside two windows therefore has the same per-week row in both: weekly snapshots
of a 14-day window share one week, of a 28-day window three. The features job keeps the
rows of every complete week it computes for the whole base, and a later snapshot reads a
kept week instead of computing it again, so each week's records go through the individual
chain once.

A kept week is used only while its rows are what a fresh computation would give:

- ``source_tag``: a hash of the silver CDR files of the week's seven ``event_date``
  partitions (path, size, deletion vector). Late records ingested for that week, a
  compaction or a delete change the files, and the week is computed again. (If silver
  CDR is not partitioned by ``event_date``, every file counts for every week.)
- ``settings_tag``: a hash of what shapes a week's values (weekend days, night hours,
  the pareto percentage, the time-scope splits, the time zone), of telcoseg's version
  and of the source of the modules that compute them.

The spatial indicators need the home of the whole window first, so they are computed in
full every time. Rows of one write carry its ``run_id``; a reader takes one run per week,
so two writers that stored the same week at once cannot double its rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import json
import logging
import operator
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import reduce

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

import telcoseg
from telcoseg.errors import DeltaWriteError, TelcosegError
from telcoseg.features.individual import weekly_individual
from telcoseg.features.population import SubscriberSubset, filter_subscribers
from telcoseg.features.records import explode_time_scopes, window_bounds
from telcoseg.features.settings import Settings
from telcoseg.io import delta

log = logging.getLogger(__name__)

TABLE = "bandicoot_weekly"


def complete_weeks(snapshot: dt.date, window_days: int) -> list[dt.date]:
    """Mondays of the ISO weeks whose seven days all lie in the window (oldest first)."""
    first, last = window_bounds(snapshot, window_days)
    monday = first + dt.timedelta(days=(7 - first.weekday()) % 7)
    weeks = []
    while monday + dt.timedelta(days=6) <= last:
        weeks.append(monday)
        monday += dt.timedelta(days=7)
    return weeks


def settings_tag(settings: Settings, timezone: str) -> str:
    """Hash of everything besides the records that shapes a week's individual values."""
    shape = {
        "weekend": sorted(settings.weekend),
        "night": [settings.night_start_s, settings.night_end_s],
        "pareto": settings.pareto_percentage,
        "split": [settings.split_week, settings.split_day],
        "timezone": timezone,
        "telcoseg": telcoseg.__version__,
        "code": _code_tag(),
    }
    return _digest(json.dumps(shape, sort_keys=True))


def _code_tag() -> str:
    """Hash of the source of the modules that compute a week's rows: a change to them
    (a fix, say) must not read rows the old code stored, version bump or not."""
    from telcoseg.features import individual, records, stats

    try:
        text = "".join(inspect.getsource(m) for m in (individual, records, stats))
    except (OSError, TypeError):  # no source shipped (compiled only): the version decides
        return ""
    return _digest(text)


def week_fingerprints(
    cdr_path: str, weeks: Sequence[dt.date], version: int | None = None
) -> dict[dt.date, str]:
    """``source_tag`` of each week: a hash of the silver CDR files its dates live in, at
    ``version`` of the table (the one the records were read from; default latest).

    Read from the Delta log only. Silver's ``event_date`` is the local date in the
    configured time zone, the same zone the features job puts records into weeks with.
    """
    files = delta.active_files(cdr_path, version)
    partitioned = "event_date" in delta.partition_columns(cdr_path)
    out = {}
    for monday in weeks:
        days = {(monday + dt.timedelta(days=i)).isoformat() for i in range(7)}
        mine = [
            f
            for f in files
            if not partitioned or delta.partition_value(f.get("partition.event_date")) in days
        ]
        lines = sorted(
            "|".join(
                str(f.get(k))
                for k in sorted(f)
                if k in ("path", "size_bytes") or k.startswith("deletionVector")
            )
            for f in mine
        )
        out[monday] = _digest("\n".join(lines))
    return out


@dataclass(frozen=True)
class _Target:
    """Where and under which tags a full-base run stores the weeks it computed."""

    path: str
    weeks: list[dt.date]
    source_tags: dict[dt.date, str]
    settings_tag: str
    run_id: str
    prune_before: dt.date | None


@dataclass
class WeeklyRows:
    """The per-week individual rows of one snapshot: kept weeks read, the rest computed.

    ``frame`` is what :func:`telcoseg.features.vectors.indicators_from_records` takes as
    ``individual_weekly``. Call :meth:`store` before the vectors are written (it computes
    the new weeks once, persisted for the vectors) and :meth:`release` after.
    """

    frame: DataFrame
    reused: list[dt.date]
    computed: list[dt.date]
    new: DataFrame
    target: _Target | None = None

    def store(self) -> list[dt.date]:
        """Write the computed complete weeks (full-base runs only); returns the weeks stored.

        A cache: when the write loses to a concurrent writer or fails, the job goes on
        with the computed rows and the next run computes those weeks again.
        """
        t = self.target
        if t is None:
            return []
        source_tag = F.create_map(*[F.lit(x) for w in t.weeks for x in (w, t.source_tags[w])])
        rows = self.new.where(F.col("week").isin(t.weeks)).select(
            "*",
            source_tag[F.col("week")].alias("source_tag"),
            F.lit(t.settings_tag).alias("settings_tag"),
            F.lit(t.run_id).alias("run_id"),
        )
        try:
            if delta.table_exists(t.path):
                delta.write_table(
                    rows,
                    t.path,
                    mode="overwrite",
                    partition_by=["week"],
                    replace_where={"week": t.weeks},
                    commit_info={"job": "features", "run": t.run_id},
                )
            else:
                delta.write_table(rows, t.path, mode="error", partition_by=["week"])
        except DeltaWriteError as exc:
            log.warning("%s: weeks not stored, computed again next time: %s", TABLE, exc)
            return []
        if t.prune_before is not None:
            _prune(t.path, t.prune_before)
        return list(t.weeks)

    def release(self) -> None:
        if self.target is not None:
            self.new.unpersist()


def _prune(path: str, before: dt.date) -> None:
    """Drop kept weeks that start before ``before`` (log-only; the data goes at vacuum)."""
    cutoff = before.isoformat()
    try:
        files, rows = delta.remove_files(
            path,
            lambda a: (delta.partition_value(a.get("partition.week")) or "9999") < cutoff,
            {"job": "features", "rule": f"{TABLE} retention"},
        )
    except TelcosegError as exc:  # the weeks are stored; the next run prunes again
        log.warning("%s retention skipped: %s", TABLE, exc)
        return
    if files:
        log.info("%s: dropped %d files (%d rows) of weeks before %s", TABLE, files, rows, cutoff)


def weekly_rows(
    spark: SparkSession,
    *,
    store_path: str,
    cdr_path: str,
    records_df: DataFrame,
    snapshot_date: dt.date,
    timezone: str,
    settings: Settings,
    subscribers: SubscriberSubset = None,
    cdr_version: int | None = None,
) -> WeeklyRows:
    """Per-week individual rows for the snapshot, reusing kept complete weeks.

    ``records_df``: :func:`telcoseg.features.vectors.bandicoot_records` of the snapshot
    (for the same ``subscribers``), read from version ``cdr_version`` of silver CDR: the
    weeks are tagged with that version's files, so an ingest that commits while the job
    runs cannot get its files into the tag of rows computed without them. Only a run
    over the whole base stores weeks; a subset run reads the kept weeks of its
    subscribers and computes the rest.
    """
    weeks = complete_weeks(snapshot_date, settings.window_days)
    tags = week_fingerprints(cdr_path, weeks, cdr_version) if weeks else {}
    tag = settings_tag(settings, timezone)
    runs = _kept_runs(spark, store_path, tags, tag)
    reused = sorted(runs)
    computed = [w for w in weeks if w not in runs]
    if reused:
        # Filtered before the time scopes: Spark drops these records in the scan stage,
        # before the shuffle.
        records_df = records_df.where(~F.col("week").isin(reused))
    new = weekly_individual(explode_time_scopes(records_df, settings), settings)
    target = None
    if subscribers is None and computed:
        new = new.persist(StorageLevel.MEMORY_AND_DISK)
        first = window_bounds(snapshot_date, settings.window_days)[0]
        keep = settings.weekly_cache_days
        target = _Target(
            store_path,
            computed,
            tags,
            tag,
            uuid.uuid4().hex,
            first - dt.timedelta(days=keep) if keep else None,
        )
    frame = new
    if reused:
        kept = delta.read_table(
            spark, store_path, partition_filters=[("week", "in", reused)]
        ).where(_one_run_per_week(runs))
        frame = new.unionByName(filter_subscribers(kept, subscribers).select(*new.columns))
    log.info(
        "%s: weeks reused %s, computed %s, to store %s",
        TABLE,
        [w.isoformat() for w in reused],
        [w.isoformat() for w in computed],
        [w.isoformat() for w in target.weeks] if target else [],
    )
    return WeeklyRows(frame, reused, computed, new, target)


def _kept_runs(
    spark: SparkSession, path: str, tags: Mapping[dt.date, str], settings_tag_: str
) -> dict[dt.date, str]:
    """Week -> the run whose rows to read, for the kept weeks whose tags still match."""
    if not tags or not delta.table_exists(path):
        return {}
    matching = [(F.col("week") == F.lit(w)) & (F.col("source_tag") == t) for w, t in tags.items()]
    stored = delta.read_table(spark, path, partition_filters=[("week", "in", sorted(tags))]).where(
        (F.col("settings_tag") == settings_tag_) & _any(matching)
    )
    rows = stored.groupBy("week").agg(F.max("run_id").alias("run_id")).collect()
    return {r["week"]: r["run_id"] for r in rows}


def _one_run_per_week(runs: Mapping[dt.date, str]) -> Column:
    return _any([(F.col("week") == F.lit(w)) & (F.col("run_id") == r) for w, r in runs.items()])


def _any(conditions: Sequence[Column]) -> Column:
    return reduce(operator.or_, conditions)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
