"""Behavioral vectors: bandicoot 0.6.0 indicators and telco indicators, in Spark."""
