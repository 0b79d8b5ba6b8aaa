"""SIM-box fraud detection (per-line indicators, explainable score) and number-range anomalies."""
