"""Preparation: indicators from config -> one standardized ``features`` vector, as a Spark ML
pipeline that is fitted once, persisted with the model, and replayed at assignment.

Stages: cast to double (+ 0/1 flags of categorical values) -> median imputation ->
heavy-tail transform (signed log or quantile rank) -> assemble -> standardize.
Protected attributes never enter: naming one is an error, globs skip them.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Mapping, Sequence

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import (
    Imputer,
    QuantileDiscretizer,
    SQLTransformer,
    StandardScaler,
    StandardScalerModel,
    VectorAssembler,
)
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.errors import ConfigError, ProtectedAttributeError, SchemaMismatchError
from telcoseg.segmentation.settings import Settings

log = logging.getLogger(__name__)

FEATURES = "features"
KEY_COLUMNS = ("subscriber_id", "snapshot_date")
# Temporary column prefixes of the pipeline (raw as double, imputed, transformed).
RAW, IMPUTED, TRANSFORMED, ASSEMBLED = "__x_", "__i_", "__t_", "__assembled"
_NUMERIC = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType)
_NUMERIC_ALL = (*_NUMERIC, T.DecimalType)


def flag_column(column: str, value: str) -> str:
    """Name of the 0/1 indicator of ``column == value``, e.g. ``tc_plan_type__prepaid``."""
    safe = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")
    return f"{column}__{safe}"


def _is_protected(column: str, protected: Sequence[str]) -> bool:
    lowered = column.lower()
    return any(lowered == p.lower() or fnmatch.fnmatch(lowered, p.lower()) for p in protected)


def check_protected(settings: Settings) -> None:
    """Refuse a configuration that names a protected attribute as an input."""
    named = [p for p in settings.indicators if not _has_glob(p)] + list(settings.categorical)
    bad = sorted({c for c in named if _is_protected(c, settings.protected)})
    if bad:
        raise ProtectedAttributeError(
            f"segmentation: protected attribute(s) {bad} configured as input "
            f"(segmentation.indicators / segmentation.categorical); protected attributes "
            f"{list(settings.protected)} are for the fairness audit only and never inputs"
        )


def _has_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def select_indicators(schema: T.StructType, settings: Settings) -> list[str]:
    """Numeric input columns of ``schema`` chosen by ``settings`` (config order, no dups).

    Exact names must exist and be numeric; globs match numeric columns only; protected
    attributes, keys and ``exclude`` are never chosen. Categorical flags are not included
    (see :func:`flag_columns`).
    """
    check_protected(settings)
    types = {f.name: f.dataType for f in schema.fields}
    numeric = [n for n, t in types.items() if isinstance(t, _NUMERIC_ALL)]
    candidates = [
        n
        for n in numeric
        if n not in KEY_COLUMNS
        and not _is_protected(n, settings.protected)
        and not any(fnmatch.fnmatch(n, x) for x in settings.exclude)
        and n not in settings.categorical
    ]
    chosen: list[str] = []
    missing: list[str] = []
    for pattern in settings.indicators:
        if pattern == "*" or _has_glob(pattern):
            hits = [n for n in candidates if pattern == "*" or fnmatch.fnmatch(n, pattern)]
            if not hits:
                log.warning("segmentation: indicator pattern %r matches no column", pattern)
            chosen.extend(h for h in hits if h not in chosen)
        elif pattern not in types:
            missing.append(pattern)
        elif not isinstance(types[pattern], _NUMERIC_ALL):
            raise ConfigError(
                f"segmentation.indicators: column {pattern!r} is {types[pattern].simpleString()}, "
                "not numeric; list categorical columns under segmentation.categorical"
            )
        elif pattern not in chosen:
            chosen.append(pattern)
    if missing:
        raise SchemaMismatchError("segmentation input", missing, sorted(types))
    return chosen


def flag_columns(schema: T.StructType, settings: Settings) -> dict[str, tuple[str, str]]:
    """``{flag column: (source column, value)}`` for configured categoricals present."""
    names = set(schema.names)
    flags: dict[str, tuple[str, str]] = {}
    for column, values in settings.categorical.items():
        if column not in names:
            log.warning("segmentation.categorical: column %r is absent; skipped", column)
            continue
        for value in values:
            flags[flag_column(column, value)] = (column, value)
    return flags


def heavy_tailed(df: DataFrame, columns: Sequence[str], settings: Settings) -> list[str]:
    """Columns to transform: the configured list, or (``auto``) those skewed beyond
    ``skew_threshold`` with no negative values (counts, volumes, durations, money)."""
    if settings.transform == "none":
        return []
    if tuple(settings.heavy_tailed) != ("auto",):
        return [c for c in columns if any(fnmatch.fnmatch(c, p) for p in settings.heavy_tailed)]
    if not columns:
        return []
    stats = df.select(
        *[F.skewness(F.col(c).cast("double")).alias(f"s{i}") for i, c in enumerate(columns)],
        *[F.min(F.col(c).cast("double")).alias(f"m{i}") for i, c in enumerate(columns)],
    ).first()
    assert stats is not None
    chosen = [
        c
        for i, c in enumerate(columns)
        if stats[f"s{i}"] is not None
        and stats[f"s{i}"] > settings.skew_threshold
        and (stats[f"m{i}"] or 0.0) >= 0.0
    ]
    log.info("segmentation: %d of %d indicators are heavy-tailed", len(chosen), len(columns))
    return chosen


def non_empty(df: DataFrame, columns: Sequence[str]) -> list[str]:
    """``columns`` that hold at least one value (the imputer has no median otherwise)."""
    if not columns:
        return []
    row = df.select(*[F.count(F.col(c)).alias(f"n{i}") for i, c in enumerate(columns)]).first()
    assert row is not None
    empty = [c for i, c in enumerate(columns) if not row[f"n{i}"]]
    if empty:
        log.warning("segmentation: %d indicator(s) are empty and dropped: %s", len(empty), empty)
    return [c for c in columns if c not in empty]


def _q(name: str) -> str:
    return f"`{name}`"


def build_preparation(
    indicators: Sequence[str],
    flags: Mapping[str, tuple[str, str]],
    heavy: Sequence[str],
    settings: Settings,
) -> Pipeline:
    """The unfitted preparation pipeline for ``indicators`` + ``flags`` (in that order)."""
    inputs = [*indicators, *flags]
    casts = [f"CAST({_q(c)} AS DOUBLE) AS {_q(RAW + c)}" for c in indicators]
    for flag, (column, value) in flags.items():
        literal = value.replace("'", "''")
        # Null category stays null, so it is imputed like any missing value.
        casts.append(
            f"CAST(lower({_q(column)}) = lower('{literal}') AS DOUBLE) AS {_q(RAW + flag)}"
        )
    stages: list = [
        SQLTransformer(statement=f"SELECT *, {', '.join(casts)} FROM __THIS__"),
        Imputer(
            inputCols=[RAW + c for c in inputs],
            outputCols=[IMPUTED + c for c in inputs],
            strategy="median",
        ),
    ]
    heavy_set = [c for c in heavy if c in indicators]
    if settings.transform == "quantile" and heavy_set:
        stages.append(
            QuantileDiscretizer(
                inputCols=[IMPUTED + c for c in heavy_set],
                outputCols=[TRANSFORMED + c for c in heavy_set],
                numBuckets=settings.quantile_buckets,
                handleInvalid="keep",
                relativeError=0.001,
            )
        )
        plain = [c for c in inputs if c not in heavy_set]
        exprs = [f"{_q(IMPUTED + c)} AS {_q(TRANSFORMED + c)}" for c in plain]
    else:
        exprs = [
            f"SIGN({_q(IMPUTED + c)}) * LN(1 + ABS({_q(IMPUTED + c)})) AS {_q(TRANSFORMED + c)}"
            if c in heavy_set
            else f"{_q(IMPUTED + c)} AS {_q(TRANSFORMED + c)}"
            for c in inputs
        ]
    if exprs:
        stages.append(SQLTransformer(statement=f"SELECT *, {', '.join(exprs)} FROM __THIS__"))
    stages += [
        VectorAssembler(
            inputCols=[TRANSFORMED + c for c in inputs], outputCol=ASSEMBLED, handleInvalid="keep"
        ),
        # Not centred: Spark's bisecting split perturbs a center by 1e-4 of its norm, and
        # the root center of centred data is ~0, so the first split would never happen.
        # k-means is translation invariant, so centring buys nothing.
        StandardScaler(inputCol=ASSEMBLED, outputCol=FEATURES, withMean=False, withStd=True),
    ]
    return Pipeline(stages=stages)


def fit_preparation(df: DataFrame, settings: Settings) -> tuple[PipelineModel, list[str]]:
    """Fit the preparation on ``df``; returns the model and its input names (flags last)."""
    model, inputs, _ = fit_preparation_with_transforms(df, settings)
    return model, inputs


def fit_preparation_with_transforms(
    df: DataFrame, settings: Settings
) -> tuple[PipelineModel, list[str], list[str]]:
    """As :func:`fit_preparation`, plus the inputs that got the signed-log transform.

    With ``heavy_tailed: [auto]`` that set depends on the sample's skewness, so two
    retrains can differ; stable-id matching needs it to compare their centroids.
    """
    indicators = select_indicators(df.schema, settings)
    flags = flag_columns(df.schema, settings)
    if not indicators and not flags:
        raise ConfigError("segmentation.indicators selects no numeric column of the input")
    indicators = non_empty(df, indicators)
    heavy = heavy_tailed(df, indicators, settings)
    model = build_preparation(indicators, flags, heavy, settings).fit(df)
    inputs = [*indicators, *flags]
    log.info(
        "segmentation: preparation fitted on %d indicators (%d flags, %d heavy-tailed, %s)",
        len(inputs),
        len(flags),
        len(heavy),
        settings.transform,
    )
    signed_log = [c for c in heavy if c in inputs] if settings.transform == "signed_log" else []
    return model, inputs, signed_log


def scaler_of(model: PipelineModel) -> StandardScalerModel:
    """The fitted scaler (its mean and std map centroids back to transformed units)."""
    scaler = model.stages[-1]
    if not isinstance(scaler, StandardScalerModel):
        raise TypeError("last stage of a segmentation preparation must be a StandardScaler")
    return scaler


def inputs_of(model: PipelineModel) -> list[str]:
    """Indicator names of a fitted preparation, in vector order."""
    assembler = model.stages[-2]
    assert isinstance(assembler, VectorAssembler)
    return [c[len(TRANSFORMED) :] for c in assembler.getInputCols()]
