"""Privacy-safe publication: coarse location, k-anonymity, differential privacy, budget ledger."""
