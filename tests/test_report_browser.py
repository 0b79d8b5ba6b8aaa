"""The report in headless Chromium: no console error, every section rendered, a screenshot.

Builds the report from small public tables made directly (no Spark), so it is quick.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from reportworld import SECTIONS
from telcoseg.privacy.settings import Settings as PrivacySettings
from telcoseg.report.build import render
from telcoseg.report.settings import Settings as ReportSettings

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[1]


def ensure_chromium() -> str:
    """Path of Debian's chromium, installing it when absent and we are root; else skip."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.geteuid() != 0:
        pytest.skip(
            f"{CHROMIUM} is missing and installing it needs root (apt-get install chromium)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        subprocess.run(cmd, env=env, capture_output=True, check=False)
    if not os.path.exists(CHROMIUM):
        pytest.skip("apt-get install chromium failed (no package mirror reachable?)")
    return CHROMIUM


def _chromium(binary: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{len(list(tmp.iterdir()))}"
    profile.mkdir()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    return subprocess.run(
        [binary, *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )


def _tables() -> dict[str, pd.DataFrame | None]:
    seg = ["M0", "M1", "M2"]
    releases = pd.DataFrame(
        [
            {
                "table": t,
                "mechanism": "laplace",
                "epsilon": 0.5,
                "count_noise_scale": 2.0,
                "cells_published": 6,
                "cells_suppressed_primary": 1,
                "cells_suppressed_complementary": 2,
                "means": "",
                "notes": "",
                "location_level": "region",
                "previous_snapshot": "2026-02-28",
                "ledger_release_id": "x",
            }
            for t in ("segment_sizes", "segment_migration", "fraud_summary")
        ]
    )
    return {
        "releases": releases,
        "segment_sizes": pd.DataFrame(
            [(s, f"{s}.{j}", 40 + 10 * j) for s in seg for j in range(2)],
            columns=["macro_segment_id", "micro_segment_id", "subscribers"],
        ),
        "segment_profiles": pd.DataFrame(
            [(s, "macro", f"Segment {s}", "tc_spend+") for s in seg],
            columns=["segment_id", "level", "name", "top_indicators"],
        ),
        "segment_indicator_means": pd.DataFrame(
            [(s, 100.0 + i * 20, 0.2 + i * 0.1) for i, s in enumerate(seg)],
            columns=["macro_segment_id", "mean_tc_voice_records", "mean_tc_data_night_share"],
        ),
        "segment_area_plan": pd.DataFrame(
            [
                (s, a, p, 12)
                for s in seg
                for a in ("north", "south")
                for p in ("prepaid", "postpaid")
            ],
            columns=["macro_segment_id", "area", "plan_type", "subscribers"],
        ),
        "segment_migration": pd.DataFrame(
            [(a, b, 30 if a == b else 6) for a in seg for b in seg],
            columns=["from_segment", "to_segment", "subscribers"],
        ),
        "segment_number_attributes": pd.DataFrame(
            [(s, "GB", c, "mobile", 20) for s in seg for c in ("EE", "O2")],
            columns=["macro_segment_id", "country_iso", "carrier", "number_type", "subscribers"],
        ),
        "fraud_summary": pd.DataFrame(
            [("sim_box", 14), ("wangiri", 11)], columns=["alert_type", "subscribers"]
        ),
        "campaign_results": pd.DataFrame(
            [("C1", "treatment", 100, 18), ("C1", "control", 100, 9)],
            columns=["campaign_id", "arm", "n", "converted"],
        ),
        "propensity_evaluation": pd.DataFrame(
            [("upgrade", d, 24, 30 - 3 * d, 2.0 - d / 6) for d in range(1, 11)],
            columns=["outcome", "decile", "n", "positives", "lift"],
        ),
        "fairness_audit": pd.DataFrame(
            [("upgrade", "gender", g, 120, 0.25) for g in ("f", "m")],
            columns=["outcome", "attribute", "group", "n", "positive_rate"],
        ),
        "data_quality": pd.DataFrame(
            [("r1", "cdr", 1000, 950, 30, 20)],
            columns=[
                "run_id",
                "source",
                "rows_read",
                "rows_accepted",
                "rows_quarantined",
                "duplicates",
            ],
        ),
    }


def test_report_renders_in_headless_chromium_without_console_errors(tmp_path: Path) -> None:
    binary = ensure_chromium()
    page = render(_tables(), dt.date(2026, 3, 31), PrivacySettings(), ReportSettings())
    assert "http://" not in page and "https://" not in page  # nothing fetched: works offline
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    url = report.as_uri()

    dumped = _chromium(binary, tmp_path, "--virtual-time-budget=5000", "--dump-dom", url)
    dom = dumped.stdout
    assert 'data-report-ready="yes"' in dom, dumped.stderr[-2000:]
    console = [line for line in dumped.stderr.splitlines() if "CONSOLE" in line]
    match = re.search(r'<div id="console-errors" data-count="(\d+)">(.*?)</div>', dom, re.S)
    assert match is not None
    assert match.group(1) == "0", html_lib.unescape(match.group(2))
    assert not [c for c in console if "error" in c.lower()], console
    for sid in SECTIONS:
        sec = re.search(rf'<section id="{sid}"[^>]*>', dom)
        assert sec is not None, f"section {sid} missing"
        assert 'data-rendered="yes"' in sec.group(0), f"section {sid} did not render"

    shot = tmp_path / "report.png"
    _chromium(binary, tmp_path, f"--screenshot={shot}", "--window-size=1280,4000", url)
    assert shot.exists() and shot.stat().st_size > 10_000
    artifacts = REPO / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copy(shot, artifacts / "test-report.png")
