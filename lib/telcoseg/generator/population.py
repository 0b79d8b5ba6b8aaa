"""The subscriber population: personas, latent traits, devices, plans, accounts, home/work.

One row per line with everything later stages need (persona parameters included), so the
per-event stages never join. Ids: [0, n_regular) drawn personas, then sim-box lines, then
call-center lines (SIMs bought in batches are consecutive in real life too).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyspark.sql.functions as F
from pyspark.sql import Column, DataFrame, SparkSession

from telcoseg.generator import geography as geo
from telcoseg.generator import hashrand as hr
from telcoseg.generator import numbers as num
from telcoseg.generator.literals import const_array
from telcoseg.generator.personas import (
    CALL_CENTER,
    PERSONAS,
    SIMBOX,
    persona_columns,
    persona_index,
    persona_names,
    pick_from_weights,
    regular_weights,
)
from telcoseg.generator.settings import Settings

# Device models: (TAC, model, months since release at the end date). Sorted by age.
DEVICES = (
    ("35847631", "Nova X5", 2),
    ("35921774", "Pixelon 9", 6),
    ("35310962", "Galaxia S25", 10),
    ("35466213", "iFone 16", 14),
    ("35209488", "Galaxia A55", 19),
    ("35688120", "iFone 14", 26),
    ("35170395", "Motiva G54", 32),
    ("35392847", "iFone 12", 40),
    ("35527706", "Galaxia A12", 50),
    ("35014458", "Classic 3310 4G", 64),
)
SIMBOX_TAC = ("86217001", "GSM Gateway 8-port", 30)
CALL_CENTER_TAC = ("35688120", "iFone 14", 26)


@dataclass(frozen=True)
class Layout:
    """How the id space is split between regular, sim-box and call-center lines."""

    n: int
    n_simbox: int
    n_call_center: int

    @property
    def n_regular(self) -> int:
        return self.n - self.n_simbox - self.n_call_center

    @staticmethod
    def of(s: Settings) -> Layout:
        n_simbox = round(s.subscribers * s.simbox_fraction)
        n_cc = round(s.subscribers * s.call_center_fraction)
        return Layout(s.subscribers, n_simbox, n_cc)


# Mean birth year of the whole base: the personas' means weighted by the default mix.
POPULATION_BIRTH_YEAR = sum(p.weight * p.birth_year for p in PERSONAS) / sum(
    p.weight for p in PERSONAS
)

# Per-persona behaviour columns every line carries (rates, rhythm, mobility, graph).
PERSONA_BEHAVIOUR = (
    "r_voice_out",
    "r_voice_in",
    "r_sms_out",
    "r_sms_in",
    "r_data",
    "data_mb",
    "voice_median_s",
    "missed_share",
    "week",
    "p_home",
    "p_work",
    "p_far",
    "reciprocity",
    "onnet",
    "intl",
    "fixed",
    "short",
)


def _arr(values: list[float] | list[str] | list[int]) -> Column:
    if all(isinstance(v, str) for v in values):
        return const_array(values, "string")  # type: ignore[arg-type]
    return const_array(values, "double" if any(isinstance(v, float) for v in values) else "int")


def imei_body(tac: Column, serial: Column) -> Column:
    """The first 14 IMEI digits: TAC + 6-digit serial."""
    return F.concat(tac, F.lpad(F.pmod(serial, F.lit(1_000_000)).cast("string"), 6, "0"))


def imei_from(body: Column) -> Column:
    """15-digit IMEI: the 14-digit body + Luhn check digit."""

    def add_digit(acc: Column, i: Column) -> Column:
        d = F.substr(body, i + 1, F.lit(1)).cast("int")
        doubled = F.when(d * 2 > 9, d * 2 - 9).otherwise(d * 2)
        return acc + F.when(i % 2 == 1, doubled).otherwise(d)

    luhn = F.aggregate(F.sequence(F.lit(0), F.lit(13)), F.lit(0), add_digit)
    with_body = F.concat(body, F.pmod(10 - F.pmod(luhn, F.lit(10)), F.lit(10)).cast("string"))
    return with_body


def population_df(spark: SparkSession, s: Settings, partitions: int) -> DataFrame:
    """One row per subscriber line with persona parameters and latent traits (the truth)."""
    lay = Layout.of(s)
    seed = s.seed
    sid = F.col("sub_id")
    weights = regular_weights(s)
    drawn = F.element_at(
        const_array([persona_index(n) for n, _ in weights], "int"),
        pick_from_weights(tuple(w for _, w in weights), hr.uniform(seed, "persona", sid)) + 1,
    )
    is_simbox = (sid >= lay.n_regular) & (sid < lay.n_regular + lay.n_simbox)
    is_cc = sid >= lay.n_regular + lay.n_simbox
    persona_idx = (
        F.when(is_simbox, persona_index(SIMBOX))
        .when(is_cc, persona_index(CALL_CENTER))
        .otherwise(drawn)
    )
    names = const_array(persona_names(), "string")

    base = spark.range(0, lay.n, numPartitions=partitions).withColumnRenamed("id", "sub_id")
    df = base.select(
        sid,
        persona_idx.alias("persona_idx"),
        is_simbox.alias("is_simbox"),
        is_cc.alias("is_call_center"),
        num.own_msisdn(sid, seed).alias("msisdn"),
    )
    df = df.select(
        "*",
        F.element_at(names, F.col("persona_idx") + 1).alias("persona"),
        *persona_columns(F.col("persona_idx")),
    )

    blocks = geo.city_blocks(s.cells)
    # Sim-boxes sit in a rack: the lines of one device share its cell and IMEI.
    simbox_group = F.floor((sid - lay.n_regular) / s.simbox_sims_per_device)
    cc_site = F.floor((sid - lay.n_regular - lay.n_simbox) / s.call_center_lines_per_site)
    group_key = (
        F.when(is_simbox, simbox_group + 10_000_000)
        .when(is_cc, cc_site + 20_000_000)
        .otherwise(sid)
    )
    df = df.select(
        "*", geo.pick_city(hr.uniform(seed, "home-city", group_key)).alias("home_city_idx")
    )
    home_city = F.col("home_city_idx")
    df = df.select(
        "*",
        geo.pick_cell(blocks, home_city, hr.uniform(seed, "home-cell", group_key)).alias(
            "home_cell"
        ),
    )
    home_cell = F.col("home_cell")
    work_city = F.when(
        hr.uniform(seed, "work-other-city", sid) < F.col("p_far") * 0.5,
        geo.pick_city(hr.uniform(seed, "work-city", sid)),
    ).otherwise(home_city)
    work_cell = F.when(is_cc | is_simbox, home_cell).otherwise(
        geo.pick_cell(blocks, work_city, hr.uniform(seed, "work-cell", sid), centrality=3.0)
    )

    # Accounts: blocks of 4 regular ids form 1-4 accounts (families share one).
    block, pos = F.floor(sid / 4), F.pmod(sid, F.lit(4))
    df = df.select("*", hr.uniform(seed, "account", block).alias("u_acc"))
    u_acc = F.col("u_acc")
    whole_block_regular = (block * 4 + 3) < lay.n_regular
    group_pos = (
        F.when(~whole_block_regular | (u_acc < 0.55), pos)
        .when(u_acc < 0.75, F.when(pos < 2, 0).otherwise(pos))
        .when(u_acc < 0.88, F.floor(pos / 2) * 2)
        .when(u_acc < 0.95, F.when(pos < 3, 0).otherwise(3))
        .otherwise(0)
    )
    lines_regular = (
        F.when(~whole_block_regular | (u_acc < 0.55), 1)
        .when(u_acc < 0.75, F.when(pos < 2, 2).otherwise(1))
        .when(u_acc < 0.88, 2)
        .when(u_acc < 0.95, F.when(pos < 3, 3).otherwise(1))
        .otherwise(4)
    )
    cc_first = lay.n_regular + lay.n_simbox + cc_site * s.call_center_lines_per_site
    cc_lines = F.least(F.lit(s.call_center_lines_per_site), F.lit(lay.n) - cc_first)
    account_key = F.when(is_cc, cc_first).when(is_simbox, sid).otherwise(block * 4 + group_pos)
    account_id = F.concat(
        F.lit("AC"),
        F.lpad(F.pmod(account_key * 7919 + seed, F.lit(10**9)).cast("string"), 9, "0"),
    )
    lines = F.when(is_cc, cc_lines).when(is_simbox, 1).otherwise(lines_regular)

    # Device: the model whose age is nearest a persona-driven draw; age shows in the TAC.
    ages = [a for _, _, a in DEVICES]
    want_age = F.col("device_age_mean") * hr.lognormal(seed, "device-age", 0.5, sid)
    dev = F.least(F.size(F.filter(_arr(ages), lambda a: a < want_age)), F.lit(len(DEVICES) - 1))
    df = df.select("*", dev.alias("dev_idx"))
    dev_idx = F.col("dev_idx")
    tac = (
        F.when(is_simbox, F.lit(SIMBOX_TAC[0]))
        .when(is_cc, F.lit(CALL_CENTER_TAC[0]))
        .otherwise(F.element_at(_arr([t for t, _, _ in DEVICES]), dev_idx + 1))
    )
    device_age = (
        F.when(is_simbox, F.lit(SIMBOX_TAC[2]))
        .when(is_cc, F.lit(CALL_CENTER_TAC[2]))
        .otherwise(F.element_at(_arr(ages), dev_idx + 1))
    )
    serial = hr.hash64(seed, "imei", F.when(is_simbox, simbox_group + 10_000_000).otherwise(sid))

    tenure_regular = F.greatest(F.lit(30), F.floor(900 * hr.lognormal(seed, "tenure", 0.8, sid)))
    tenure = (
        F.when(is_simbox, s.days + 5 + hr.below(seed, "tenure-sb", 55, sid))
        .when(is_cc, 800 + hr.below(seed, "tenure-cc", 2000, cc_site))
        .otherwise(F.least(tenure_regular, F.lit(8000)))
    ).cast("int")
    df = df.select(
        "*",
        hr.lognormal(seed, "activity", 0.35, sid).alias("activity"),
        hr.lognormal(seed, "data-intensity", 0.6, sid).alias("data_intensity"),
        ((hr.uniform(seed, "prepaid", sid) < F.col("prepaid_share")) | is_simbox).alias(
            "is_prepaid"
        ),
        tac.alias("device_tac"),
    )
    data_intensity = F.col("data_intensity")
    daily_mb = F.col("data_mb") * data_intensity
    is_prepaid = F.col("is_prepaid")
    is_business = (F.col("persona") == "business_commuter") & ~is_prepaid
    plan = (
        F.when(is_cc, "Business Voice 500")
        .when(is_prepaid & (daily_mb < 150), "PAYG Essentials")
        .when(is_prepaid, "Prepaid 30GB")
        .when(is_business, "Business Unlimited")
        .when(daily_mb < 300, "Essential 10GB")
        .when(daily_mb < 1500, "Unlimited")
        .otherwise("Unlimited Max")
    )
    df = df.select(
        "*", plan.alias("plan"), imei_body(F.col("device_tac"), serial).alias("imei_body")
    )
    plan = F.col("plan")
    fees = {
        "Business Voice 500": 22.0,
        "PAYG Essentials": 0.0,
        "Prepaid 30GB": 10.0,
        "Business Unlimited": 34.0,
        "Essential 10GB": 16.0,
        "Unlimited": 28.0,
        "Unlimited Max": 38.0,
    }
    fee = F.create_map(*[x for k, v in fees.items() for x in (F.lit(k), F.lit(v))])[plan]
    n_contacts = F.greatest(
        F.lit(3), F.round(F.col("contacts_mean") * hr.lognormal(seed, "contacts", 0.4, sid))
    ).cast("long")
    # The population's age spread (sd ~15 years) when age is independent of the persona,
    # the persona's own (sd 6) when it follows it fully.
    link = s.age_persona_link
    mean_year = POPULATION_BIRTH_YEAR + link * (F.col("birth_year_mean") - POPULATION_BIRTH_YEAR)
    spread = 6.0 + 9.0 * (1.0 - link)
    birth_year = F.least(
        F.lit(2010.0),
        F.greatest(F.lit(1930.0), mean_year + spread * hr.normal(seed, "birth", sid)),
    ).cast("int")
    u_gender = hr.uniform(seed, "gender", sid)
    gender = F.when(u_gender < 0.48, "F").when(u_gender < 0.96, "M").otherwise(F.lit(None))

    imei = imei_from(F.col("imei_body"))
    return df.select(
        "sub_id",
        "msisdn",
        "persona",
        "persona_idx",
        "is_simbox",
        "is_call_center",
        account_id.alias("account_id"),
        lines.cast("int").alias("lines_on_account"),
        "home_city_idx",
        geo.by_city_names(home_city, blocks).alias("region"),
        "home_cell",
        work_cell.alias("work_cell"),
        "device_tac",
        device_age.cast("int").alias("device_age_months"),
        imei.alias("imei"),
        tenure.alias("tenure_days"),
        F.date_sub(F.lit(s.end_date), tenure).alias("activation_date"),
        F.when(is_prepaid, "prepaid").otherwise("postpaid").alias("plan_type"),
        "plan",
        fee.alias("monthly_fee"),
        "activity",
        "data_intensity",
        n_contacts.alias("n_contacts"),
        hr.below(seed, "intl-country", len(num.INTERNATIONAL), sid).alias("intl_country"),
        (F.col("roaming_days") * hr.lognormal(seed, "traveler", 0.8, sid)).alias("roaming_prob"),
        birth_year.alias("birth_year"),
        gender.alias("gender"),
        *PERSONA_BEHAVIOUR,
        "app_weights",
        "outcome_bias",
    )
