"""The model: impute -> index categories -> assemble -> GBT -> prior-corrected probability.

Trees are unweighted by default (``search.class_weights``); with balanced instance weights
the last stage undoes the prior shift they cause, so ``propensity`` stays a calibrated
probability (weights move the log-odds by log(w_pos / w_neg); subtracting it restores the
base rate). Unweighted, that stage is the identity.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pyspark import keyword_only
from pyspark.ml import Pipeline, PipelineModel, Transformer
from pyspark.ml.classification import GBTClassifier
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import (
    Imputer,
    SQLTransformer,
    StringIndexer,
    VectorAssembler,
)
from pyspark.ml.functions import vector_to_array
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from telcoseg.propensity.dataset import FeatureSpec
from telcoseg.propensity.settings import SearchSettings

log = logging.getLogger(__name__)

SCORE = "propensity"
_EPS = 1e-9


class PriorShift(Transformer, DefaultParamsReadable["PriorShift"], DefaultParamsWritable):
    """``probability[1]`` with its log-odds moved by ``-shift``, as column ``propensity``.

    Built-in column functions only (vector_to_array), so it runs in the JVM on every row.
    """

    shift = Param(
        Params._dummy(), "shift", "log-odds to subtract", typeConverter=TypeConverters.toFloat
    )

    @keyword_only
    def __init__(self, *, shift: float = 0.0) -> None:
        super().__init__()
        self._setDefault(shift=0.0)
        self._set(**self._input_kwargs)

    def getShift(self) -> float:
        return float(self.getOrDefault(self.shift))

    def _transform(self, dataset: DataFrame) -> DataFrame:
        p = F.least(F.greatest(vector_to_array("probability")[1], F.lit(_EPS)), F.lit(1 - _EPS))
        logit = F.log(p / (F.lit(1.0) - p)) - F.lit(self.getShift())
        return dataset.withColumn(SCORE, F.lit(1.0) / (F.lit(1.0) + F.exp(-logit)))


@dataclass(frozen=True)
class ClassWeights:
    """Balanced instance weights for a base rate: each class carries half the total weight."""

    positive: float
    negative: float

    @classmethod
    def balanced(cls, base_rate: float) -> ClassWeights:
        rate = min(max(base_rate, 1e-6), 1 - 1e-6)
        return cls(positive=0.5 / rate, negative=0.5 / (1 - rate))

    @classmethod
    def for_search(cls, search: SearchSettings, base_rate: float) -> ClassWeights:
        """The weights ``search.class_weights`` asks for at this base rate."""
        if search.class_weights == "balanced":
            return cls.balanced(base_rate)
        return cls(positive=1.0, negative=1.0)

    @property
    def log_odds_shift(self) -> float:
        return math.log(self.positive / self.negative)


def with_weights(df: DataFrame, weights: ClassWeights) -> DataFrame:
    """Add ``weight`` from ``label``."""
    return df.withColumn(
        "weight",
        F.when(F.col("label") == 1, F.lit(weights.positive)).otherwise(F.lit(weights.negative)),
    )


def build_pipeline(
    spec: FeatureSpec,
    params: Mapping[str, Any],
    search: SearchSettings,
    weights: ClassWeights,
    seed: int,
) -> Pipeline:
    """The unfitted pipeline for one point of the grid."""
    stages: list[Any] = []
    numeric = list(spec.numeric)
    imputed = [f"_imp_{c}" for c in numeric]
    if numeric:
        # Imputer needs floating inputs; median is robust to heavy-tailed usage counts.
        stages.append(Imputer(inputCols=numeric, outputCols=imputed, strategy="median"))
    # Categories go to the trees as nominal features (StringIndexer metadata), not one-hot:
    # a split then groups levels by their positive rate, so one TAC column competes with
    # the ~100 continuous indicators on equal terms (ten one-hot slots each lost to noise
    # splits of continuous columns: out-of-time AUC 0.62 where the TAC alone gives 0.74).
    indexed = [f"{INDEX_PREFIX}{c}" for c in spec.categorical]
    if spec.categorical:
        capped = {c for c, _ in spec.levels}
        if capped:
            stages.append(_capping_stage(spec.levels))
        stages.append(
            StringIndexer(
                inputCols=[CAP_PREFIX + c if c in capped else c for c in spec.categorical],
                outputCols=indexed,
                handleInvalid="keep",
                stringOrderType="frequencyDesc",
            )
        )
    stages.append(
        VectorAssembler(inputCols=[*imputed, *indexed], outputCol="features", handleInvalid="keep")
    )
    stages.append(
        GBTClassifier(
            featuresCol="features",
            labelCol="label",
            weightCol="weight",
            maxDepth=int(params["max_depth"]),
            maxIter=int(params["max_iter"]),
            stepSize=float(params["step_size"]),
            subsamplingRate=search.subsampling_rate,
            minInstancesPerNode=search.min_instances_per_node,
            # Every category's levels (+ "other" + unseen) must fit in the bins.
            maxBins=max(search.max_bins, spec.max_arity),
            seed=seed,
        )
    )
    stages.append(PriorShift(shift=weights.log_odds_shift))
    return Pipeline(stages=stages)


def cast_numeric(df: DataFrame, spec: FeatureSpec) -> DataFrame:
    """Numeric inputs as doubles (Imputer and the model signature want one type)."""
    return df.select(
        *[F.col(c).cast("double").alias(c) if c in spec.numeric else F.col(c) for c in df.columns]
    )


def drop_empty_numeric(df: DataFrame, spec: FeatureSpec) -> FeatureSpec:
    """Drop numeric columns with no value at all (Imputer cannot fill them)."""
    if not spec.numeric:
        return spec
    row = df.agg(*[F.count(F.col(c)).alias(c) for c in spec.numeric]).first()
    assert row is not None
    empty = [c for c in spec.numeric if not row[c]]
    if empty:
        log.warning("dropping %d feature(s) with no values: %s", len(empty), empty[:10])
    return replace(spec, numeric=tuple(c for c in spec.numeric if c not in empty))


OTHER_LEVEL = "other"
CAP_PREFIX = "_cap_"
INDEX_PREFIX = "_idx_"


def cap_levels(df: DataFrame, spec: FeatureSpec, max_levels: int) -> FeatureSpec:
    """Keep each categorical column's ``max_levels`` most frequent levels in ``df``.

    Columns with more levels get an entry in ``spec.levels``: :func:`build_pipeline` maps
    their other values to ``OTHER_LEVEL`` inside the fitted pipeline, so scoring applies
    the same mapping. One aggregation per column, over the (small) training rows.
    """
    levels = []
    arity = 0
    for c in spec.categorical:
        top = (
            df.groupBy(c).count().orderBy(F.desc("count"), F.asc(c)).limit(max_levels + 1).collect()
        )
        # Levels (capped: the kept ones + "other", max_levels + 1 = len(top)), + 1 for
        # StringIndexer's bucket of levels unseen in training (handleInvalid=keep).
        arity = max(arity, len(top) + 1)
        if len(top) > max_levels:
            kept = tuple(str(r[c]) for r in top[:max_levels] if r[c] is not None)
            levels.append((c, kept))
            log.info(
                "category %s: kept its %d most frequent levels, others -> %r",
                c,
                len(kept),
                OTHER_LEVEL,
            )
    return replace(spec, levels=tuple(levels), max_arity=arity)


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _capping_stage(levels: Sequence[tuple[str, Sequence[str]]]) -> SQLTransformer:
    """``_cap_<c>``: the value when it is a kept level, else OTHER_LEVEL (built-ins only)."""
    cases = [
        f"CASE WHEN `{c}` IN ({', '.join(_sql_string(v) for v in kept)}) THEN `{c}` "
        f"ELSE {_sql_string(OTHER_LEVEL)} END AS `{CAP_PREFIX}{c}`"
        for c, kept in levels
    ]
    return SQLTransformer(statement=f"SELECT *, {', '.join(cases)} FROM __THIS__")


def roc_auc(scored_df: DataFrame) -> float:
    """Area under ROC of ``propensity`` against ``label``."""
    evaluator = BinaryClassificationEvaluator(
        rawPredictionCol=SCORE, labelCol="label", metricName="areaUnderROC"
    )
    return float(evaluator.evaluate(scored_df))


@dataclass(frozen=True)
class SearchResult:
    """The fitted model, its parameters and every grid point's validation AUC."""

    model: PipelineModel
    params: dict[str, Any]
    trials: list[dict[str, Any]]


