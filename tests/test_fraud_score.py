"""The explainable score: ramps, reasons, allow-list, and SIM-box vs call-center lines."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from telcoseg.config import load_config
from telcoseg.fraud.indicators import line_indicators
from telcoseg.fraud.pipeline import score_lines
from telcoseg.fraud.score import ramp, select_alerts, with_robust_z, with_rule_score
from telcoseg.fraud.settings import AllowList, Labels, Rule, Settings
from test_fraud_support import SNAPSHOT, cdr_df, population, subscribers_df

SETTINGS = Settings(window_days=7, min_out_calls=50)


def test_the_yaml_section_is_the_code_default() -> None:
    # The rules are written out in conf/telcoseg.yaml to be tuned there; both must agree.
    assert load_config().section("fraud") == Settings()


def test_a_rule_needs_distinct_start_and_full() -> None:
    with pytest.raises(ValueError, match="start and full"):
        Rule("x", 1.0, 1.0, 1.0)


def test_ramp_is_clipped_works_both_ways_and_treats_null_as_no_evidence(
    spark: SparkSession,
) -> None:
    df = spark.createDataFrame([(None,), (0.0,), (0.5,), (0.75,), (2.0,)], "x double")
    got = df.select(
        "x", ramp(F.col("x"), 0.5, 1.0).alias("up"), ramp(F.col("x"), 0.5, 0.0).alias("down")
    )
    expected = spark.createDataFrame(
        [(None, 0.0, 0.0), (0.0, 0.0, 1.0), (0.5, 0.0, 0.0), (0.75, 0.5, 0.0), (2.0, 1.0, 0.0)],
        "x double, up double, down double",
    )
    assert_approx_df_equality(
        got, expected, precision=1e-9, ignore_row_order=True, ignore_nullable=True
    )


def test_robust_z_uses_median_and_mad_with_a_floor(spark: SparkSession) -> None:
    df = spark.createDataFrame([(1.0,), (2.0,), (3.0,), (4.0,), (100.0,)], "x double")
    # median 3, MAD 1 -> scale 1.4826; with floor 2 the scale is 2.
    got = {r["x"]: r["z_x"] for r in with_robust_z(df, ["x"], 0.5).collect()}
    assert got[100.0] == pytest.approx(97 / 1.4826)
    assert got[3.0] == 0.0
    floored = {r["x"]: r["z_x"] for r in with_robust_z(df, ["x"], 2.0).collect()}
    assert floored[1.0] == pytest.approx(-1.0)


def test_rule_score_sums_weighted_evidence_and_names_the_reasons(spark: SparkSession) -> None:
    rules = {
        "outgoing": Rule("out_share", 0.5, 1.0, 2.0),
        "no_sms": Rule("sms_share", 0.1, 0.0, 1.0),
        "callbacks": Rule("callback_share", 0.0, 0.5, -1.5),
    }
    df = spark.createDataFrame(
        [("A", 1.0, 0.0, 0.0), ("B", 0.75, None, 0.5), ("C", 0.0, 0.5, 1.0)],
        "subscriber_id string, out_share double, sms_share double, callback_share double",
    )
    got = {r["subscriber_id"]: r for r in with_rule_score(df, rules).collect()}
    # A: 2 + 1 of 3 positive weight; B: 1 - 1.5 < 0 -> 0; C: nothing.
    assert got["A"]["rule_score"] == pytest.approx(1.0)
    assert got["A"]["reasons"] == [
        "outgoing: out_share=1.000, +2.00",
        "no_sms: sms_share=0.000, +1.00",
    ]
    assert got["A"]["mitigations"] == []
    assert got["B"]["rule_score"] == 0.0
    assert got["B"]["reasons"] == ["outgoing: out_share=0.750, +1.00"]
    assert got["B"]["mitigations"] == ["callbacks: callback_share=0.500, -1.50"]
    assert got["C"]["reasons"] == [] and got["C"]["rule_score"] == 0.0


@pytest.fixture(scope="module")
def indicators(spark: SparkSession) -> Iterator[DataFrame]:
    """Indicators of the synthetic population: 2 SIM-boxes, 2 call centers, 16 others."""
    rows, subs = population(days=7, n_regular=16)
    df = line_indicators(
        cdr_df(spark, rows),
        subscribers_df(spark, subs),
        snapshot_date=SNAPSHOT,
        window_days=7,
        timezone="UTC",
    ).cache()
    yield df
    df.unpersist()


def alerts(indicators: DataFrame, settings: Settings, **kwargs: DataFrame) -> dict[str, dict]:
    scored = score_lines(indicators, settings, **kwargs)
    df = select_alerts(
        scored.lines, settings, snapshot_date=SNAPSHOT, score_version=scored.score_version
    )
    return {r["subscriber_id"]: r.asDict() for r in df.collect()}


def test_sim_boxes_are_alerted_and_call_center_look_alikes_are_not(
    indicators: DataFrame,
) -> None:
    got = alerts(indicators, SETTINGS)
    assert sorted(got) == ["sb0", "sb1"]
    assert sorted(r["rank"] for r in got.values()) == [1, 2]
    top = got["sb0"]
    assert top["score_version"] == SETTINGS.version()
    assert top["snapshot_date"] == SNAPSHOT
    assert any(
        r.startswith("never_called_back (the numbers it calls never call back): ")
        for r in top["reasons"]
    )
    assert top["reasons_text"].startswith(top["reasons"][0])
    assert top["voice_out_share"] == 1.0 and top["max_sims_on_imei"] == 2.0
    # The call centers make as many calls, but their mitigating evidence outweighs it.
    cc = with_rule_score(indicators, SETTINGS.rules).filter(F.col("subscriber_id") == "cc0")
    row = cc.first()
    assert row is not None and row["rule_score"] < SETTINGS.alert_threshold
    assert any(m.startswith("incoming_traffic (") for m in row["mitigations"])


def test_allow_listed_lines_are_never_alerted(spark: SparkSession, indicators: DataFrame) -> None:
    by_id = dataclasses.replace(SETTINGS, allow_list=AllowList(subscriber_ids=("sb0",)))
    assert sorted(alerts(indicators, by_id)) == ["sb1"]
    by_plan = dataclasses.replace(SETTINGS, allow_list=AllowList(plans=("payg",)))
    assert alerts(indicators, by_plan) == {}
    table = spark.createDataFrame([("sb1",)], "subscriber_id string")
    assert sorted(alerts(indicators, SETTINGS, allow_ids_df=table)) == ["sb0"]
    # Even a threshold of ~0 alerts no allow-listed line.
    lax = dataclasses.replace(
        SETTINGS, alert_threshold=1e-9, min_out_calls=0, allow_list=AllowList(("sb0", "cc0"))
    )
    got = alerts(indicators, lax, allow_ids_df=table)
    assert not {"sb0", "sb1", "cc0"} & set(got)


def test_labels_add_a_blended_model_score(indicators: DataFrame) -> None:
    labelled = dataclasses.replace(
        SETTINGS,
        labels=Labels(fraud_ids=("sb0", "sb1"), min_positives=2, min_negatives=5, seed=3),
    )
    scored = score_lines(indicators, labelled)
    assert scored.model_used and (scored.positives, scored.negatives) == (2, 18)
    assert scored.score_version.endswith("+model")
    rows = {r["subscriber_id"]: r for r in scored.lines.collect()}
    assert rows["sb0"]["model_score"] > 0.5 > rows["cc0"]["model_score"]
    r = rows["sb0"]
    assert r["score"] == pytest.approx(0.5 * r["rule_score"] + 0.5 * r["model_score"])


def test_too_few_labels_fall_back_to_the_rule_score(indicators: DataFrame) -> None:
    labelled = dataclasses.replace(SETTINGS, labels=Labels(fraud_ids=("sb0",), min_positives=5))
    scored = score_lines(indicators, labelled)
    assert not scored.model_used and scored.score_version == SETTINGS.version()
    row = scored.lines.filter(F.col("subscriber_id") == "sb0").first()
    assert row is not None and row["score"] == row["rule_score"] and row["model_score"] is None
