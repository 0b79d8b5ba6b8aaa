"""MLflow set-up shared by every model that telcoseg trains."""

from __future__ import annotations

import os

import mlflow


def configure(tracking_uri: str, artifacts_dir: str, experiment: str) -> str:
    """Point MLflow at ``tracking_uri`` and an experiment whose artifacts live under
    ``artifacts_dir`` (a local folder or a URI); create it if needed. Returns its id."""
    mlflow.set_tracking_uri(tracking_uri)
    existing = mlflow.get_experiment_by_name(experiment)
    if existing is not None:
        mlflow.set_experiment(experiment_id=existing.experiment_id)
        return str(existing.experiment_id)
    if "://" in artifacts_dir:
        location = artifacts_dir.rstrip("/") + "/mlflow"
    else:
        os.makedirs(artifacts_dir, exist_ok=True)
        location = "file://" + os.path.join(os.path.abspath(artifacts_dir), "mlflow")
    experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return str(experiment_id)