def search_and_fit(
    train_df: DataFrame,
    validation_df: DataFrame,
    spec: FeatureSpec,
    search: SearchSettings,
    seed: int,
) -> SearchResult:
    """Fit each grid point on train, pick the best validation ROC AUC, refit if asked.

    Weights are recomputed from the base rate of whatever the final fit sees.
    """
    base_rate = _base_rate(train_df)
    weights = ClassWeights.for_search(search, base_rate)
    weighted_train = with_weights(train_df, weights).cache()
    trials: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any], PipelineModel] | None = None
    for params in search.grid():
        model = build_pipeline(spec, params, search, weights, seed).fit(weighted_train)
        auc = roc_auc(model.transform(validation_df))
        trials.append({**params, "validation_roc_auc": auc})
        log.info("grid point %s: validation ROC AUC %.4f", params, auc)
        if best is None or auc > best[0]:
            best = (auc, dict(params), model)
    weighted_train.unpersist()
    assert best is not None
    _, params, model = best
    if search.refit:
        both = train_df.unionByName(validation_df)
        weights = ClassWeights.for_search(search, _base_rate(both))
        model = build_pipeline(spec, params, search, weights, seed).fit(with_weights(both, weights))
    return SearchResult(model=model, params=params, trials=trials)


def _base_rate(df: DataFrame) -> float:
    row = df.agg(F.avg(F.col("label").cast("double")).alias("rate")).first()
    return float(row["rate"]) if row and row["rate"] is not None else 0.0


def feature_importances(model: PipelineModel, sample_df: DataFrame) -> list[tuple[str, float]]:
    """GBT importances by input column name, largest first."""
    gbt = model.stages[-2]
    assembled = model.transform(sample_df.limit(1)).schema["features"].metadata
    attrs: list[dict[str, Any]] = []
    for group in assembled.get("ml_attr", {}).get("attrs", {}).values():
        attrs.extend(group)
    names = {a["idx"]: _clean_name(a["name"]) for a in attrs}
    values = gbt.featureImportances.toArray()
    pairs = [(names.get(i, f"f{i}"), float(v)) for i, v in enumerate(values)]
    return sorted(pairs, key=lambda kv: -kv[1])


def _clean_name(name: str) -> str:
    for prefix in ("_imp_", INDEX_PREFIX):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


def input_columns(model: PipelineModel) -> Sequence[str]:
    """Columns the fitted pipeline reads (for the MLflow signature and scoring)."""
    cols: list[str] = []
    for stage in model.stages:
        if stage.hasParam("inputCols") and stage.isSet("inputCols"):
            for c in stage.getOrDefault("inputCols"):
                # A capped category is read through its _cap_ column (_capping_stage).
                name = c.removeprefix(CAP_PREFIX)
                if not name.startswith("_"):
                    cols.append(name)
    return cols
