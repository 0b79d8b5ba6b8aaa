"""MLflow: experiment set-up, logging a candidate, the promotion rule, loading the champion.

The ``champion`` alias of a registered model moves to a new version only when the
version beats the current champion on the out-of-time metric *and* passes the fairness
audit. Every decision is a tag on the version (``promotion_decision``,
``promotion_reason``) and a row of the Delta table of decisions.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mlflow
import mlflow.spark
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from pyspark.ml import PipelineModel

from telcoseg.errors import ChampionNotFoundError
from telcoseg.propensity.labels import outcome_key

log = logging.getLogger(__name__)

CHAMPION = "champion"
# The model needs only pyspark at load time (no Maven, no jars): say so instead of letting
# MLflow infer requirements, which imports the model in a subprocess.
PIP_REQUIREMENTS = ["pyspark==4.2.0"]


def model_name(prefix: str, outcome: str) -> str:
    """Registered model name of one outcome, e.g. ``telcoseg_propensity_adopt_streaming``."""
    return f"{prefix}_{outcome_key(outcome)}"


def log_tables(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """Each table as ``evaluation/<name>.json`` (records) and ``.csv`` in the active run."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, rows in tables.items():
            records = [dict(r) for r in rows]
            with open(os.path.join(tmp, f"{name}.json"), "w", encoding="utf-8") as fh:
                json.dump(records, fh, indent=1, default=str)
            pd.DataFrame.from_records(records).to_csv(os.path.join(tmp, f"{name}.csv"), index=False)
        mlflow.log_artifacts(tmp, artifact_path="evaluation")


def log_model(
    model: PipelineModel,
    example: pd.DataFrame,
    example_scores: Sequence[float],
    registered_name: str,
) -> ModelVersion:
    """Log the Spark pipeline (signature + input example) in the active run and register it."""
    signature = infer_signature(example, pd.DataFrame({"propensity": list(example_scores)}))
    info = mlflow.spark.log_model(
        model,
        artifact_path="model",
        signature=signature,
        input_example=example,
        pip_requirements=PIP_REQUIREMENTS,
        # Validation would start a second Spark model load only to predict the example.
        validate_serving_input=False,
    )
    version = mlflow.register_model(info.model_uri, registered_name)
    return version


def champion_version(client: MlflowClient, name: str) -> ModelVersion | None:
    """The version that holds the ``champion`` alias, or None."""
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def load_champion(name: str) -> tuple[PipelineModel, int]:
    """The champion pipeline, loaded by alias (``models:/<name>@champion``), and its version."""
    client = MlflowClient()
    version = champion_version(client, name)
    if version is None:
        raise ChampionNotFoundError(
            f"registered model {name!r} has no {CHAMPION!r} alias; train and promote first "
            "(jobs/propensity_train.py)"
        )
    model = mlflow.spark.load_model(f"models:/{name}@{CHAMPION}")
    return model, int(version.version)


def load_champions(
    names: dict[str, str],
) -> tuple[dict[str, tuple[str, PipelineModel, int]], list[str]]:
    """Champions of ``names`` (outcome -> registered name): ``(found, missing)``.

    ``found`` maps outcome -> (name, pipeline, version); ``missing`` lists the outcomes
    whose model has no champion (never trained, or no version passed the promotion rule).
    """
    found: dict[str, tuple[str, PipelineModel, int]] = {}
    missing: list[str] = []
    for outcome, name in names.items():
        try:
            model, version = load_champion(name)
        except ChampionNotFoundError:
            missing.append(outcome)
            continue
        found[outcome] = (name, model, version)
    return found, missing


@dataclass(frozen=True)
class Decision:
    """Whether a candidate becomes champion, and why (one sentence, names group and metric)."""

    promote: bool
    reason: str


def decide(
    metric: str,
    candidate: float,
    champion: float | None,
    champion_version_id: int | None,
    audit_passed: bool,
    audit_failures: Sequence[str],
    min_improvement: float = 0.0,
) -> Decision:
    """The promotion rule: beat the champion on the out-of-time metric and pass the audit."""
    if not audit_passed:
        return Decision(False, "fairness audit failed: " + " | ".join(audit_failures))
    if champion is None:
        return Decision(
            True, f"no champion yet; out-of-time {metric} {candidate:.4f}, audit passed"
        )
    if candidate > champion + min_improvement:
        return Decision(
            True,
            f"out-of-time {metric} {candidate:.4f} beats champion v{champion_version_id} "
            f"({champion:.4f}) by more than {min_improvement}; audit passed",
        )
    return Decision(
        False,
        f"out-of-time {metric} {candidate:.4f} does not beat champion v{champion_version_id} "
        f"({champion:.4f}) by more than {min_improvement}",
    )


def apply_decision(client: MlflowClient, name: str, version: int, decision: Decision) -> None:
    """Tag the version with the decision and move the alias when it is a promotion."""
    client.set_model_version_tag(
        name, str(version), "promotion_decision", "promoted" if decision.promote else "rejected"
    )
    client.set_model_version_tag(name, str(version), "promotion_reason", decision.reason[:5000])
    if decision.promote:
        client.set_registered_model_alias(name, CHAMPION, str(version))
    log.info(
        "model %s v%s %s: %s",
        name,
        version,
        "promoted" if decision.promote else "not promoted",
        decision.reason,
    )
