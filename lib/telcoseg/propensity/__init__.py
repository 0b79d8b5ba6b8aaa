"""Propensity models: point-in-time labels, GBT pipelines, fairness-gated promotion."""
