"""The per-snapshot HTML report, built from the privacy-safe public tables only."""
