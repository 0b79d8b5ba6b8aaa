"""Segmentation units that need little or no Spark: config refusal, id matching, naming."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pyspark.sql import types as T

from telcoseg.config import from_dict
from telcoseg.errors import ConfigError, SchemaMismatchError
from telcoseg.segmentation.model import MACRO, MICRO, Segment, SegmentationModel
from telcoseg.segmentation.naming import segment_name, unique_names
from telcoseg.segmentation.preparation import (
    ProtectedAttributeError,
    check_protected,
    select_indicators,
)
from telcoseg.segmentation.settings import Settings
from telcoseg.segmentation.stable_ids import (
    ACTIVE,
    RETIRED,
    centroid_distances,
    match_centroids,
    match_segments,
    updated_registry,
)

SCHEMA = T.StructType(
    [
        T.StructField("subscriber_id", T.StringType()),
        T.StructField("snapshot_date", T.DateType()),
        T.StructField("bc_active_days__allweek__allday__callandtext__mean", T.DoubleType()),
        T.StructField("bc_active_days__allweek__allday__callandtext__std", T.DoubleType()),
        T.StructField("tc_spend", T.DoubleType()),
        T.StructField("tc_plan_type", T.StringType()),
        T.StructField("tc_data_sessions", T.LongType()),
        T.StructField("birth_year", T.IntegerType()),
        T.StructField("gender", T.StringType()),
    ]
)


# ---------------------------------------------------------------- protected attributes


@pytest.mark.parametrize("protected", ["gender", "birth_year"])
def test_it_refuses_a_protected_attribute_named_as_indicator(protected: str) -> None:
    settings = Settings(indicators=("tc_spend", protected))
    with pytest.raises(ProtectedAttributeError, match=protected):
        check_protected(settings)


def test_it_refuses_a_protected_attribute_configured_as_categorical() -> None:
    with pytest.raises(ProtectedAttributeError, match="gender"):
        check_protected(Settings(categorical={"gender": ("f",)}))


def test_it_refuses_protected_attributes_when_loading_the_config_file() -> None:
    data = {"segmentation": {"indicators": ["tc_*", "birth_year"]}}
    cfg = from_dict(data, "conf/test.yaml")
    with pytest.raises(ConfigError, match="birth_year"):
        select_indicators(SCHEMA, cfg.section("segmentation"))


def test_it_never_selects_protected_columns_through_globs() -> None:
    chosen = select_indicators(SCHEMA, Settings(indicators=("*",)))
    assert "birth_year" not in chosen and "gender" not in chosen
    assert "subscriber_id" not in chosen and "tc_plan_type" not in chosen  # keys, strings
    assert chosen == [
        "bc_active_days__allweek__allday__callandtext__mean",
        "bc_active_days__allweek__allday__callandtext__std",
        "tc_spend",
        "tc_data_sessions",
    ]


def test_it_selects_the_default_indicators_and_names_missing_exact_columns() -> None:
    chosen = select_indicators(SCHEMA, Settings())
    assert chosen == [
        "bc_active_days__allweek__allday__callandtext__mean",
        "tc_spend",
        "tc_data_sessions",
    ]
    with pytest.raises(SchemaMismatchError, match="tc_nope"):
        select_indicators(SCHEMA, Settings(indicators=("tc_spend", "tc_nope")))
    with pytest.raises(ConfigError, match="not numeric"):
        select_indicators(SCHEMA, Settings(indicators=("tc_plan_type",), categorical={}))


# ---------------------------------------------------------------- id matching


def test_it_matches_hand_built_centroids_one_to_one_within_the_threshold() -> None:
    previous = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    # new[0] ~ previous[1], new[1] ~ previous[0], new[2] is far from everything.
    new = np.array([[4.2, 0.1], [0.1, -0.2], [9.0, 9.0]])
    matches = match_centroids(new, previous, np.ones(2), threshold=0.5)
    assert {(m.new, m.previous) for m in matches} == {(0, 1), (1, 0)}
    d = centroid_distances(new, previous, np.ones(2))
    assert d[0, 1] == pytest.approx(np.sqrt((0.2**2 + 0.1**2) / 2))


def test_it_uses_the_hungarian_optimum_not_greedy_nearest() -> None:
    # Greedy would give new[0] -> prev[0] (0.1) and leave new[1] with prev[1] (cost 1.0);
    # the optimum pairs new[0] -> prev[1] (0.3) and new[1] -> prev[0] (0.3).
    previous = np.array([[0.0], [0.4]])
    new = np.array([[0.1], [-0.3]])
    matches = match_centroids(new, previous, np.ones(1), threshold=1.0)
    assert {(m.new, m.previous) for m in matches} == {(0, 1), (1, 0)}


def test_it_scales_distances_by_the_new_models_standard_deviation() -> None:
    previous = np.array([[0.0, 0.0]])
    new = np.array([[10.0, 0.0]])
    assert match_centroids(new, previous, np.array([100.0, 1.0]), 0.5)
    assert not match_centroids(new, previous, np.array([1.0, 1.0]), 0.5)


def _model(
    centers: dict[tuple[str, int, int | None], tuple[float, ...]],
    signed_log: tuple[str, ...] = (),
    std: tuple[float, float] = (1.0, 1.0),
) -> SegmentationModel:
    segments = [
        Segment(level, m, u, 100, center)
        for (level, m, u), center in sorted(centers.items(), key=str)
    ]
    return SegmentationModel(
        preparation=None,  # type: ignore[arg-type]  # matching needs centers only
        macro=None,  # type: ignore[arg-type]
        micro={},
        inputs=["a", "b"],
        scaler_mean=[0.0, 0.0],
        scaler_std=list(std),
        segments=segments,
        info={"signed_log_inputs": list(signed_log)},
    )


def test_it_keeps_ids_gives_new_ids_and_retires_vanished_segments() -> None:
    first = _model(
        {
            (MACRO, 0, None): (0.0, 0.0),
            (MACRO, 1, None): (5.0, 0.0),
            (MICRO, 0, 0): (0.0, 0.0),
            (MICRO, 1, 0): (5.0, 0.0),
        }
    )
    ids1 = match_segments(first, [], threshold=0.5)
    first.with_ids(ids1.ids)
    t1 = dt.datetime(2026, 3, 1)
    registry = updated_registry([], first, ids1, model_version=1, now=t1)
    assert [r["segment_id"] for r in registry] == ["macro-01", "macro-02", "micro-001", "micro-002"]

    # Retrain: macro order swapped, (5, 0) moved a little, (0, 0) vanished, (0, 9) appeared.
    second = _model(
        {
            (MACRO, 0, None): (5.1, 0.1),
            (MACRO, 1, None): (0.0, 9.0),
            (MICRO, 0, 0): (5.1, 0.1),
            (MICRO, 1, 0): (0.0, 9.0),
        }
    )
    ids2 = match_segments(second, registry, threshold=0.5)
    second.with_ids(ids2.ids)
    by_key = {s.key: (s.segment_id, s.parent_id) for s in second.segments}
    old_id = by_key[(MACRO, 0, None)][0]
    assert old_id == next(r["segment_id"] for r in registry if r["centroid"] == [5.0, 0.0])
    assert by_key[(MACRO, 1, None)] == ("macro-03", None)  # never reuses macro-01
    assert by_key[(MICRO, 1, 0)] == ("micro-003", "macro-03")
    t2 = dt.datetime(2026, 4, 1)
    after = {r["segment_id"]: r for r in updated_registry(registry, second, ids2, 2, now=t2)}
    vanished = "macro-02" if old_id == "macro-01" else "macro-01"
    assert after[vanished]["status"] == RETIRED and after[vanished]["retired_version"] == 2
    assert after[old_id]["status"] == ACTIVE
    assert (after[old_id]["first_seen_version"], after[old_id]["last_seen_version"]) == (1, 2)
    assert (after[old_id]["first_seen_at"], after[old_id]["last_seen_at"]) == (t1, t2)
    assert ids2.summary() == {"kept": 2, "new": 2, "retired": 2}


def test_it_matches_a_retrain_that_log_transformed_a_different_set_of_indicators() -> None:
    # Indicator "a" is a count: the first model kept it raw (center 1000), the retrain's
    # skew test chose the signed log (center ln(1 + 1000) = 6.909, sd 1.2 in log units).
    first = _model({(MACRO, 0, None): (1000.0, 0.5), (MICRO, 0, 0): (1000.0, 0.5)})
    ids1 = match_segments(first, [], threshold=0.5)
    first.with_ids(ids1.ids)
    registry = updated_registry([], first, ids1, model_version=1)
    log_center = (float(np.log1p(1000.0)) + 0.05, 0.5)
    second = _model(
        {(MACRO, 0, None): log_center, (MICRO, 0, 0): log_center},
        signed_log=("a",),
        std=(1.2, 1.0),
    )
    ids2 = match_segments(second, registry, threshold=0.5)
    assert ids2.summary() == {"kept": 2, "new": 0, "retired": 0}
    assert ids2.distances["macro-01"] < 0.1
    # The registry holds real units whatever the model's transform.
    second.with_ids(ids2.ids)
    after = updated_registry(registry, second, ids2, model_version=2)
    assert after[0]["centroid"][0] == pytest.approx(np.expm1(np.log1p(1000.0) + 0.05))


# ---------------------------------------------------------------- naming


def test_it_names_a_segment_from_its_strongest_indicators() -> None:
    name = segment_name(
        [
            ("tc_app_share_video", 1.9),
            ("tc_data_night_share", 2.2),
            ("bc_radius_of_gyration__allweek__allday__mean", 1.1),
            ("bc_number_of_antennas__allweek__allday__mean", 1.0),  # same phrase: used once
            ("tc_plan_type__prepaid", 0.8),
            ("tc_spend", 0.45),  # beyond three phrases
        ]
    )
    assert name == "night-time video streamers, high mobility, mostly prepaid"


def test_it_names_low_values_and_falls_back_to_readable_indicator_names() -> None:
    assert segment_name([("tc_plan_type__prepaid", -1.5), ("tc_tenure_days", -0.9)]) == (
        "mostly postpaid, recent joiners"
    )
    assert segment_name([("tc_some_new_thing", 0.9)]) == "high some new thing"
    assert segment_name([("tc_spend", 0.1)]) == "typical subscribers"
    assert unique_names(["a", "b", "a"], ["m1", "m2", "m3"]) == ["a (m1)", "b", "a (m3)"]
