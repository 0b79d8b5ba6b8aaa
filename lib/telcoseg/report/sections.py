"""Report sections: each reads public tables (pandas, one snapshot) and returns HTML.

A section whose table is missing says so ("not available for this snapshot") instead of
failing: the report is built whatever subset of the pipeline has run.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from telcoseg.privacy.kanon import margins_from_published
from telcoseg.report import charts

Tables = Mapping[str, pd.DataFrame | None]


@dataclass(frozen=True)
class Section:
    """One rendered section of the page."""

    id: str
    title: str
    body: str
    available: bool


def _na(what: str) -> str:
    return f'<p class="na">Not available for this snapshot: {html.escape(what)}.</p>'


def _table(df: pd.DataFrame, max_rows: int = 40) -> str:
    """A small HTML table; numbers right-aligned and rounded."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for rec in df.head(max_rows).itertuples(index=False):
        cells = []
        for v in rec:
            if isinstance(v, float | np.floating):
                text = "" if pd.isna(v) else f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
                cells.append(f'<td class="num">{text}</td>')
            elif isinstance(v, int | np.integer):
                cells.append(f'<td class="num">{int(v):,}</td>')
            else:
                cells.append(f"<td>{html.escape('' if v is None else str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f'<p class="note">{len(df) - max_rows} more rows not shown.</p>'
        if len(df) > max_rows
        else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _release_note(t: Tables, table: str) -> str:
    rel = t.get("releases")
    if rel is None or rel.empty or table not in set(rel["table"]):
        return ""
    r = rel[rel["table"] == table].iloc[0]
    suppressed = int(r["cells_suppressed_primary"]) + int(r["cells_suppressed_complementary"])
    text = (
        f"Counts carry {r['mechanism']} noise (epsilon {r['epsilon']:.3g}, count noise scale "
        f"{r['count_noise_scale']:.3g}). {suppressed} cell(s) suppressed "
        f"({int(r['cells_suppressed_primary'])} under k, "
        f"{int(r['cells_suppressed_complementary'])} complementary)."
    )
    if isinstance(r.get("notes"), str) and r["notes"]:
        text += f" {r['notes']}."
    return _note(text)


# ----------------------------------------------------------------------------- sections


def overview(t: Tables, params: Mapping[str, object]) -> tuple[str, bool]:
    rel = t.get("releases")
    badges = "".join(
        f'<span class="badge">{html.escape(k)}: {html.escape(str(v))}</span>'
        for k, v in params.items()
    )
    text = (
        "Every number below comes from a privacy-safe public table: each published cell "
        f"describes at least k={params.get('k')} subscribers, small cells are suppressed "
        "(with complementary suppression so they cannot be recovered by subtraction), "
        "totals are sums of published cells only, and counts and means carry differential-"
        "privacy noise. Location is coarse (" + str(params.get("location")) + ")."
    )
    body = f"<p>{badges}</p><p>{html.escape(text)}</p>"
    if rel is not None and not rel.empty:
        cols = [
            "table",
            "epsilon",
            "cells_published",
            "cells_suppressed_primary",
            "cells_suppressed_complementary",
        ]
        body += _table(
            rel[cols].rename(
                columns={
                    "cells_suppressed_primary": "suppressed (< k)",
                    "cells_suppressed_complementary": "suppressed (complementary)",
                }
            )
        )
    else:
        body += _na("no release metadata")
    return body, True


def segment_sizes(t: Tables, dpi: int) -> tuple[str, bool]:
    sizes = t.get("segment_sizes")
    if sizes is None or sizes.empty:
        return _na("segment sizes (gold segment_assignments not built yet)"), False
    macro = margins_from_published(sizes, ["macro_segment_id"]).set_index("macro_segment_id")[
        "subscribers"
    ]
    share = (macro / macro.sum()).rename("share")
    fig = charts.bar(
        macro.sort_values(ascending=False), "Subscribers per macro segment (noisy)", "subscribers"
    )
    body = charts.to_img(fig, "macro segment sizes", dpi)
    micro = sizes.sort_values(["macro_segment_id", "micro_segment_id"])[
        ["macro_segment_id", "micro_segment_id", "subscribers"]
    ]
    profiles = t.get("segment_profiles")
    prof_html = ""
    if profiles is not None and not profiles.empty:
        prof_html = "<h3>Profiles</h3>" + _table(
            profiles.drop(columns=[c for c in ("release_id",) if c in profiles.columns])
        )
    else:
        prof_html = _na("segment profiles (gold segment_profiles)")
    table = macro.to_frame().join(share).reset_index()
    body += (
        '<div class="grid"><div>' + _table(table) + "</div><div>" + _table(micro) + "</div></div>"
    )
    body += _release_note(t, "segment_sizes") + prof_html
    return body, True


def heatmap(t: Tables, dpi: int) -> tuple[str, bool]:
    means = t.get("segment_indicator_means")
    if means is None or means.empty:
        return _na("segment x indicator means (gold behavior_vectors or segments missing)"), False
    cols = [c for c in means.columns if c.startswith("mean_")]
    if not cols:
        return _na("no indicator has clamp bounds configured") + _release_note(
            t, "segment_indicator_means"
        ), False
    m = means.set_index("macro_segment_id")[cols].astype(float)
    m.columns = [c[len("mean_") :] for c in cols]
    # Colour = standardized across segments (post-processing); labels = the noisy means.
    z = (m - m.mean()) / m.std(ddof=0).replace(0, np.nan)
    fig = charts.heatmap(
        z.fillna(0.0), "Segment x indicator (colour: z across segments)", annotate=m
    )
    return charts.to_img(fig, "segment by indicator heat map", dpi) + _release_note(
        t, "segment_indicator_means"
    ), True


def geography(t: Tables, dpi: int, location: str) -> tuple[str, bool]:
    ap = t.get("segment_area_plan")
    if ap is None or ap.empty:
        return _na("segment x area x plan (silver subscribers missing)"), False
    by_area = margins_from_published(ap, ["area", "macro_segment_id"]).pivot_table(
        index="area", columns="macro_segment_id", values="subscribers", aggfunc="sum", fill_value=0
    )
    by_plan = margins_from_published(ap, ["macro_segment_id", "plan_type"]).pivot_table(
        index="macro_segment_id",
        columns="plan_type",
        values="subscribers",
        aggfunc="sum",
        fill_value=0,
    )
    body = _note(f"Location level: {location}.")
    body += '<div class="grid"><div>' + charts.to_img(
        charts.stacked(by_area, "Subscribers by area and segment", "subscribers"),
        "area by segment",
        dpi,
    )
    body += (
        "</div><div>"
        + charts.to_img(
            charts.stacked(by_plan, "Plan type by segment", "subscribers"),
            "plan type by segment",
            dpi,
        )
        + "</div></div>"
    )
    return body + _release_note(t, "segment_area_plan"), True


def migration(t: Tables, dpi: int) -> tuple[str, bool]:
    mig = t.get("segment_migration")
    if mig is None or mig.empty:
        return _na("migration needs two snapshots of segment assignments"), False
    mat = mig.pivot_table(
        index="from_segment",
        columns="to_segment",
        values="subscribers",
        aggfunc="sum",
        fill_value=0,
    )
    rel = t.get("releases")
    prev = ""
    if (
        rel is not None
        and "previous_snapshot" in rel
        and (rel["table"] == "segment_migration").any()
    ):
        prev = str(rel[rel["table"] == "segment_migration"]["previous_snapshot"].iloc[0])
    fig = charts.heatmap(
        mat.astype(float),
        f"Segment migration {prev} -> this snapshot (rows: from)",
        annotate=mat,
        cmap="Blues",
        centre=False,
    )
    stay = sum(mat.at[s, s] for s in mat.index if s in mat.columns)
    body = charts.to_img(fig, "segment migration matrix", dpi)
    body += _note(
        f"Subscribers who stayed in their macro segment: "
        f"{stay / max(mat.to_numpy().sum(), 1):.0%} (of published cells)."
    )
    return body + _release_note(t, "segment_migration"), True


def propensity(t: Tables, dpi: int) -> tuple[str, bool]:
    ev = t.get("propensity_evaluation")
    if ev is None or ev.empty:
        return _na("propensity evaluation (gold propensity tables)"), False
    decile = next((c for c in ev.columns if "decile" in c or c in ("bucket", "bin")), None)
    group = next((c for c in ("outcome", "model_name", "target") if c in ev.columns), None)
    body = ""
    if decile:
        # Published keys come back as strings: order deciles as numbers (1, 2, ..., 10).
        order = pd.to_numeric(ev[decile], errors="coerce")
        ev = ev.assign(_order=order).sort_values([*([group] if group else []), "_order"])
        ev = ev.drop(columns="_order")
    if decile and "lift" in ev.columns:
        frame = ev.assign(_g=ev[group] if group else "model").pivot_table(
            index=decile, columns="_g", values="lift", aggfunc="mean", sort=False
        )
        frame.index = [str(i) for i in frame.index]
        body += charts.to_img(
            charts.lines(frame, "Lift by score decile", decile, "lift", 1.0),
            "propensity lift chart",
            dpi,
        )
    body += _table(ev) + _release_note(t, "propensity_evaluation")
    return body, True


def fairness(t: Tables, dpi: int) -> tuple[str, bool]:
    fa = t.get("fairness_audit")
    if fa is None or fa.empty:
        return _na("fairness audit (gold propensity fairness table)"), False
    body = _note(
        "Protected attributes (age band, gender) are never model inputs; "
        "they are used here only to audit."
    )
    metric = next(
        (
            c
            for c in fa.columns
            if c in ("positive_rate", "selection_rate", "rate", "tpr", "true_positive_rate")
        ),
        None,
    )
    group = next(
        (c for c in ("group", "value", "attribute_value", "age_band", "gender") if c in fa.columns),
        None,
    )
    if metric and group:
        label = fa[group].astype(str)
        if "attribute" in fa.columns:
            label = fa["attribute"].astype(str) + "=" + label
        series = pd.Series(fa[metric].to_numpy(dtype=float), index=label)
        body += charts.to_img(
            charts.bar(series, f"{metric} by group", metric, horizontal=True), "fairness audit", dpi
        )
    return body + _table(fa) + _release_note(t, "fairness_audit"), True


def fraud(t: Tables, dpi: int) -> tuple[str, bool]:
    fr = t.get("fraud_summary")
    if fr is None or fr.empty:
        return _na("fraud alerts (gold fraud_alerts)"), False
    s = fr.set_index("alert_type")["subscribers"].sort_values(ascending=False)
    body = charts.to_img(
        charts.bar(
            s, "Subscribers with a fraud alert, by first alert type", "subscribers", horizontal=True
        ),
        "fraud summary",
        dpi,
    )
    return body + _table(fr) + _release_note(t, "fraud_summary"), True


def campaigns(t: Tables, dpi: int) -> tuple[str, bool]:
    ca = t.get("campaign_results")
    if ca is None or ca.empty:
        return _na("campaign A/B results (gold campaign_ab)"), False
    body = ""
    rate_col = next(
        (c for c in ("conversion_rate", "rate", "response_rate") if c in ca.columns), None
    )
    if rate_col is None and {"n", "converted"} <= set(ca.columns):
        ca = ca.assign(conversion_rate=ca["converted"] / ca["n"].where(ca["n"] > 0))
        rate_col = "conversion_rate"
    if rate_col and {"campaign_id", "arm"} <= set(ca.columns):
        frame = ca.pivot_table(index="campaign_id", columns="arm", values=rate_col, aggfunc="mean")
        fig = charts.heatmap(
            frame.astype(float), "Conversion rate by campaign and arm", cmap="Greens", centre=False
        )
        body += charts.to_img(fig, "campaign results", dpi)
        if {"treatment", "control"} <= set(frame.columns):
            uplift = (frame["treatment"] - frame["control"]).rename("uplift").reset_index()
            body += _table(uplift)
    return body + _table(ca) + _release_note(t, "campaign_results"), True


def numbers(t: Tables, dpi: int) -> tuple[str, bool]:
    na = t.get("segment_number_attributes")
    if na is None or na.empty:
        return _na("phone-number attributes (silver subscribers)"), False
    body = '<div class="grid">'
    for col in ("country_iso", "carrier", "number_type"):
        by = margins_from_published(na, ["macro_segment_id", col]).pivot_table(
            index="macro_segment_id", columns=col, values="subscribers", aggfunc="sum", fill_value=0
        )
        body += (
            "<div>"
            + charts.to_img(
                charts.stacked(by, f"Segments by {col}", "subscribers"), f"segments by {col}", dpi
            )
            + "</div>"
        )
    body += "</div>" + _note(
        "Rare countries and carriers (fewer than k subscribers) are grouped as 'other'."
    )
    return body + _release_note(t, "segment_number_attributes"), True


def data_quality(t: Tables, dpi: int) -> tuple[str, bool]:
    dq = t.get("data_quality")
    if dq is None or dq.empty:
        return _na("ingest run counts (ops ingest_runs)"), False
    src = next((c for c in ("source", "source_name", "table") if c in dq.columns), None)
    parts = [c for c in dq.columns if any(w in c for w in ("accepted", "quarantined", "duplicate"))]
    parts = [c for c in parts if pd.api.types.is_numeric_dtype(dq[c])]
    body = ""
    if src and parts:
        frame = dq.groupby(src)[parts].sum()
        body += charts.to_img(
            charts.stacked(frame, "Rows by source: accepted, quarantined, duplicates", "rows"),
            "data quality",
            dpi,
        )
    body += _note("Row counts per ingest run (records, not subscribers; published without noise).")
    return body + _table(dq), True


SectionFn = Callable[[], tuple[str, bool]]


def build_sections(t: Tables, params: Mapping[str, object], dpi: int) -> list[Section]:
    """Every section in page order; one failing section shows an error note, not a crash."""
    location = str(params.get("location", "region"))
    spec: list[tuple[str, str, SectionFn]] = [
        ("overview", "Privacy and overview", lambda: overview(t, params)),
        ("segment-sizes", "Segment sizes and profiles", lambda: segment_sizes(t, dpi)),
        ("segment-heatmap", "Segment x indicator heat map", lambda: heatmap(t, dpi)),
        ("segment-geography", "Segments by area and plan", lambda: geography(t, dpi, location)),
        ("migration", "Migration between snapshots", lambda: migration(t, dpi)),
        ("propensity", "Propensity: lift", lambda: propensity(t, dpi)),
        ("fairness", "Fairness audit", lambda: fairness(t, dpi)),
        ("fraud", "Fraud summary", lambda: fraud(t, dpi)),
        ("campaigns", "Campaign results", lambda: campaigns(t, dpi)),
        (
            "number-attributes",
            "Phone-number breakdowns: country, carrier, number type",
            lambda: numbers(t, dpi),
        ),
        ("data-quality", "Data quality", lambda: data_quality(t, dpi)),
    ]
    out = []
    for sid, title, fn in spec:
        try:
            body, ok = fn()
        except (KeyError, ValueError, TypeError) as exc:
            # Unexpected columns in an upstream table: say so, keep the rest of the report.
            body, ok = _na(f"could not draw this section ({type(exc).__name__}: {exc})"), False
        out.append(Section(sid, title, body, ok))
    return out
