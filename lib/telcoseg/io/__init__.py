"""Delta Lake tables: with delta-spark when present, else Spark files + delta-rs commits."""
