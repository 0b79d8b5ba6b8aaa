"""A/B statistics on tiny explicit counts, against numbers computed by hand (no Spark)."""

from __future__ import annotations

import datetime as dt

import pytest

from telcoseg.campaigns.ab import (
    ALL_SEGMENTS,
    ArmCounts,
    analyze_counts,
    bh_adjust,
    diff_ci,
    fisher_p,
    holm_adjust,
    newcombe_ci,
    ratio_ci,
    srm_p_value,
    two_proportion_z,
)
from telcoseg.campaigns.settings import Settings


def test_difference_of_proportions_wald_interval() -> None:
    # 30/100 vs 20/100: diff 0.10, SE = sqrt(.3*.7/100 + .2*.8/100) = sqrt(.0037) = 0.0608276
    # 95% CI 0.10 +- 1.959964 * 0.0608276 = 0.10 +- 0.1192200 -> (-0.0192200, 0.2192200)
    diff, se, lo, hi = diff_ci(30, 100, 20, 100)
    assert diff == pytest.approx(0.10, abs=1e-12)
    assert se == pytest.approx(0.0608276, abs=1e-7)
    assert lo == pytest.approx(-0.0192200, abs=1e-6)
    assert hi == pytest.approx(0.2192200, abs=1e-6)


def test_newcombe_hybrid_score_interval() -> None:
    # Wilson 30/100: (0.2189489, 0.3958485); Wilson 20/100: (0.1333669, 0.2888292)
    # lower = .1 - sqrt((.3 - .2189489)^2 + (.2888292 - .2)^2) = -0.0202494
    # upper = .1 + sqrt((.3958485 - .3)^2 + (.2 - .1333669)^2) = 0.2167344
    diff, lo, hi = newcombe_ci(30, 100, 20, 100)
    assert diff == pytest.approx(0.10, abs=1e-12)
    assert lo == pytest.approx(-0.0202494, abs=1e-6)
    assert hi == pytest.approx(0.2167344, abs=1e-6)
    # 0/17 conversions in control: Wald's control SE is 0, Wilson's upper bound is 0.1843181
    _, lo0, hi0 = newcombe_ci(3, 17, 0, 17)
    assert lo0 < 0 < hi0


def test_relative_lift_delta_method_interval() -> None:
    # log(.3/.2) = log 1.5 = 0.4054651; SE = sqrt(1/30 - 1/100 + 1/20 - 1/100)
    # = sqrt(0.0633333) = 0.2516611; half width 1.959964 * 0.2516611 = 0.4932468
    # RR interval exp(-0.0877817) = 0.9159608, exp(0.8987119) = 2.4564369; lift = RR - 1
    rel = ratio_ci(30, 100, 20, 100)
    assert rel is not None
    assert rel[0] == pytest.approx(0.5, abs=1e-12)
    assert rel[1] == pytest.approx(-0.0840393, abs=1e-6)
    assert rel[2] == pytest.approx(1.4564369, abs=1e-6)


def test_relative_lift_is_undefined_without_conversions() -> None:
    assert ratio_ci(3, 100, 0, 100) is None


def test_two_proportion_z_test() -> None:
    # pooled 50/200 = .25; SE = sqrt(.25*.75*(1/100+1/100)) = 0.0612372; z = .1/SE = 1.6329932
    # two-sided p = 2 * (1 - Phi(1.6329932)) = 0.1024704
    z, p = two_proportion_z(30, 100, 20, 100)
    assert z == pytest.approx(1.6329932, abs=1e-6)
    assert p == pytest.approx(0.1024704, abs=1e-6)
    assert two_proportion_z(0, 50, 0, 50) == (0.0, 1.0)


def test_small_counts_use_fishers_exact_test() -> None:
    # 0/66 vs 1/8: the single conversion lands in control with probability 8/74 = 0.1081081,
    # the only other table (in treatment, 66/74) is more likely, so two-sided p = 0.1081081
    assert fisher_p(0, 66, 1, 8) == pytest.approx(0.1081081, abs=1e-6)
    rows = analyze_counts(
        [ArmCounts("C", "o", "1.1", 66, 0, 8, 1)], Settings(), dt.date(2026, 3, 29)
    )
    assert rows[0]["test"] == "fisher" and rows[0]["p_value"] == pytest.approx(0.1081081)
    assert rows[0]["is_significant"] is False


def test_benjamini_hochberg_on_a_known_example() -> None:
    # sorted .005 .01 .03 .04 (m=4): p*m/rank = .02 .02 .04 .04 (already monotone)
    assert bh_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    # monotonicity: sorted .01 .02 .03 (m=3): 0.03 0.03 0.03
    assert bh_adjust([0.03, 0.01, 0.02]) == pytest.approx([0.03, 0.03, 0.03])


def test_holm_on_a_known_example() -> None:
    # sorted .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> running max .06
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_sample_ratio_mismatch() -> None:
    # 600 vs 400 against 50/50: chi2 = 100^2/500 * 2 = 40 -> p = 2.54e-10
    assert srm_p_value(600, 400, 0.5) == pytest.approx(2.539629e-10, rel=1e-5)
    # 800 treatment / 200 control is exactly the planned 20% control share
    assert srm_p_value(800, 200, 0.2) == pytest.approx(1.0)


def test_analyze_counts_flags_srm_small_samples_and_corrects_per_campaign() -> None:
    settings = Settings(default_control_share=0.5, min_per_arm=50, srm_alpha=0.001)
    rows = [
        ArmCounts("C1", "o", ALL_SEGMENTS, 1000, 200, 1000, 100),
        ArmCounts("C1", "o", "1.1", 600, 150, 400, 40),  # SRM: 60/40 instead of 50/50
        ArmCounts("C1", "o", "1.2", 400, 50, 600, 60),
        ArmCounts("C1", "o", "1.3", 20, 1, 10, 0),  # small, no control conversions
    ]
    out = {r["micro_segment_id"]: r for r in analyze_counts(rows, settings, dt.date(2026, 3, 29))}
    assert out["1.1"]["has_srm"] and "sample_ratio_mismatch" in out["1.1"]["warnings"]
    assert not out[ALL_SEGMENTS]["has_srm"]
    assert out["1.3"]["is_small_sample"] and out["1.3"]["rel_lift"] is None
    assert not out["1.1"]["is_small_sample"]
    # ALL keeps its raw p; the three segments form one BH family
    assert out[ALL_SEGMENTS]["p_adjusted"] == out[ALL_SEGMENTS]["p_value"]
    raw = [out[s]["p_value"] for s in ("1.1", "1.2", "1.3")]
    adjusted = bh_adjust(raw)
    assert [out[s]["p_adjusted"] for s in ("1.1", "1.2", "1.3")] == pytest.approx(adjusted)
    assert out["1.1"]["is_significant"] and not out["1.2"]["is_significant"]
    assert out["1.1"]["rate_treatment"] == pytest.approx(0.25)
