"""One workflow definition, a local runner, and its export as a Databricks job."""
