"""Synthetic operator data with a known truth: landing zone files plus a truth folder."""
