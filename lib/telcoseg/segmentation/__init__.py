"""Behavioral segmentation: macro/micro segments, stable ids, profiles, migration, fairness."""
