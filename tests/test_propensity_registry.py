"""The promotion rule and the champion alias, in a temporary MLflow store (no Spark)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from telcoseg.propensity.registry import (
    CHAMPION,
    apply_decision,
    champion_version,
    decide,
    model_name,
)
from telcoseg.tracking import configure

NAME = model_name("test_propensity", "adopt:streaming")


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[MlflowClient]:
    previous = mlflow.get_tracking_uri()
    configure(f"sqlite:///{tmp_path}/mlflow.db", str(tmp_path / "artifacts"), "registry-test")
    yield MlflowClient()
    mlflow.set_tracking_uri(previous)


def _new_version(client: MlflowClient) -> int:
    with mlflow.start_run() as run:
        mlflow.log_text("placeholder", "model/MLmodel")
    if not client.search_registered_models(f"name = '{NAME}'"):
        client.create_registered_model(NAME)
    mv = client.create_model_version(NAME, f"{run.info.artifact_uri}/model", run.info.run_id)
    return int(mv.version)


def _step(client: MlflowClient, auc: float, champion_auc: float | None, passed: bool) -> int:
    version = _new_version(client)
    current = champion_version(client, NAME)
    failures = () if passed else ("gender=f: selection_rate_ratio 0.412 < 0.8 (z=6.0)",)
    decision = decide(
        "roc_auc",
        auc,
        champion_auc,
        int(current.version) if current else None,
        passed,
        failures,
    )
    apply_decision(client, NAME, version, decision)
    return version


def _champion(client: MlflowClient) -> int | None:
    mv = champion_version(client, NAME)
    return int(mv.version) if mv else None


def _tags(client: MlflowClient, version: int) -> dict[str, str]:
    return dict(client.get_model_version(NAME, str(version)).tags)


def test_alias_moves_only_to_better_versions_that_pass_the_audit(client: MlflowClient) -> None:
    assert _champion(client) is None
    v1 = _step(client, 0.70, None, passed=True)
    assert _champion(client) == v1
    assert _tags(client, v1)["promotion_decision"] == "promoted"
    assert "no champion yet" in _tags(client, v1)["promotion_reason"]

    v2 = _step(client, 0.80, 0.70, passed=False)  # better, but unfair
    assert _champion(client) == v1
    assert _tags(client, v2)["promotion_decision"] == "rejected"
    assert "gender=f: selection_rate_ratio" in _tags(client, v2)["promotion_reason"]

    v3 = _step(client, 0.70, 0.70, passed=True)  # fair, but only as good
    assert _champion(client) == v1
    assert "does not beat champion v1" in _tags(client, v3)["promotion_reason"]

    v4 = _step(client, 0.72, 0.70, passed=True)
    assert _champion(client) == v4
    assert int(client.get_model_version_by_alias(NAME, CHAMPION).version) == v4


def test_no_champion_and_a_failed_audit_leaves_no_champion() -> None:
    decision = decide("roc_auc", 0.9, None, None, False, ("age_band=65+: tpr_ratio 0.5 < 0.8",))
    assert not decision.promote
    assert "age_band=65+" in decision.reason and "tpr_ratio" in decision.reason


def test_min_improvement_is_required_margin() -> None:
    assert not decide("roc_auc", 0.705, 0.70, 1, True, (), min_improvement=0.01).promote
    assert decide("roc_auc", 0.711, 0.70, 1, True, (), min_improvement=0.01).promote
