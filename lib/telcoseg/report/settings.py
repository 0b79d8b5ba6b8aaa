"""The ``report:`` config section: where inputs live, what the heat map shows."""

from __future__ import annotations

from dataclasses import dataclass, field

# Input tables as "layer/name" (cfg.paths.table(layer, name)); other teams own them.
DEFAULT_SOURCES: dict[str, str] = {
    "cells": "silver/cells",
    "subscribers": "silver/subscribers",
    "cdr": "silver/cdr",
    "behavior_vectors": "gold/behavior_vectors",
    "segment_assignments": "gold/segment_assignments",
    "segment_profiles": "gold/segment_profiles",
    "propensity_scores": "gold/propensity_scores",
    "propensity_evaluation": "gold/propensity_evaluation",
    "fairness_audit": "gold/propensity_fairness",
    "fraud_alerts": "gold/fraud_alerts",
    "campaign_ab": "gold/campaign_ab",
    "ingest_runs": "ops/ingest_runs",
}


@dataclass(frozen=True)
class Settings:
    """Validated ``report:`` section."""

    title: str = "telcoseg: customer behavior report"
    sources: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SOURCES))
    # Indicators of the segment x indicator heat map (names or globs; only those with
    # clamp bounds in privacy.clamp_bounds can be published as DP means).
    heatmap_indicators: tuple[str, ...] = ("tc_*",)
    max_heatmap_indicators: int = 16
    figure_dpi: int = 96

    def __post_init__(self) -> None:
        for name, where in self.sources.items():
            if where.count("/") != 1:
                raise ValueError(f"sources.{name} must be 'layer/name', got {where!r}")
        if self.max_heatmap_indicators < 1:
            raise ValueError("max_heatmap_indicators must be at least 1")

    def source(self, name: str) -> tuple[str, str]:
        """(layer, table) of input ``name``."""
        layer, table = self.sources.get(name, DEFAULT_SOURCES[name]).split("/")
        return layer, table
