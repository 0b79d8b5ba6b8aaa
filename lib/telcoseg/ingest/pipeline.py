"""Ingestion runs: landing -> bronze, bronze -> silver, or both in one run.

A run stages every table it writes (:func:`telcoseg.io.delta.prepare_write`) and commits
them only when all staged cleanly, the ingest log last; any failure discards everything
staged, so a run commits all of its tables or none. Counts come from the writes
themselves (Parquet footers and ``DataFrame.observe``), not from extra passes, and every
run checks ``read = accepted + quarantined + duplicates`` per source before committing.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import reduce
from typing import Any

from py4j.protocol import Py4JJavaError
from pyspark import StorageLevel
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from telcoseg.config import Config
from telcoseg.errors import DeltaWriteError, InputFileError, TelcosegError, first_line
from telcoseg.ingest import landing, tables
from telcoseg.ingest import rules as R
from telcoseg.ingest import silver as S
from telcoseg.ingest.contract import SOURCES
from telcoseg.ingest.hmac_key import (
    KeySource,
    check_workers,
    fingerprint,
    key_source,
    load_key,
)
from telcoseg.ingest.phones import (
    LOOKUP_SCHEMA,
    NumberPlan,
    lookup_imeis,
    lookup_numbers,
    plan_tag,
)
from telcoseg.ingest.settings import Settings
from telcoseg.io import delta
from telcoseg.io.delta import PendingWrite
from telcoseg.io.storage import TableStorage, spark_uri
from telcoseg.logs import Stage, stage
from telcoseg.schemas import SILVER
from telcoseg.session import session_conf

log = logging.getLogger(__name__)

# Bronze is read back by silver, whose validation costs ~50 us of CPU per row: the scan
# must give every core several tasks, or the last round runs on one core while the other
# idles. Spark splits a Parquet file only between row groups, so bronze writes 16 MB row
# groups (a 10M-row CDR batch is ten ~46 MB files, one 128 MB row group each by default),
# and silver asks for at least SPLITS_PER_CORE scan splits per core
# (spark.sql.files.minPartitionNum; large reads keep maxPartitionBytes splits).
BRONZE_ROW_GROUP_BYTES = 16 * 1024 * 1024
SPLITS_PER_CORE = 8


class AccountingError(TelcosegError):
    """Rows read != accepted + quarantined + duplicates: a bug; the run commits nothing."""


@dataclass
class SourceCounts:
    """The four numbers of one source in one layer of a run."""

    source: str
    layer: str
    files: int
    read: int
    accepted: int
    quarantined: int
    duplicates: int


@dataclass
class RunReport:
    """What a run did; ``counts`` is empty when there was nothing new."""

    run_id: str
    layers: tuple[str, ...]
    counts: list[SourceCounts] = field(default_factory=list)
    distinct_numbers: int = 0
    numbers_parsed: int = 0  # the distinct numbers not found in bronze/number_lookup
    numbers_pruned: int = 0  # stored numbers dropped by the retention rule after the run
    phone_seconds: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    committed: dict[str, int] = field(default_factory=dict)  # table path -> version

    def table(self) -> str:
        """The per-source counts as a fixed-width text table (what the jobs print)."""
        head = f"{'layer':<7}{'source':<12}{'files':>6}{'read':>12}{'accepted':>12}"
        head += f"{'quarantined':>13}{'duplicates':>12}"
        lines = [f"ingest run {self.run_id}", head]
        for c in self.counts:
            lines.append(
                f"{c.layer:<7}{c.source:<12}{c.files:>6}{c.read:>12}{c.accepted:>12}"
                f"{c.quarantined:>13}{c.duplicates:>12}"
            )
        if not self.counts:
            lines.append("nothing new to ingest")
        elif "silver" in self.layers:
            lines.append(
                f"phone numbers: {self.distinct_numbers} distinct, {self.numbers_parsed} "
                f"parsed, {self.numbers_pruned} dropped from bronze/number_lookup"
            )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def silver_conf(spark: SparkSession) -> dict[str, str | None]:
    """Session settings of the silver stages (see SPLITS_PER_CORE); a larger
    minPartitionNum set by the operator is kept."""
    key = "spark.sql.files.minPartitionNum"
    wanted = SPLITS_PER_CORE * spark.sparkContext.defaultParallelism
    current = spark.conf.get(key, None)
    return {key: str(max(wanted, int(current or 0)))}


def new_run_id(now: dt.datetime) -> str:
    """Sortable by start time, unique: ``20260302T140509123456Z-1a2b3c``."""
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]


def run_bronze(spark: SparkSession, cfg: Config) -> RunReport:
    """Landing -> bronze for every file not ingested before."""
    return _Run(spark, cfg, bronze=True, silver=False).run()


def run_silver(spark: SparkSession, cfg: Config) -> RunReport:
    """Bronze -> silver for every bronze file not promoted before."""
    return _Run(spark, cfg, bronze=False, silver=True).run()


def run_ingest(spark: SparkSession, cfg: Config) -> RunReport:
    """Landing -> bronze -> silver in one run (bronze rows are read back from staging)."""
    return _Run(spark, cfg, bronze=True, silver=True).run()


@dataclass(frozen=True)
class _LogEntry:
    file_key: str
    layer: str
    source: str
    path: str
    size_bytes: int
    mtime_ms: int
    rows: int
    bronze_run_id: str


@dataclass
class _BronzeInput:
    """Rows of one source waiting for silver, with their files (for order and the log)."""

    frames: list[DataFrame] = field(default_factory=list)
    files: list[_LogEntry] = field(default_factory=list)


class _Run:
    def __init__(self, spark: SparkSession, cfg: Config, bronze: bool, silver: bool) -> None:
        self.spark, self.cfg = spark, cfg
        self.settings: Settings = cfg.section("ingest")
        self.do_bronze, self.do_silver = bronze, silver
        self.started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        self.run_id = new_run_id(self.started)
        layers = tuple(n for n, on in (("bronze", bronze), ("silver", silver)) if on)
        self.report = RunReport(self.run_id, layers)
        self.staged: list[PendingWrite] = []
        self.log_rows: list[_LogEntry] = []
        self.persisted: list[DataFrame] = []
        self.key_fingerprint = ""  # set by _check_key before any silver work
        self.scratch = TableStorage(tables.quarantine_path(cfg))
        self.scratch_dir = f"{delta.STAGING}/validated-{self.run_id}"
        # CDR record_ids seen more than once in the batch (None: too many to broadcast).
        self.repeated: DataFrame | None = None
        self.number_tag = ""  # the run's plan_tag, set by the number lookup

    # ------------------------------------------------------------------ driver

    def run(self) -> RunReport:
        t0 = time.perf_counter()
        if self.do_silver:
            self._check_key()
        known = self._read_log()
        try:
            inputs: dict[str, _BronzeInput] = {s: _BronzeInput() for s in SOURCES}
            if self.do_bronze:
                self._stage_bronze(known, inputs)
            if self.do_silver:
                self._add_pending_bronze(known, inputs)
                with session_conf(self.spark, silver_conf(self.spark)):
                    self._stage_silver(inputs)
            if not self.report.counts:
                log.info("ingest run %s: nothing new", self.run_id)
                self._discard()
                return self.report
            self._stage_bookkeeping()
            self._commit()
        except BaseException:
            self._discard()
            raise
        finally:
            for df in self.persisted:
                df.unpersist()
            self.scratch.delete_dir(self.scratch_dir)
        # Outside the try: the run is committed, so nothing staged may be discarded now.
        self._prune_number_lookup()
        self.report.seconds["total"] = round(time.perf_counter() - t0, 3)
        for line in self.report.table().splitlines():
            log.info("%s", line)
        return self.report

    def _check_key(self) -> None:
        """Refuse to start without a key, and check the workers read the same one."""
        source = key_source(self.settings)
        expected = fingerprint(load_key(source))
        check_workers(self.spark, source, expected)
        self.key_fingerprint = expected
        log.info("pseudonymization key from %s (fingerprint %s)", source.describe(), expected)

    def _read_log(self) -> dict[str, dict[str, _LogEntry]]:
        """file_key -> entry, per layer, from the ingest log (small: one row per file)."""
        out: dict[str, dict[str, _LogEntry]] = {"bronze": {}, "silver": {}}
        path = tables.log_path(self.cfg)
        if not delta.table_exists(path):
            return out
        cols = [f for f in _LogEntry.__dataclass_fields__]
        for row in delta.read_table(self.spark, path).select(*cols).collect():
            entry = _LogEntry(**row.asDict())
            out[entry.layer][entry.file_key] = entry
        return out

    # ------------------------------------------------------------------ bronze

    def _stage_bronze(
        self, known: Mapping[str, Mapping[str, _LogEntry]], inputs: dict[str, _BronzeInput]
    ) -> None:
        landing_root = self.cfg.paths.landing
        plans: dict[str, list[landing.ReadGroup]] = {}
        with self._stage("bronze.check") as st:
            for name, source in SOURCES.items():
                files = [
                    f for f in landing.discover(landing_root, name) if f.key not in known["bronze"]
                ]
                if files:
                    plans[name] = landing.plan_reads(files, source, self.settings.mapping(name))
            st.count(files=sum(len(g.files) for gs in plans.values() for g in gs))
        read_time = F.lit(self.started).cast("timestamp")
        staged: dict[str, PendingWrite] = {}
        for name, groups in plans.items():
            with self._stage(f"bronze.{name}") as st:
                frames = [landing.read_group(self.spark, g, landing_root) for g in groups]
                df = reduce(DataFrame.unionByName, frames).select(
                    *SOURCES[name].columns,
                    "source_file",
                    *tables.POSITION,
                    read_time.alias("read_time"),
                    F.lit(self.run_id).alias("ingest_run_id"),
                )
                staged[name] = self._stage_landing_read(df, name, groups)
                st.count(files=sum(len(g.files) for g in groups), rows=staged[name].rows)
        if not staged:
            return
        # Rows per file for the ingest log: one small job over every staged bronze file.
        per_file = reduce(
            DataFrame.unionByName,
            [p.read(self.spark).select("source_file") for p in staged.values()],
        )
        rows_by_file = {
            r["source_file"]: int(r["count"])
            for r in per_file.groupBy("source_file").count().collect()
        }
        all_files = {f.rel_path for gs in plans.values() for g in gs for f in g.files}
        unknown = set(rows_by_file) - all_files
        if unknown:
            raise DeltaWriteError(f"bronze: rows from unexpected file(s) {sorted(unknown)[:3]}")
        for name, pending in staged.items():
            files = sorted(
                (f for g in plans[name] for f in g.files), key=lambda f: (f.mtime_ms, f.rel_path)
            )
            entries = [
                _LogEntry(
                    f.key, "bronze", name, f.rel_path, f.size, f.mtime_ms,
                    rows_by_file.get(f.rel_path, 0), self.run_id,
                )
                for f in files
            ]  # fmt: skip
            self.log_rows.extend(entries)
            inputs[name].frames.append(pending.read(self.spark))
            inputs[name].files.extend(entries)
            counts = SourceCounts(name, "bronze", len(files), pending.rows, pending.rows, 0, 0)
            self.report.counts.append(counts)

    def _stage_landing_read(
        self, df: DataFrame, name: str, groups: Sequence[landing.ReadGroup]
    ) -> PendingWrite:
        """Stage bronze rows; a read failure is traced to its file and named."""
        path = tables.bronze_path(self.cfg, name)
        try:
            with self._quiet_spark():
                pending = delta.prepare_write(
                    df,
                    path,
                    "append",
                    partition_by=["ingest_run_id"],
                    commit_info={"job": "ingest", "run": self.run_id},
                    write_options={"parquet.block.size": str(BRONZE_ROW_GROUP_BYTES)},
                )
        except (DeltaWriteError, Py4JJavaError, PySparkException):
            culprit = self._find_unreadable(groups)
            if culprit is None:
                raise
            raise InputFileError(*culprit) from None
        self.staged.append(pending)
        return pending

    def _find_unreadable(self, groups: Sequence[landing.ReadGroup]) -> tuple[str, str] | None:
        root = self.cfg.paths.landing
        with self._quiet_spark():
            for group in groups:
                try:
                    landing.read_group(self.spark, group, root).write.format("noop").mode(
                        "overwrite"
                    ).save()
                except (Py4JJavaError, PySparkException):
                    uri, why = landing.find_unreadable(self.spark, group, root)
                    return uri, f"cannot be read: {why}"
        return None

    @contextmanager
    def _stage(self, name: str) -> Iterator[Stage]:
        """:func:`telcoseg.logs.stage`, also keeping the seconds in the report."""
        with stage(log, name) as st:
            yield st
        self.report.seconds[name] = round(st.seconds, 3)

    @contextmanager
    def _quiet_spark(self) -> Iterator[None]:
        """Spark logs a stack trace per failed task; the run reports the cause itself."""
        sc = self.spark.sparkContext
        sc.setLogLevel("OFF")
        try:
            yield
        finally:
            sc.setLogLevel(self.cfg.spark.log_level)

    def _add_pending_bronze(
        self, known: Mapping[str, Mapping[str, _LogEntry]], inputs: dict[str, _BronzeInput]
    ) -> None:
        """Files an earlier bronze-only run read and no silver run has promoted yet."""
        pending = [e for k, e in known["bronze"].items() if k not in known["silver"]]
        for name in SOURCES:
            entries = [e for e in pending if e.source == name]
            if not entries:
                continue
            runs = sorted({e.bronze_run_id for e in entries})
            keys = [f"{e.bronze_run_id}|{e.path}" for e in entries]
            df = delta.read_table(
                self.spark,
                tables.bronze_path(self.cfg, name),
                partition_filters=[("ingest_run_id", "in", runs)],
            ).where(F.concat_ws("|", "ingest_run_id", "source_file").isin(keys))
            inputs[name].frames.insert(0, df)
            inputs[name].files[:0] = sorted(
                entries, key=lambda e: (e.bronze_run_id, e.mtime_ms, e.path)
            )

    # ------------------------------------------------------------------ silver

    def _stage_silver(self, inputs: Mapping[str, _BronzeInput]) -> None:
        todo = {n: i for n, i in inputs.items() if i.frames}
        if not todo:
            return
        tz = self.cfg.timezone
        texts: dict[str, DataFrame] = {}
        cleaned: dict[str, DataFrame] = {}
        for name, inp in todo.items():
            order = {(e.bronze_run_id, e.path): i for i, e in enumerate(inp.files)}
            texts[name] = S.with_clean_text(reduce(DataFrame.unionByName, inp.frames), name)
            cleaned[name] = S.with_file_order(texts[name], order)
        # The facts need no file order: Spark keeps a left join whose columns go unused,
        # a hash of two strings per row.
        own_numbers, numbers, imeis = self._lookups(texts)
        quarantine_parts: list[DataFrame] = []
        observed: dict[str, tuple[list[Observation], Observation]] = {}
        for name, df in cleaned.items():
            with self._stage(f"silver.{name}") as st:
                # One validation pass per source: the rows are validated once, written
                # to a scratch Parquet folder (the raw row as JSON for the broken ones
                # only), and the silver write, the repeated-key winners and the quarantine
                # all read that. Validating again for the quarantine cost a third of the
                # run; see _scratch for why not a cache.
                validated = self._validate(name, df, own_numbers, numbers, imeis, tz)
                validated = self._scratch(
                    name,
                    validated.withColumn(
                        "raw", F.when(F.col("reason").isNotNull(), S.raw_json(F.col("raw")))
                    ),
                )
                quarantine_parts.append(
                    validated.where(F.col("reason").isNotNull()).select(
                        F.lit(name).alias("source"),
                        "source_file",
                        F.lit(self.run_id).alias("ingest_run_id"),
                        "reason",
                        "field",
                        # Never null on these rows; keeps the quarantine's raw NOT NULL.
                        F.coalesce(F.col("raw"), F.lit("")).alias("raw"),
                    )
                )
                obs_out = Observation(_obs_name())
                accepted = validated.where(F.col("reason").isNull()).drop("reason", "field", "raw")
                valid = accepted.withColumn("ingest_run_id", F.lit(self.run_id))
                firsts = None
                if name == "cdr" and self.repeated is not None:
                    # Only the (few) rows of repeated record_ids need a winner.
                    few = accepted.join(self.repeated, "record_id", "left_semi")
                    firsts = S.first_arrivals(few, S.KEYS[name].columns)
                out, mode, obs_valid = self._collapse(name, valid, texts[name], firsts)
                out = out.observe(
                    obs_out,
                    F.count_if(F.col("ingest_run_id") == self.run_id).alias("n"),
                )
                keys = S.KEYS[name]
                self.staged.append(
                    delta.prepare_write(
                        out,
                        tables.silver_path(self.cfg, name),
                        mode,
                        partition_by=list(keys.partition_by) or None,
                        commit_info={"job": "ingest", "run": self.run_id},
                    )
                )
                observed[name] = (obs_valid, obs_out)
                st.count(accepted=obs_out.get["n"])
        with self._stage("silver.quarantine"):
            quarantine = self._stage_quarantine(quarantine_parts, list(cleaned))
        for name, inp in todo.items():
            read = sum(e.rows for e in inp.files)
            valid_n = sum(int(o.get["n"]) for o in observed[name][0])
            accepted = int(observed[name][1].get["n"])
            counts = SourceCounts(
                name,
                "silver",
                len(inp.files),
                read,
                accepted,
                quarantine[name],
                valid_n - accepted,
            )
            if valid_n + quarantine[name] != read or accepted > valid_n:
                raise AccountingError(
                    f"silver {name}: read {read} != valid {valid_n} + quarantined "
                    f"{quarantine[name]} (accepted {accepted}); nothing was committed"
                )
            self.report.counts.append(counts)
            self.log_rows.extend(
                _LogEntry(
                    e.file_key,
                    "silver",
                    e.source,
                    e.path,
                    e.size_bytes,
                    e.mtime_ms,
                    e.rows,
                    e.bronze_run_id,
                )
                for e in inp.files
            )

    def _scratch(self, name: str, validated: DataFrame) -> DataFrame:
        """``validated`` written once as plain Parquet and read back from there.

        It lives in the quarantine table's staging folder (its broken rows' raw text holds
        phone numbers, as the quarantine does) and is deleted when the run ends;
        :func:`telcoseg.io.delta.cleanup_orphans` removes it after a crash. Measured on
        10M CDR rows against a MEMORY_AND_DISK cache of the same rows: the cache's
        columnar encoder gathers dictionary statistics for every string value (a quarter
        of the validation stage's CPU in a JFR profile) and spilled 1.3 GB to disk, and
        its 5 large partitions made the silver write's sort spill another 1.1 GB.

        Written without dictionary encoding: it is read once, so a dictionary saves
        nothing, and building one (hashing and comparing every string of ~35 columns)
        cost a fifth of the silver CDR stage (1M rows side by side: 84.6 s vs 108.5 s).
        """
        rel = f"{self.scratch_dir}/{name}"
        uri = spark_uri(f"{self.scratch.uri}/{rel}")
        try:
            with self._quiet_spark():
                validated.write.mode("errorifexists").option(
                    "parquet.enable.dictionary", "false"
                ).parquet(uri)
        except (Py4JJavaError, PySparkException) as exc:
            raise DeltaWriteError(
                f"silver {name}: validating the bronze rows failed, nothing was committed: "
                f"{first_line(exc, 300)}"
            ) from exc
        return self.spark.read.schema(validated.schema).parquet(uri)

    def _lookups(self, cleaned: Mapping[str, DataFrame]) -> tuple[DataFrame, DataFrame, DataFrame]:
        """Parse every distinct raw number (and hash every distinct IMEI) once.

        Returns the lookups of the own numbers (msisdn values), of every number, and of
        the IMEIs. Each number lookup is broadcast to the row joins when it has at most
        ``broadcast_numbers`` rows; the own numbers (one per line) nearly always do, so
        only the counterparties are joined with a shuffle on a very large batch.

        Also finds the CDR record_ids that occur more than once in the batch (in
        ``self.repeated``): only their rows need the sort that picks a winner.
        """
        plan = NumberPlan(
            self.settings.default_region, self.settings.own_prefixes, self.settings.own_carriers
        )
        source = key_source(self.settings)
        limit = self.settings.broadcast_numbers
        with self._stage("silver.distinct_values") as st:
            facts = S.batch_facts(cleaned).persist(StorageLevel.MEMORY_AND_DISK)
            self.persisted.append(facts)
            by_kind = {r["kind"]: int(r["count"]) for r in facts.groupBy("kind").count().collect()}
            st.count(**by_kind)
        # Past this many repeated keys (a whole file sent twice, say) a window over all
        # rows is the safer plan than broadcasting them.
        if by_kind.get(S.CDR_KEY, 0) <= limit:
            self.repeated = F.broadcast(S.repeated_keys(facts))
        is_number = F.col("kind").isin(S.NUMBER, S.OWN_NUMBER)
        with self._stage("silver.phone_numbers") as st:
            t0 = time.perf_counter()
            values = facts.where(is_number).select(F.col("value").alias("raw"))
            numbers, parsed = self._number_lookup(values, plan, source)
            n = numbers.count()
            seconds = time.perf_counter() - t0
            self.report.distinct_numbers = n
            self.report.numbers_parsed = parsed
            self.report.phone_seconds = round(seconds, 3)
            st.count(
                distinct_numbers=n,
                parsed=parsed,
                us_per_parsed=round(seconds / max(parsed, 1) * 1e6, 1),
            )
        own_values = facts.where(F.col("kind") == S.OWN_NUMBER).select(F.col("value").alias("raw"))
        own = numbers.join(own_values, "raw", "left_semi").persist(StorageLevel.MEMORY_AND_DISK)
        self.persisted.append(own)
        # Past the limit both sides are shuffled, and the hint builds a hash table of the
        # lookup's share in each partition instead of sorting the batch's rows by number
        # (what a sort-merge join would do to every CDR row).
        numbers = F.broadcast(numbers) if n <= limit else numbers.hint("shuffle_hash")
        own_n = by_kind.get(S.OWN_NUMBER, 0)
        own = F.broadcast(own) if own_n <= limit else own.hint("shuffle_hash")
        imei_raw = facts.where(F.col("kind") == S.IMEI_KIND).select(F.col("value").alias("raw"))
        # Computed (once) by the first write that needs it.
        imeis = lookup_imeis(imei_raw, source).persist(StorageLevel.MEMORY_AND_DISK)
        self.persisted.append(imeis)
        return own, numbers, imeis

    def _number_lookup(
        self, values: DataFrame, plan: NumberPlan, source: KeySource
    ) -> tuple[DataFrame, int]:
        """The lookup rows of the batch's distinct numbers (persisted), and how many of them
        went through libphonenumber. ``values`` holds a number once per kind (own or
        other), so it can hold one twice.

        With ``cache_numbers`` only numbers that ``bronze/number_lookup`` lacks under the
        run's :func:`~telcoseg.ingest.phones.plan_tag` are parsed; they are staged into it
        and committed with the run (a failed run adds none). A day's CDRs mostly repeat
        numbers seen before, so a daily run parses only the new ones.
        """
        path = tables.numbers_path(self.cfg)
        known = None
        tag = self.number_tag = plan_tag(plan, self.key_fingerprint)
        if self.settings.cache_numbers and delta.table_exists(path):
            stored = delta.read_table(self.spark, path).where(F.col("plan_tag") == tag)
            attrs = [c for c in LOOKUP_SCHEMA.names if c != "raw"]
            # One aggregation by number over the batch's and the stored rows says whether
            # a number is in the batch and gives its stored attributes if any: one shuffle
            # where a semi join, an anti join and a de-duplication took three. Two runs
            # that parsed one number at once both stored it, with the same values: max
            # keeps one.
            both = values.select("raw", F.lit(True).alias("_batch")).unionByName(
                stored.select("raw", F.struct(*attrs).alias("_stored")),
                allowMissingColumns=True,
            )
            merged = (
                both.groupBy("raw")
                .agg(F.max("_batch").alias("_batch"), F.max("_stored").alias("_stored"))
                .where(F.col("_batch"))
                .persist(StorageLevel.MEMORY_AND_DISK)
            )
            self.persisted.append(merged)
            found = F.col("_stored").isNotNull()
            known = merged.where(found).select("raw", *[F.col(f"_stored.{c}") for c in attrs])
            distinct = merged.where(~found).select("raw")
        else:
            # The aggregation above de-duplicates; without it a distinct of its own.
            distinct = values.distinct()
        parsed = lookup_numbers(distinct, plan, source).persist(StorageLevel.MEMORY_AND_DISK)
        self.persisted.append(parsed)
        n_parsed = parsed.count()
        if self.settings.cache_numbers and n_parsed:
            self.staged.append(
                delta.prepare_write(
                    parsed.select(
                        "*",
                        F.lit(tag).alias("plan_tag"),
                        F.lit(self.run_id).alias("ingest_run_id"),
                    ),
                    path,
                    "append",
                    commit_info={"job": "ingest", "run": self.run_id},
                )
            )
        if known is None:
            return parsed, n_parsed
        numbers = parsed.unionByName(known).persist(StorageLevel.MEMORY_AND_DISK)
        self.persisted.append(numbers)
        return numbers, n_parsed

    def _validate(
        self,
        name: str,
        df: DataFrame,
        own_numbers: DataFrame,
        numbers: DataFrame,
        imeis: DataFrame,
        tz: str,
    ) -> DataFrame:
        if name == "cdr":
            return S.validate_cdr(df, numbers, imeis, tz, own_numbers)
        if name == "cells":
            return S.validate_cells(df)
        validator = {
            "app_usage": S.validate_app_usage,
            "subscribers": S.validate_subscribers,
            "outcomes": S.validate_outcomes,
            "campaigns": S.validate_campaigns,
        }[name]
        # Their only phone column is the subscriber's own number.
        return validator(df, own_numbers)

    def _collapse(
        self, name: str, valid: DataFrame, cleaned: DataFrame, firsts: DataFrame | None = None
    ) -> tuple[DataFrame, str, list[Observation]]:
        """Repeats collapsed per the source's key: the rows to write, the write mode, and
        observations whose ``n`` add up to the valid rows of the batch.

        ``firsts``: the first arrival of each key that occurs more than once in the batch
        (:func:`silver.first_arrivals`); without it every row is ranked by a window.
        """
        keys = S.KEYS[name]
        path = tables.silver_path(self.cfg, name)
        exists = delta.table_exists(path)
        schema = SILVER[name]
        valid, seen = _observed(valid)
        if keys.latest_wins:
            existing = delta.read_table(self.spark, path) if exists else None
            out = S.filter_latest(valid, existing, keys)
            return out.select(*schema.names), "overwrite", [seen]
        existing = None
        if exists and keys.partition_by:
            touched = self._touched_partitions(name, cleaned)
            if touched:
                existing = delta.read_table(
                    self.spark, path, partition_filters=[(keys.partition_by[0], "in", touched)]
                )
        elif exists:
            existing = delta.read_table(self.spark, path)
        if firsts is not None:
            first = S.filter_first_arrivals(valid, firsts, keys.columns)
        else:
            first = S.filter_first_seen(valid, keys.columns)
        out = S.filter_new_keys(first, existing, keys.columns)
        return out.select(*schema.names), "append", [seen]

    def _touched_partitions(self, name: str, cleaned: DataFrame) -> list[str]:
        """Partition values the batch may write (from the timestamp column alone: cheap)."""
        tz = self.cfg.timezone
        if name == "cdr":
            value = R.local_date(R.parse_instant(F.col("event_time"), tz), tz)
        else:
            value = R.parse_date(F.col("usage_date"))
        rows = cleaned.select(value.alias("d")).where("d is not null").distinct().collect()
        return sorted(r["d"].isoformat() for r in rows)

    def _stage_quarantine(self, parts: list[DataFrame], sources: list[str]) -> dict[str, int]:
        obs = Observation(_obs_name())
        df = reduce(DataFrame.unionByName, parts).observe(
            obs, *[F.count_if(F.col("source") == s).alias(s) for s in sources]
        )
        pending = delta.prepare_write(
            df,
            tables.quarantine_path(self.cfg),
            "append",
            commit_info={"job": "ingest", "run": self.run_id},
        )
        self.staged.append(pending)
        counts = {s: int(obs.get[s]) for s in sources}
        log.info("quarantine: %s", counts)
        return counts

    # ------------------------------------------------------------------ commit

    def _stage_bookkeeping(self) -> None:
        finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        runs = [
            (
                self.run_id,
                c.layer,
                c.source,
                c.files,
                c.read,
                c.accepted,
                c.quarantined,
                c.duplicates,
                self.report.distinct_numbers if c.layer == "silver" else None,
                self.started,
                finished,
            )
            for c in self.report.counts
        ]
        self.staged.append(
            delta.prepare_write(
                self.spark.createDataFrame(runs, tables.INGEST_RUNS),
                tables.runs_path(self.cfg),
                "append",
            )
        )
        entries = [(*_entry_values(e), self.run_id, finished) for e in self.log_rows]
        self.staged.append(
            delta.prepare_write(
                self.spark.createDataFrame(entries, tables.INGEST_LOG),
                tables.log_path(self.cfg),
                "append",
            )
        )

    def _commit(self) -> None:
        """Commit in staging order (the ingest log was staged last, so it lands last)."""
        with self._stage("commit") as st:
            for pending in self.staged:
                if pending.rows == 0 and delta.table_exists(pending.path):
                    pending.discard()  # an empty append would only add a version
                    continue
                self.report.committed[pending.path] = pending.commit()
            st.count(tables=len(self.report.committed))

    def _prune_number_lookup(self) -> None:
        """After the commit, drop stored numbers of another tag or past the retention.

        A failure here is logged, not raised: the run's tables are committed, and the
        next run prunes the same files.
        """
        path = tables.numbers_path(self.cfg)
        if not (self.number_tag and self.settings.cache_numbers and delta.table_exists(path)):
            return
        with self._stage("bronze.number_lookup_retention") as st:
            try:
                files, rows = prune_number_lookup(
                    path,
                    self.number_tag,
                    self.settings.cache_numbers_days,
                    self.started,
                    self.run_id,
                )
            except Exception as exc:  # the run itself is already committed
                log.warning("number_lookup retention skipped: %s", first_line(exc))
                return
            self.report.numbers_pruned = rows
            st.count(files=files, rows=rows)

    def _discard(self) -> None:
        for pending in self.staged:
            try:
                pending.discard()
            except Exception:  # keep discarding the rest; orphans are invisible anyway
                log.warning("could not discard staged files of %s", pending.path)
        self.staged = []


def prune_number_lookup(
    path: str, tag: str, days: int, now: dt.datetime, run_id: str = ""
) -> tuple[int, int]:
    """Remove the files of ``bronze/number_lookup`` that no run under ``tag`` may use.

    A file goes when its statistics say every row carries another plan tag (the key,
    the number plan or libphonenumber changed: those pseudonyms and attributes are
    stale for good) or, with ``days`` > 0, when it was stored more than ``days`` days
    before ``now`` (UTC; its numbers are parsed again when next seen). Each run stores
    its numbers in files of one tag, so whole files go and nothing is rewritten.
    Returns (files, rows) removed.
    """
    # modification_time is in milliseconds since the epoch; ``now`` is naive UTC.
    cutoff = (now.replace(tzinfo=dt.UTC) - dt.timedelta(days=days)).timestamp() * 1000

    def stale(action: Mapping[str, Any]) -> bool:
        low, high = action.get("min.plan_tag"), action.get("max.plan_tag")
        if low is not None and low == high and low != tag:
            return True
        stored = action.get("modification_time")
        return bool(days) and stored is not None and int(stored) < cutoff

    return delta.remove_files(
        path, stale, {"job": "ingest", "run": run_id, "rule": "number_lookup retention"}
    )


def _entry_values(e: _LogEntry) -> tuple[Any, ...]:
    return (
        e.file_key,
        e.layer,
        e.source,
        e.path,
        e.size_bytes,
        e.mtime_ms,
        e.rows,
        e.bronze_run_id,
    )


def _observed(df: DataFrame) -> tuple[DataFrame, Observation]:
    """``df`` counting its rows into a new observation (``n``) as a write consumes it."""
    obs = Observation(_obs_name())
    return df.observe(obs, F.count(F.lit(1)).alias("n")), obs


def _obs_name() -> str:
    return "ingest_" + uuid.uuid4().hex[:12]


__all__ = ["AccountingError", "RunReport", "SourceCounts", "run_bronze", "run_ingest", "run_silver"]
