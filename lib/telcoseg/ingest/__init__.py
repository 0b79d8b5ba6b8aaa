"""Ingestion: landing files -> bronze (raw strings) -> silver (typed, validated, pseudonymized).

See :mod:`telcoseg.ingest.pipeline` for the runs and :mod:`telcoseg.ingest.contract` for
what each source must contain.
"""
