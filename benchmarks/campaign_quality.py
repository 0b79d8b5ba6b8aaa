"""Does the A/B analysis find the campaign effects the generator planted?

Two checks, both through :func:`telcoseg.campaigns.ab.analyze_counts` (the statistics the
job runs), grouping by the *true* persona instead of a micro segment:

1. **Pipeline** (when ``--root`` holds ``lake/silver/campaigns`` and ``truth/``): silver
   campaigns (ingested from the generator's landing zone) are matched to the truth
   subscribers by subscriber_id = HMAC-SHA256(TELCOSEG_HMAC_KEY, E.164 msisdn); for each
   campaign x persona: is the planted effect inside the lift interval, and are
   zero-effect personas not significant after BH? Counts are aggregated with pandas
   (a few thousand rows; the machine is shared, so no Spark session is started here).
2. **Synthetic replications**: arms drawn from binomials with planted per-group effects,
   many times, to measure interval coverage (Newcombe and Wald) and the false-positive /
   detection rates of the BH-corrected test at sizes where those rates are meaningful.

    TELCOSEG_HMAC_KEY=... .venv/bin/python benchmarks/campaign_quality.py [--root DIR]
        [--reps 400] [--n-per-group 2000]

Prints the numbers and writes ``benchmarks/results/campaign_quality.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from telcoseg.campaigns.ab import ALL_SEGMENTS, ArmCounts, analyze_counts
from telcoseg.campaigns.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "campaign_quality.json"
SNAPSHOT = dt.date(2026, 3, 29)
# (baseline, absolute effect) per synthetic group: three zero-effect groups
SYNTHETIC_GROUPS = {
    "g0_none": (0.03, 0.0),
    "g1_none": (0.05, 0.0),
    "g2_none": (0.02, 0.0),
    "g3_small": (0.03, 0.01),
    "g4_medium": (0.03, 0.03),
    "g5_large": (0.02, 0.10),
}


def pseudonym(key: str, e164: str) -> str:
    """subscriber_id of an E.164 number, exactly as ingest computes it."""
    return hmac.new(key.encode(), e164.encode(), hashlib.sha256).hexdigest()


def _counts_from_rows(df: pd.DataFrame) -> list[ArmCounts]:
    """campaign_id, offer, group, arm, converted rows -> ArmCounts per group plus ALL."""
    df = df.assign(
        is_t=df["arm"] == "treatment",
        is_c=df["arm"] == "control",
        conv=df["converted"].fillna(False).astype(bool),
    )
    out: list[ArmCounts] = []
    for keys, g in [
        *df.groupby(["campaign_id", "group"]),
        *((k, g.assign(group=ALL_SEGMENTS)) for k, g in df.groupby("campaign_id")),
    ]:
        campaign = keys[0] if isinstance(keys, tuple) else keys
        group = keys[1] if isinstance(keys, tuple) and len(keys) > 1 else ALL_SEGMENTS
        out.append(
            ArmCounts(
                campaign_id=str(campaign),
                offer=str(g["offer"].iloc[0]),
                micro_segment_id=str(group),
                n_treatment=int(g["is_t"].sum()),
                conversions_treatment=int((g["is_t"] & g["conv"]).sum()),
                n_control=int(g["is_c"].sum()),
                conversions_control=int((g["is_c"] & g["conv"]).sum()),
            )
        )
    return out


def pipeline_check(root: Path, key: str, settings: Settings) -> dict[str, Any] | None:
    """Check 1 on ``root``; None when its tables are missing."""
    from deltalake import DeltaTable

    silver = root / "lake" / "silver" / "campaigns"
    truth = root / "truth"
    if not (silver / "_delta_log").exists() or not (truth / "campaign_effects").exists():
        return None
    camp = DeltaTable(str(silver)).to_pandas(
        columns=["campaign_id", "subscriber_id", "offer", "arm", "converted"]
    )
    subs = pd.read_parquet(truth / "subscribers", columns=["msisdn", "persona"])
    subs["subscriber_id"] = [pseudonym(key, m) for m in subs["msisdn"]]
    df = camp.merge(subs[["subscriber_id", "persona"]], on="subscriber_id", how="left")
    matched = float(df["persona"].notna().mean())
    if matched < 0.99:
        sys.exit(f"only {matched:.1%} of campaign rows match the truth: wrong TELCOSEG_HMAC_KEY?")
    rows = analyze_counts(
        _counts_from_rows(df.rename(columns={"persona": "group"})), settings, SNAPSHOT
    )
    effects = pd.read_parquet(truth / "campaign_effects")
    planted = {(r.campaign_id, r.persona): float(r.effect) for r in effects.itertuples()}
    checks = []
    for r in rows:
        if r["micro_segment_id"] == ALL_SEGMENTS or r["abs_lift"] is None:
            continue
        effect = planted[(r["campaign_id"], r["micro_segment_id"])]
        checks.append(
            {
                "campaign_id": r["campaign_id"],
                "persona": r["micro_segment_id"],
                "planted_effect": effect,
                "n_treatment": r["n_treatment"],
                "n_control": r["n_control"],
                "abs_lift": round(r["abs_lift"], 4),
                "ci": [round(r["abs_lift_lo"], 4), round(r["abs_lift_hi"], 4)],
                "effect_in_ci": r["abs_lift_lo"] <= effect <= r["abs_lift_hi"],
                "significant": bool(r["is_significant"]),
                "test": r["test"],
                "small_sample": bool(r["is_small_sample"]),
                "srm": bool(r["has_srm"]),
            }
        )
    zero = [c for c in checks if c["planted_effect"] == 0]
    nonzero = [c for c in checks if c["planted_effect"] != 0]
    return {
        "root": str(root),
        "campaign_rows": len(camp),
        "cells": len(checks),
        "effect_in_ci": sum(c["effect_in_ci"] for c in checks),
        "zero_effect_cells": len(zero),
        "zero_effect_not_significant": sum(not c["significant"] for c in zero),
        "nonzero_effect_cells": len(nonzero),
        "nonzero_effect_significant": sum(c["significant"] for c in nonzero),
        "srm_flags": sum(c["srm"] for c in checks),
        "small_sample_cells": sum(c["small_sample"] for c in checks),
        "detail": checks,
    }


def synthetic_check(
    settings: Settings, reps: int, n_per_group: int, control_share: float, seed: int = 7
) -> dict[str, Any]:
    """Check 2: coverage and error rates over ``reps`` simulated campaigns."""
    rng = np.random.default_rng(seed)
    n_c = round(n_per_group * control_share)
    n_t = n_per_group - n_c
    tallies = {
        g: {"newcombe_cover": 0, "wald_cover": 0, "significant": 0} for g in SYNTHETIC_GROUPS
    }
    wald = dataclasses.replace(settings, diff_interval="wald")
    for _ in range(reps):
        counts = []
        for g, (base, effect) in SYNTHETIC_GROUPS.items():
            x_t = int(rng.binomial(n_t, base + effect))
            x_c = int(rng.binomial(n_c, base))
            counts.append(ArmCounts("SYN", "synthetic", g, n_t, x_t, n_c, x_c))
        for interval, cfg in (("newcombe", settings), ("wald", wald)):
            for r in analyze_counts(counts, cfg, SNAPSHOT):
                effect = SYNTHETIC_GROUPS[r["micro_segment_id"]][1]
                t = tallies[r["micro_segment_id"]]
                t[f"{interval}_cover"] += r["abs_lift_lo"] <= effect <= r["abs_lift_hi"]
                if interval == "newcombe":
                    t["significant"] += bool(r["is_significant"])
    per_group = {
        g: {
            "baseline": SYNTHETIC_GROUPS[g][0],
            "effect": SYNTHETIC_GROUPS[g][1],
            "newcombe_coverage": t["newcombe_cover"] / reps,
            "wald_coverage": t["wald_cover"] / reps,
            # zero effect: false-positive rate; otherwise: power
            "significant_rate": t["significant"] / reps,
        }
        for g, t in tallies.items()
    }
    return {
        "reps": reps,
        "n_treatment": n_t,
        "n_control": n_c,
        "groups": per_group,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, help="run root with lake/ and truth/")
    p.add_argument("--reps", type=int, default=400)
    p.add_argument("--n-per-group", type=int, default=2000)
    p.add_argument("--control-share", type=float, default=0.2)  # the generator's 1 - 0.8
    args = p.parse_args()
    settings = Settings(default_control_share=args.control_share)
    result: dict[str, Any] = {"settings": dataclasses.asdict(settings)}
    result["settings"]["snapshot_date"] = None
    key = os.environ.get("TELCOSEG_HMAC_KEY", "")
    if args.root and key:
        pipe = pipeline_check(args.root, key, settings)
        result["pipeline"] = pipe
        if pipe:
            print(f"pipeline ({pipe['root']}, {pipe['campaign_rows']} campaign rows):")
            for c in pipe["detail"]:
                print(
                    f"  {c['campaign_id']} {c['persona']:<24} planted {c['planted_effect']:+.2f} "
                    f"lift {c['abs_lift']:+.3f} CI {c['ci']} in_ci={c['effect_in_ci']} "
                    f"sig={c['significant']} n={c['n_treatment']}/{c['n_control']}"
                )
            print(
                f"  planted effect inside CI: {pipe['effect_in_ci']}/{pipe['cells']}; "
                f"zero-effect not significant: {pipe['zero_effect_not_significant']}/"
                f"{pipe['zero_effect_cells']}; nonzero significant: "
                f"{pipe['nonzero_effect_significant']}/{pipe['nonzero_effect_cells']}"
            )
    else:
        result["pipeline"] = None
        print("pipeline check skipped: pass --root and set TELCOSEG_HMAC_KEY")
    syn = synthetic_check(settings, args.reps, args.n_per_group, args.control_share)
    result["synthetic"] = syn
    print(f"synthetic: {syn['reps']} reps, arms {syn['n_treatment']}/{syn['n_control']}")
    for g, r in syn["groups"].items():
        print(
            f"  {g:<10} base {r['baseline']:.2f} effect {r['effect']:+.2f}: coverage newcombe "
            f"{r['newcombe_coverage']:.3f} wald {r['wald_coverage']:.3f}; "
            f"significant (BH) {r['significant_rate']:.3f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
