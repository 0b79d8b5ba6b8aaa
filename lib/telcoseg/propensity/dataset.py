"""Point-in-time training and scoring sets: features as of T, labels from (T, T+h].

Every feature source is joined on ``(subscriber_id, snapshot_date)``. A source may say what
its rows are really "as of" (the last day of data they read) in an ``as_of`` column;
without one, a row is as of its ``snapshot_date``. The builder refuses (LeakageError) any
row whose as-of date is after the snapshot, any label that is not strictly after it, and
any single feature that mirrors the label almost perfectly (undeclared leakage).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.errors import LeakageError, SchemaMismatchError
from telcoseg.propensity.labels import snapshots_df, with_outcome_labels
from telcoseg.propensity.settings import Settings

log = logging.getLogger(__name__)

KEYS = ("subscriber_id", "snapshot_date")
AS_OF = "as_of"
# Columns of the training set that are never model inputs.
BOOKKEEPING = ("label", "label_event_date", "weight")
# |corr(feature, label)| above this is treated as a leaked label, not a signal.
MAX_FEATURE_LABEL_CORR = 0.95
_NUMERIC = (
    T.ByteType,
    T.ShortType,
    T.IntegerType,
    T.LongType,
    T.FloatType,
    T.DoubleType,
    T.DecimalType,
    T.BooleanType,
)


@dataclass(frozen=True)
class FeatureSource:
    """One feature table: ``subscriber_id``, ``snapshot_date``, optional ``as_of``, features."""

    name: str
    df: DataFrame
    # String columns the pipeline indexes as nominal features; other strings are ignored.
    categorical: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeatureSpec:
    """The model's input columns, split by how the pipeline treats them."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    # Categorical columns capped to these levels (all others become OTHER_LEVEL).
    levels: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Most levels of one categorical input (with "other" and unseen): the trees' bins.
    max_arity: int = 0

    @property
    def inputs(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def feature_spec(training_df: DataFrame, sources: Sequence[FeatureSource]) -> FeatureSpec:
    """Numeric columns and declared categorical columns of the joined sources."""
    categorical = {c for s in sources for c in s.categorical}
    skip = {*KEYS, *BOOKKEEPING, AS_OF}
    numeric = [
        f.name
        for f in training_df.schema.fields
        if f.name not in skip and f.name not in categorical and isinstance(f.dataType, _NUMERIC)
    ]
    cats = [c for c in training_df.columns if c in categorical]
    return FeatureSpec(numeric=tuple(numeric), categorical=tuple(cats))


def subscriber_source(
    subscribers_df: DataFrame, dates: Sequence[dt.date], settings: Settings
) -> FeatureSource:
    """Own-number attributes per snapshot, only for lines active at T (activation <= T)."""
    wanted = [c for c in settings.number_columns if c in subscribers_df.columns]
    snaps = snapshots_df(subscribers_df, dates)
    active = F.col("activation_date").isNull() | (
        F.col("activation_date") <= F.col("snapshot_date")
    )
    has_activation = "activation_date" in subscribers_df.columns
    df = subscribers_df.select(
        "subscriber_id",
        *(["activation_date"] if has_activation else []),
        *[F.col(c).cast("string").alias(c) for c in wanted],
    ).crossJoin(snaps)
    if has_activation:
        df = df.where(active)
    return FeatureSource(
        name="subscribers",
        df=df.select("subscriber_id", "snapshot_date", *wanted),
        categorical=tuple(wanted),
    )


def _source_frame(source: FeatureSource, settings: Settings, taken: set[str]) -> DataFrame:
    """The source's rows with protected, excluded and already-taken columns dropped."""
    missing = [k for k in KEYS if k not in source.df.columns]
    if missing:
        raise SchemaMismatchError(f"feature source {source.name}", missing, source.df.columns)
    banned = set(settings.protected_columns) | set(settings.exclude_features) | taken
    protected = sorted(set(source.df.columns) & set(settings.protected_columns))
    if protected:
        log.warning("feature source %s: protected column(s) %s dropped", source.name, protected)
    as_of = F.col(AS_OF) if AS_OF in source.df.columns else F.col("snapshot_date")
    cols = [c for c in source.df.columns if c not in (*KEYS, AS_OF) and c not in banned]
    return source.df.select(
        "subscriber_id",
        "snapshot_date",
        as_of.cast("date").alias(f"_as_of_{source.name}"),
        *[
            F.coalesce(F.col(c).cast("string"), F.lit("unknown")).alias(c)
            if c in source.categorical
            else F.col(c)
            for c in cols
        ],
    )


def population_at(sources: Sequence[FeatureSource], dates: Sequence[dt.date]) -> DataFrame:
    """Who exists at each T: the keys of the first source (the behavioral vectors)."""
    first = sources[0].df
    missing = [k for k in KEYS if k not in first.columns]
    if missing:
        raise SchemaMismatchError(f"feature source {sources[0].name}", missing, first.columns)
    return first.where(F.col("snapshot_date").isin(list(dates))).select(*KEYS)


def _join_sources(
    df: DataFrame,
    sources: Sequence[FeatureSource],
    settings: Settings,
    reserved: Sequence[str] = (),
) -> DataFrame:
    taken: set[str] = set(df.columns) | set(reserved)
    for i, source in enumerate(sources):
        frame = _source_frame(source, settings, taken)
        taken |= set(frame.columns)
        # The first source decides who exists at T; later ones are optional.
        df = df.join(frame, on=list(KEYS), how="inner" if i == 0 else "left")
        if i > 0:
            df = df.fillna("unknown", subset=[c for c in frame.columns if c in source.categorical])
    return df


# Columns the labels add; a feature source's column of the same name is dropped.
LABEL_COLUMNS = ("label", "label_event_date", "prior_outcome_count")


def feature_rows(
    sources: Sequence[FeatureSource], dates: Sequence[dt.date], settings: Settings
) -> DataFrame:
    """Keys, ``_as_of_<source>`` and the features of everyone at each T in ``dates``.

    The part of a training set no outcome changes: a job training several outcomes joins
    it once, caches it and passes it to :func:`build_training_set` for each.
    """
    return _join_sources(population_at(sources, dates), sources, settings, LABEL_COLUMNS)


def build_training_set(
    sources: Sequence[FeatureSource],
    outcomes_df: DataFrame,
    outcome: str,
    dates: Sequence[dt.date],
    settings: Settings,
    *,
    check_correlation: bool = True,
    features: DataFrame | None = None,
) -> DataFrame:
    """Labelled, point-in-time rows for ``outcome``: one per subscriber and snapshot in ``dates``.

    Columns: keys, ``label``, ``label_event_date``, features (``prior_outcome_count`` too when
    ``prior_outcome`` is ``feature``). Raises :class:`LeakageError` when a feature is as of a
    later date than its snapshot or mirrors the label. ``features``: :func:`feature_rows` of
    the same sources and dates, already joined (and usually cached) by the caller.
    """
    labelled = with_outcome_labels(
        population_at(sources, dates) if features is None else features.select(*KEYS),
        outcomes_df,
        outcome,
        settings.horizon_days,
        settings.lookback_days,
    )
    if settings.prior_outcome == "exclude":
        labelled = labelled.where(F.col("prior_outcome_count") == 0).drop("prior_outcome_count")
    if features is None:
        df = _join_sources(labelled, sources, settings, LABEL_COLUMNS)
    else:
        df = labelled.join(features, on=list(KEYS), how="inner")
    checked = check_point_in_time(df, [s.name for s in sources], settings.horizon_days)
    if check_correlation:
        check_label_mirrors(checked, feature_spec(checked, sources).numeric)
    return checked.drop(*[f"_as_of_{s.name}" for s in sources])


def check_point_in_time(df: DataFrame, source_names: Sequence[str], horizon_days: int) -> DataFrame:
    """Raise LeakageError unless every as-of date <= T and every label event is in (T, T+h]."""
    late_feature = [
        F.sum((F.col(f"_as_of_{n}") > F.col("snapshot_date")).cast("int")).alias(n)
        for n in source_names
    ]
    window_ok = (F.col("label_event_date") > F.col("snapshot_date")) & (
        F.col("label_event_date") <= F.date_add(F.col("snapshot_date"), horizon_days)
    )
    bad_label = F.sum(
        ((F.col("label") == 1) & ~F.coalesce(window_ok, F.lit(False))).cast("int")
    ).alias("_bad_labels")
    row = df.agg(*late_feature, bad_label).first()
    assert row is not None
    for name in source_names:
        if row[name]:
            example = (
                df.where(F.col(f"_as_of_{name}") > F.col("snapshot_date"))
                .select("snapshot_date", f"_as_of_{name}")
                .first()
            )
            raise LeakageError(
                f"feature source {name!r}: {row[name]} row(s) are as of a date after their "
                f"snapshot, e.g. as of {example[1]} for snapshot {example[0]}; features must "
                "use data up to the snapshot date only"
            )
    if row["_bad_labels"]:
        raise LeakageError(
            f"{row['_bad_labels']} positive label(s) come from events outside "
            f"(T, T+{horizon_days}d]"
        )
    return df


def check_label_mirrors(
    df: DataFrame, numeric: Sequence[str], max_corr: float = MAX_FEATURE_LABEL_CORR
) -> None:
    """Raise LeakageError when one feature alone nearly equals the label (one pass)."""
    if not numeric:
        return
    label = F.col("label").cast("double")

    def pearson(c: str) -> Column:
        # F.corr divides by zero under ANSI mode when a feature (or the label) is constant
        # in the sample; a constant cannot mirror the label, so null is the right answer.
        x = F.col(c).cast("double")
        return F.try_divide(F.covar_pop(x, label), F.stddev_pop(x) * F.stddev_pop(label))

    row = df.agg(*[pearson(c).alias(c) for c in numeric]).first()
    assert row is not None
    suspects = {c: row[c] for c in numeric if row[c] is not None and abs(row[c]) > max_corr}
    if suspects:
        name, corr = max(suspects.items(), key=lambda kv: abs(kv[1]))
        raise LeakageError(
            f"feature {name!r} has correlation {corr:.3f} with the label (limit {max_corr}); "
            "it is probably computed from data after the snapshot date"
        )


def build_scoring_set(
    sources: Sequence[FeatureSource],
    outcomes_df: DataFrame,
    outcome: str,
    snapshot_date: dt.date,
    settings: Settings,
) -> DataFrame:
    """The same rows and joins as training at T, without labels: what the champion scores.

    Prior outcomes (look-back) are applied exactly as in training: excluded or a feature.
    """
    prior = with_outcome_labels(
        population_at(sources, [snapshot_date]),
        outcomes_df.where(F.col("event_date") <= F.lit(snapshot_date)),
        outcome,
        settings.horizon_days,
        settings.lookback_days,
    ).select(*KEYS, "prior_outcome_count")
    if settings.prior_outcome == "exclude":
        prior = prior.where(F.col("prior_outcome_count") == 0).drop("prior_outcome_count")
    df = _join_sources(prior, sources, settings)
    checked = df.withColumn("label", F.lit(0)).withColumn(
        "label_event_date", F.lit(None).cast("date")
    )
    check_point_in_time(checked, [s.name for s in sources], settings.horizon_days)
    return df.drop(*[f"_as_of_{s.name}" for s in sources])
