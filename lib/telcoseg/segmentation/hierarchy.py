"""Macro and micro segments with Spark MLlib's bisecting k-means.

Macro first, then micro: one ``BisectingKMeans`` with ``k_macro`` leaves cuts the
population into macro segments, and each macro segment is bisected further by its own
``BisectingKMeans``. That continues the same top-down bisecting tree below the macro cut,
so every micro segment lies inside exactly one macro segment by construction (the
alternative, cutting one deep tree, needs the tree's internal nodes, which Spark's
Python API does not expose).

k at each level is fixed in config or chosen by the mean silhouette (squared Euclidean,
``ClusteringEvaluator``) on a sample: the smallest k whose silhouette is within
``silhouette_tolerance`` of the best does not lose to a larger one (parsimony).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyspark.ml.clustering import BisectingKMeans, BisectingKMeansModel
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from telcoseg.segmentation.preparation import FEATURES
from telcoseg.segmentation.settings import Settings

log = logging.getLogger(__name__)

MACRO_PRED = "__macro"
MICRO_PRED = "__micro"


@dataclass
class Hierarchy:
    """Fitted macro model, micro model per macro index (absent: not split), diagnostics."""

    macro: BisectingKMeansModel
    micro: dict[int, BisectingKMeansModel]
    macro_sizes: list[int]
    micro_sizes: dict[int, list[int]]
    info: dict[str, object] = field(default_factory=dict)


def bisecting(k: int, settings: Settings, prediction_col: str) -> BisectingKMeans:
    """A configured (unfitted) bisecting k-means on the ``features`` column."""
    return BisectingKMeans(
        k=k,
        maxIter=settings.max_iter,
        seed=settings.seed,
        featuresCol=FEATURES,
        predictionCol=prediction_col,
        minDivisibleClusterSize=settings.min_divisible_cluster_size,
    )


def silhouette(df: DataFrame, prediction_col: str) -> float:
    """Mean silhouette (squared Euclidean) of ``prediction_col`` over ``df``."""
    evaluator = ClusteringEvaluator(
        featuresCol=FEATURES,
        predictionCol=prediction_col,
        metricName="silhouette",
        distanceMeasure="squaredEuclidean",
    )
    return float(evaluator.evaluate(df))


def choose_k(
    sample_df: DataFrame, k_range: tuple[int, int], settings: Settings
) -> tuple[int, dict[int, float]]:
    """k in ``k_range`` by silhouette on ``sample_df``; returns k and every k's score.

    A larger k must beat the best smaller k by ``silhouette_tolerance``: near-ties go to
    fewer, larger segments, which are easier to act on and more stable across retrains.
    """
    scores: dict[int, float] = {}
    for k in range(k_range[0], k_range[1] + 1):
        model = bisecting(k, settings, "__k").fit(sample_df)
        found = len(model.clusterCenters())
        if found < k:  # bisecting stops when nothing is divisible: larger k is the same
            if found >= 2 and found not in scores:
                scores[found] = silhouette(model.transform(sample_df), "__k")
            break
        scores[k] = silhouette(model.transform(sample_df), "__k")
    if not scores:
        return 1, {}
    best = min(scores)
    for k in sorted(scores):
        if scores[k] > scores[best] + settings.silhouette_tolerance:
            best = k
    return best, scores


def _sample(df: DataFrame, n_rows: int, size: int, seed: int) -> DataFrame:
    return df if n_rows <= size else df.sample(fraction=min(1.0, 1.1 * size / n_rows), seed=seed)


def fit_hierarchy(prepared_df: DataFrame, settings: Settings) -> Hierarchy:
    """Fit macro then micro segments on ``prepared_df`` (a ``features`` column).

    The caller should cache ``prepared_df``: it is scanned once per macro segment.
    """
    n_rows = prepared_df.count()
    sel = _sample(prepared_df, n_rows, settings.silhouette_sample_size, settings.seed).persist()
    info: dict[str, object] = {"training_rows": n_rows}
    if settings.k_macro is not None:
        k_macro, macro_scores = settings.k_macro, {}
    else:
        k_macro, macro_scores = choose_k(sel, settings.k_macro_range, settings)
    macro = bisecting(max(k_macro, 2), settings, MACRO_PRED).fit(prepared_df)
    macro_sizes = [int(s) for s in macro.summary.clusterSizes]
    info.update(k_macro=len(macro_sizes), macro_silhouette_by_k=macro_scores)
    log.info("segmentation: %d macro segments, sizes %s", len(macro_sizes), macro_sizes)

    with_macro = macro.transform(prepared_df).select(FEATURES, MACRO_PRED)
    sel_macro = macro.transform(sel).select(FEATURES, MACRO_PRED).persist()
    micro: dict[int, BisectingKMeansModel] = {}
    micro_sizes: dict[int, list[int]] = {}
    micro_scores: dict[str, dict[int, float]] = {}
    for i, size in enumerate(macro_sizes):
        k_cap = size // max(settings.min_micro_size, 1)
        if k_cap < 2 or settings.k_micro == 1:
            micro_sizes[i] = [size]
            continue
        part = with_macro.filter(F.col(MACRO_PRED) == i).select(FEATURES)
        if settings.k_micro is not None:
            k = min(settings.k_micro, k_cap)
        else:
            lo, hi = settings.k_micro_range
            sel_part = sel_macro.filter(F.col(MACRO_PRED) == i).select(FEATURES)
            if sel_part.limit(4 * hi).count() < 4 * hi:
                micro_sizes[i] = [size]
                continue
            k, scores = choose_k(sel_part, (lo, max(lo, min(hi, k_cap))), settings)
            micro_scores[str(i)] = scores
        if k < 2:
            micro_sizes[i] = [size]
            continue
        model = bisecting(k, settings, MICRO_PRED).fit(part)
        micro[i] = model
        micro_sizes[i] = [int(s) for s in model.summary.clusterSizes]
    sel.unpersist()
    sel_macro.unpersist()
    info.update(
        k_micro_by_macro={str(i): len(s) for i, s in micro_sizes.items()},
        micro_silhouette_by_k=micro_scores,
    )
    return Hierarchy(macro, micro, macro_sizes, micro_sizes, info)
