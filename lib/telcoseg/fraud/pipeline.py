"""Indicators -> scored lines -> ranked alerts, without I/O (the job reads and writes)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from telcoseg.fraud.model import (
    enough_labels,
    fit_model,
    label_table,
    training_set,
    with_model_score,
)
from telcoseg.fraud.score import with_allow_list, with_final_score, with_rule_score
from telcoseg.fraud.settings import Settings
from telcoseg.session import for_iterative_fitting

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoredLines:
    """Every scored line, the score version, and what the supervised model did."""

    lines: DataFrame
    score_version: str
    model_used: bool
    positives: int
    negatives: int


def score_lines(
    indicators_df: DataFrame,
    settings: Settings,
    *,
    allow_ids_df: DataFrame | None = None,
    labels_table_df: DataFrame | None = None,
) -> ScoredLines:
    """Rule score and reasons for every line; a model score too when labels suffice."""
    scored = with_rule_score(indicators_df, settings.rules, settings.mad_floor)
    scored = with_allow_list(scored, settings.allow_list, allow_ids_df)
    labels = settings.labels
    has_labels = bool(labels.fraud_ids or labels.legit_ids or labels_table_df is not None)
    model_used, pos, neg = False, 0, 0
    if has_labels:
        lab = label_table(labels, labels_table_df, indicators_df)
        train = for_iterative_fitting(training_set(indicators_df, lab, labels)).cache()
        fit, pos, neg = enough_labels(train, labels)
        if fit:
            model = fit_model(train, labels)
            scored = with_model_score(scored, model)
            model_used = True
        else:
            log.warning(
                "fraud labels: %d positive / %d negative lines, need %d / %d: rule score only",
                pos,
                neg,
                labels.min_positives,
                labels.min_negatives,
            )
        train.unpersist()
    scored = with_final_score(scored, labels.blend_weight if model_used else None)
    return ScoredLines(
        lines=scored,
        score_version=settings.version(with_model=model_used),
        model_used=model_used,
        positives=pos,
        negatives=neg,
    )


def allow_listed_count(scored_df: DataFrame) -> int:
    """Lines the allow-list kept out of the alerts (for the run log)."""
    return scored_df.filter(F.col("is_allow_listed")).count()
