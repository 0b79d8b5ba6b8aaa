"""MLflow for segmentation: log a model directory as artifacts, register it, load by version.

The model is several Spark ML models plus ``segments.json`` (see
:mod:`telcoseg.segmentation.model`), so it is logged with ``mlflow.log_artifacts`` (no
flavor, no jars, works offline) and registered as a model version whose source is that
artifact folder. Loading downloads the version's artifacts and reads them with Spark ML.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import mlflow
from mlflow import MlflowClient

from telcoseg.errors import ModelVersionNotFoundError, TelcosegError
from telcoseg.segmentation.model import SegmentationModel

log = logging.getLogger(__name__)

MODEL_ARTIFACT = "segmentation_model"


def _flat_params(settings: Mapping[str, Any]) -> dict[str, str]:
    # MLflow params are strings of at most 6000 characters.
    return {k: json.dumps(v, default=str)[:6000] for k, v in settings.items()}


def log_and_register(
    model: SegmentationModel,
    name: str,
    metrics: Mapping[str, float],
    json_artifacts: Mapping[str, Sequence[Mapping[str, Any]] | Mapping[str, Any]],
) -> int:
    """In the active run: params, metrics, the model directory and JSON artifacts; then
    register the model directory under ``name``. Returns the new version number."""
    run = mlflow.active_run()
    if run is None:
        raise TelcosegError("log_and_register needs an active MLflow run (mlflow.start_run)")
    mlflow.log_params(_flat_params(model.info.get("settings", {})))
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, MODEL_ARTIFACT)
        model.save(model_dir)
        mlflow.log_artifacts(model_dir, artifact_path=MODEL_ARTIFACT)
        for art_name, content in json_artifacts.items():
            path = os.path.join(tmp, f"{art_name}.json")
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(content, fh, indent=1, default=str)
            mlflow.log_artifact(path)
    client = MlflowClient()
    try:
        client.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(name, description="telcoseg behavioral segmentation")
    source = f"{run.info.artifact_uri.rstrip('/')}/{MODEL_ARTIFACT}"
    version = client.create_model_version(name, source=source, run_id=run.info.run_id)
    log.info("segmentation model registered as %s version %s", name, version.version)
    return int(version.version)


def latest_version(name: str) -> int:
    """Highest registered version of ``name``."""
    client = MlflowClient()
    versions = client.search_model_versions(f"name = '{name}'")
    if not versions:
        raise ModelVersionNotFoundError(
            f"no registered model {name!r}: train one first (jobs/segment_train.py)"
        )
    return max(int(v.version) for v in versions)


def load_version(name: str, version: int | None = None) -> tuple[SegmentationModel, int]:
    """The model of ``version`` (default: latest) downloaded from MLflow, and its number."""
    number = latest_version(name) if version is None else version
    client = MlflowClient()
    try:
        mv = client.get_model_version(name, str(number))
    except mlflow.exceptions.MlflowException:
        raise ModelVersionNotFoundError(f"model {name!r} has no version {number}") from None
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=mv.source, dst_path=tempfile.mkdtemp(prefix="telcoseg-seg-")
    )
    return SegmentationModel.load(local), number
