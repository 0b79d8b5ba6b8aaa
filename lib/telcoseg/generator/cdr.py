"""Call detail records: voice, SMS and data events per subscriber and day, all in Spark.

Per (subscriber, day) the persona's rates give event counts; one ``explode`` over
``sequence`` then makes the rows. The index of a row decides what it is: a good event, an
exact duplicate (same file), a re-sent duplicate (another file) or a broken copy. Every
attribute is a hash of (seed, subscriber, day, event index), so content never depends on
partitioning. Bad rows and duplicates are planned per subscriber-day, which lets the truth
manifest count them exactly without generating the events twice.
"""

from __future__ import annotations

import pyspark.sql.functions as F
from pyspark.sql import Column, DataFrame

from telcoseg.generator import geography as geo
from telcoseg.generator import hashrand as hr
from telcoseg.generator import numbers as num
from telcoseg.generator.literals import const_array
from telcoseg.generator.personas import pick_by_persona
from telcoseg.generator.population import Layout
from telcoseg.generator.settings import Settings
from telcoseg.ingest.contract import SOURCES

# The contract's CDR columns, in its order: one definition for the writer and the reader.
CDR_COLUMNS = SOURCES["cdr"].columns
CSV_FAULTS = (
    "missing_required",
    "bad_timestamp",
    "bad_enum",
    "bad_number",
    "negative_number",
    "bad_boolean",
    "field_not_allowed",
    "unparseable_phone",
)
# Typed Parquet columns cannot hold a malformed number, timestamp or boolean.
PARQUET_FAULTS = (
    "missing_required",
    "bad_enum",
    "negative_number",
    "field_not_allowed",
    "unparseable_phone",
)
UNPARSEABLE = ("#VALUE!", "??", "ERROR")
TS_FORMAT = "yyyy-MM-dd'T'HH:mm:ss"


def _lits(values: tuple[str, ...]) -> Column:
    return const_array(values, "string")


def pick_fault(seed: int, salt: str, fmt: Column, *key: Column | str) -> Column:
    """One reason code per bad row, among those the file format can carry."""
    csv = F.element_at(
        _lits(CSV_FAULTS), (hr.below(seed, salt, len(CSV_FAULTS), *key) + 1).cast("int")
    )
    pq = F.element_at(
        _lits(PARQUET_FAULTS), (hr.below(seed, salt, len(PARQUET_FAULTS), *key) + 1).cast("int")
    )
    return F.when(fmt == "parquet", pq).otherwise(csv)


def with_day_counts(df: DataFrame, s: Settings) -> DataFrame:
    """Add per subscriber-day event counts and the index bounds of each row kind.

    Needs population columns plus ``day`` (date), ``day_idx`` (int), ``fmt`` (string).
    """
    seed = s.seed
    key = (F.col("sub_id"), F.col("day_idx"))
    week = F.element_at(F.col("week"), F.dayofweek("day"))
    daily = hr.lognormal(seed, "day-volume", 0.3, *key) * week
    act = F.col("activity") * daily
    data_act = F.sqrt(F.col("data_intensity")) * daily

    def count(rate: Column, salt: str) -> Column:
        return hr.poisson_like(rate, hr.uniform(seed, salt, *key))

    spike_on = (F.col("day_idx") >= s.spike_start_offset_days) & (
        F.col("day_idx") < s.spike_start_offset_days + s.spike_days
    )
    is_regular = ~F.col("is_simbox") & ~F.col("is_call_center")
    spike_sub = is_regular & (hr.uniform(seed, "spike-sub", "sub_id") < s.spike_subscriber_share)
    n_spike = F.when(
        spike_on & spike_sub, count(F.lit(s.spike_calls_per_day), "n-spike")
    ).otherwise(0)
    roaming_day = hr.uniform(seed, "roaming-day", *key) < F.col("roaming_prob")
    out = df.select(
        "*",
        roaming_day.alias("roaming_day"),
        count(F.col("r_voice_out") * act, "n-vo").alias("n_vo"),
        count(F.col("r_voice_in") * act, "n-vi").alias("n_vi"),
        count(F.col("r_sms_out") * act, "n-so").alias("n_so"),
        count(F.col("r_sms_in") * act, "n-si").alias("n_si"),
        count(F.col("r_data") * data_act, "n-data").alias("n_data"),
        n_spike.alias("n_spike"),
    )
    b = F.col
    good = b("n_vo") + b("n_vi") + b("n_so") + b("n_si") + b("n_data") + b("n_spike")
    half_dup = s.duplicate_fraction / 2
    out = out.select(
        "*",
        good.alias("n_good"),
        count(good * half_dup, "n-dup-in").alias("n_dup_in"),
        count(good * half_dup, "n-dup-x").alias("n_dup_x"),
        count(good * s.bad_fraction("cdr"), "n-bad").alias("n_bad"),
    )
    return out.select(
        "*",
        (b("n_vo") + b("n_vi")).alias("b_vi"),
        (b("n_vo") + b("n_vi") + b("n_so")).alias("b_so"),
        (b("n_vo") + b("n_vi") + b("n_so") + b("n_si")).alias("b_si"),
        (b("n_good") - b("n_spike")).alias("b_spike"),
        (b("n_good") + b("n_dup_in")).alias("b_dup_x"),
        (b("n_good") + b("n_dup_in") + b("n_dup_x")).alias("b_bad"),
        (b("n_good") + b("n_dup_in") + b("n_dup_x") + b("n_bad")).alias("n_rows"),
    )


def with_row_plan(df: DataFrame, s: Settings) -> DataFrame:
    """From row index ``k``: row kind, base event index, event kind and (bad rows) fault."""
    seed = s.seed
    k, n_good = F.col("k"), F.col("n_good")
    kind = (
        F.when(k < n_good, "good")
        .when(k < F.col("b_dup_x"), "dup")
        .when(k < F.col("b_bad"), "resend")
        .otherwise("bad")
    )
    base = F.when(k < n_good, k).otherwise(hr.below(seed, "base", n_good, "sub_id", "day_idx", k))
    df = df.select("*", kind.alias("row_kind"), base.cast("long").alias("base"))
    base_c = F.col("base")
    ev = (
        F.when(base_c < F.col("n_vo"), "voice_out")
        .when(base_c < F.col("b_vi"), "voice_in")
        .when(base_c < F.col("b_so"), "sms_out")
        .when(base_c < F.col("b_si"), "sms_in")
        .when(base_c < F.col("b_spike"), "data")
        .otherwise("spike")
    )
    fault = F.when(
        F.col("row_kind") == "bad",
        pick_fault(seed, "cdr-fault", F.col("fmt"), "sub_id", "day_idx", "k"),
    )
    return df.select("*", ev.alias("ev"), fault.alias("fault"))


def explode_rows(sub_day: DataFrame, s: Settings) -> DataFrame:
    """One row per landing CDR row (good, duplicate, re-sent or bad), with its plan."""
    rows = sub_day.filter(F.col("n_rows") > 0).select(
        "*",
        F.explode(F.sequence(F.lit(0).cast("long"), (F.col("n_rows") - 1).cast("long"))).alias("k"),
    )
    return with_row_plan(rows, s)


def explode_bad_only(sub_day: DataFrame, s: Settings) -> DataFrame:
    """Only the bad rows (for the truth manifest): same plan, a fraction of the work."""
    rows = sub_day.filter(F.col("n_bad") > 0).select(
        "*",
        F.explode(
            F.sequence(F.col("b_bad").cast("long"), (F.col("n_rows") - 1).cast("long"))
        ).alias("k"),
    )
    return with_row_plan(rows, s)


def with_contact(df: DataFrame, s: Settings, lay: Layout) -> DataFrame:
    """Add ``contact`` (E.164) and ``contact_kind`` of contact ``j`` of the row's subscriber.

    Staged selects keep each hash computed once (the generated code stays small).
    """
    seed = s.seed
    owner, j = F.col("sub_id"), F.col("j")
    df = df.select(
        "*",
        hr.hash64(seed, "contact", owner, j).alias("c_hash"),
        hr.uniform(seed, "contact-kind", owner, j).alias("c_u"),
        hr.uniform(seed, "contact-country", owner, j).alias("c_u_country"),
    )
    u, h = F.col("c_u"), F.col("c_hash")
    onnet, intl, fixed, short = F.col("onnet"), F.col("intl"), F.col("fixed"), F.col("short")
    sms = F.col("is_sms")
    kind = (
        F.when(u < onnet, "onnet")
        .when(u < onnet + intl, "intl")
        .when(u < onnet + intl + fixed, F.when(sms, "offnet").otherwise("fixed"))
        .when(u < onnet + intl + fixed + short, F.when(sms, "short").otherwise("offnet"))
        .otherwise("offnet")
    )
    # Diaspora callers mostly reach one home country.
    country = F.when(F.col("c_u_country") < 0.8, F.col("intl_country")).otherwise(
        F.pmod(h, F.lit(len(num.INTERNATIONAL)))
    )
    df = df.select("*", kind.alias("contact_kind"), country.alias("c_country"))
    kind = F.col("contact_kind")
    member = num.community_member(owner, j, s.community_size, lay.n_regular, seed)
    number = (
        F.when(kind == "onnet", num.own_msisdn(member, seed))
        .when(kind == "intl", num.international(F.col("c_country"), h))
        .when(kind == "fixed", num.fixed_line(h))
        .when(kind == "short", num.short_code(h))
        .otherwise(num.offnet_mobile(h))
    )
    return df.select("*", number.alias("contact"))


def with_event_fields(rows: DataFrame, s: Settings, timezone: str) -> DataFrame:
    """Typed, valid event attributes of each row's base event."""
    seed = s.seed
    lay = Layout.of(s)
    blocks = geo.city_blocks(s.cells)
    df = rows.select("*", hr.hash64(seed, "event", "sub_id", "day_idx", "base").alias("ek"))

    def u(salt: str) -> Column:
        return hr.uniform(seed, salt, "ek")

    ev = F.col("ev")
    is_voice = ev.isin("voice_out", "voice_in", "spike")
    is_sms = ev.isin("sms_out", "sms_in")
    is_data = ev == "data"
    spike_in = u("spike-dir") < 0.5
    direction = (
        F.when(ev.isin("voice_out", "sms_out"), "out")
        .when(ev.isin("voice_in", "sms_in"), "in")
        .when(ev == "spike", F.when(spike_in, "in").otherwise("out"))
    )
    pidx = F.col("persona_idx")
    hour = F.when(is_data, pick_by_persona("data_hours", pidx, u("hour"))).otherwise(
        pick_by_persona("comm_hours", pidx, u("hour"))
    )
    secs = hour * 3600 + hr.below(seed, "second", 3600, "ek")
    local_ts = F.timestamp_seconds(F.unix_date("day").cast("long") * 86400 + secs)
    instant = (
        local_ts
        if timezone.upper() in ("UTC", "Z", "ETC/UTC")
        else F.to_utc_timestamp(local_ts, timezone)
    )
    df = df.select(
        "*",
        F.when(is_voice, "voice").when(is_sms, "sms").otherwise("data").alias("event_type_v"),
        direction.alias("direction_v"),
        hour.alias("hour"),
        local_ts.alias("local_ts"),
        instant.alias("event_ts"),
    )

    # Where: work cell in working hours, home otherwise, sometimes elsewhere.
    dow = F.dayofweek("day")
    work_time = dow.between(2, 6) & F.col("hour").between(9, 17)
    elsewhere = geo.pick_cell(blocks, F.col("home_city_idx"), u("cell-any"))
    far = geo.pick_cell(blocks, geo.pick_city(u("far-city")), u("cell-any"))
    cell = (
        F.when(F.col("roaming_day"), F.lit(None))
        .when(u("cell-unknown") < 0.02, F.lit(None))
        .when(work_time & (u("at-work") < F.col("p_work")), F.col("work_cell"))
        .when(u("at-home") < F.col("p_home"), F.col("home_cell"))
        .when(u("far") < F.col("p_far"), far)
        .otherwise(elsewhere)
    )

    # Who: a contact (skewed to favorites); calls in come from the reciprocal part.
    n_contacts = F.col("n_contacts")
    u_contact = F.pow(u("contact"), F.lit(2.0))
    j_out = F.floor(u_contact * n_contacts)
    j_in = F.floor(u_contact * F.greatest(F.lit(1.0), n_contacts * F.col("reciprocity")))
    is_out = F.col("direction_v") == "out"
    df = df.select(
        "*",
        F.when(is_out, j_out).otherwise(j_in).cast("long").alias("j"),
        is_sms.alias("is_sms"),
        (u("simbox-onnet") < F.col("onnet")).alias("simbox_onnet"),
        (~is_out & (u("stranger") < 0.15)).alias("in_from_stranger"),
        hr.hash64(seed, "stranger", "ek").alias("stranger_hash"),
    )
    df = with_contact(df, s, lay)
    stranger = num.offnet_mobile(F.col("stranger_hash"))
    random_sub = num.own_msisdn(hr.below(seed, "simbox-target", lay.n_regular, "ek"), seed)
    simbox_target_onnet = F.col("simbox_onnet")
    in_from_stranger = F.col("in_from_stranger")
    spike_number = num.range_number(s.spike_prefix, 12, hr.hash64(seed, "spike-number", "ek"))
    counterparty = (
        F.when(is_data, F.lit(None))
        .when(ev == "spike", spike_number)
        .when(F.col("is_simbox") & simbox_target_onnet, random_sub)
        .when(F.col("is_simbox"), stranger)
        .when(in_from_stranger, stranger)
        .otherwise(F.col("contact"))
    )
    cp_kind = (
        F.when(ev == "spike", "spike")
        .when(F.col("is_simbox") & simbox_target_onnet, "onnet")
        .when(F.col("is_simbox") | in_from_stranger, "offnet")
        .otherwise(F.col("contact_kind"))
    )
    df = df.select("*", counterparty.alias("counterparty_v"), cp_kind.alias("cp_kind"))

    # How long / how much.
    missed = u("missed") < F.col("missed_share")
    call_s = F.greatest(
        F.lit(1.0),
        F.round(
            F.when(ev == "spike", F.lit(20.0)).otherwise(F.col("voice_median_s"))
            * hr.lognormal(seed, "duration", 0.9, "ek")
        ),
    )
    duration = F.when(is_voice, F.when(missed, F.lit(0.0)).otherwise(call_s)).when(
        is_data & (u("data-dur") < 0.75),
        F.round(60.0 * hr.lognormal(seed, "data-dur-s", 1.0, "ek")),
    )
    session_mb = (
        F.col("data_mb") * F.col("data_intensity") / F.greatest(F.col("r_data"), F.lit(1.0))
    )
    bytes_down = F.when(is_data, F.round(session_mb * 1e6 * hr.lognormal(seed, "bytes", 1.0, "ek")))
    bytes_up = F.when(is_data, F.round(bytes_down * (0.03 + 0.15 * u("bytes-up"))))

    minutes = F.ceil(F.coalesce(duration, F.lit(0.0)) / 60.0)
    prepaid = F.col("plan_type") == "prepaid"
    intl_cp = F.col("cp_kind") == "intl"
    roam = F.col("roaming_day")
    voice_rate = F.when(intl_cp, 0.85).when(prepaid, 0.12).otherwise(0.0) + F.when(
        roam, 0.25
    ).otherwise(0.0)
    charge = (
        F.when(is_voice & is_out, minutes * voice_rate)
        .when(is_voice, F.when(roam, minutes * 0.15).otherwise(0.0))
        .when(is_sms & is_out, F.when(intl_cp, 0.2).when(prepaid, 0.08).otherwise(0.0))
        .when(is_sms, F.lit(0.0))
        .otherwise(
            F.coalesce(bytes_down + bytes_up, F.lit(0.0))
            / 1e6
            * (F.when(roam, 0.02).when(F.col("plan") == "PAYG Essentials", 0.01).otherwise(0.0))
        )
    )
    return df.select(
        "*",
        cell.alias("cell_idx"),
        duration.cast("long").alias("duration_v"),
        bytes_up.cast("long").alias("bytes_up_v"),
        bytes_down.cast("long").alias("bytes_down_v"),
        F.when(u("charge-present") < 0.85, F.round(charge, 4)).alias("charge_v"),
        F.when(u("imei-present") < 0.97, F.col("imei")).alias("imei_v"),
    )


def _cased(value: Column, u: Column) -> Column:
    return F.when(u < 0.85, value).when(u < 0.93, F.upper(value)).otherwise(F.initcap(value))


def to_landing(df: DataFrame, s: Settings, typed: bool) -> DataFrame:
    """The landing columns: strings for CSV (with faults applied), typed for Parquet."""
    seed = s.seed

    def u(salt: str) -> Column:
        return hr.uniform(seed, salt, "ek")

    rid_index = F.when(F.col("row_kind") == "bad", F.col("k")).otherwise(F.col("base"))
    record_id = F.concat(
        F.lit("R"),
        F.date_format("day", "yyyyMMdd"),
        F.lit("-"),
        F.lpad(F.col("sub_id").cast("string"), 7, "0"),
        F.lit("-"),
        F.lpad(rid_index.cast("string"), 5, "0"),
    )
    u_tf = u("ts-form")
    ts_text = (
        F.when(u_tf < 0.6, F.date_format("local_ts", TS_FORMAT))
        .when(u_tf < 0.85, F.concat(F.date_format("event_ts", TS_FORMAT), F.lit("Z")))
        .otherwise(
            F.concat(
                F.date_format(F.col("event_ts") + F.expr("INTERVAL 1 HOUR"), TS_FORMAT),
                F.lit("+01:00"),
            )
        )
    )
    u_b = u("bool-form")
    roam = F.col("roaming_day")
    roaming = (
        F.when(u_b < 0.7, F.when(roam, "true").otherwise("false"))
        .when(u_b < 0.85, F.when(roam, "1").otherwise("0"))
        .otherwise(F.when(roam, "yes"))
    )
    base = {
        "record_id": record_id,
        "event_time": ts_text,
        "msisdn": num.as_written(
            F.col("msisdn"), F.lit("own"), u("msisdn-form"), s.national_format_share
        ),
        "event_type": _cased(F.col("event_type_v"), u("type-case")),
        "direction": _cased(F.col("direction_v"), u("dir-case")),
        "counterparty": num.as_written(
            F.col("counterparty_v"), F.col("cp_kind"), u("cp-form"), s.national_format_share
        ),
        "duration_s": F.col("duration_v").cast("string"),
        "bytes_up": F.col("bytes_up_v").cast("string"),
        "bytes_down": F.col("bytes_down_v").cast("string"),
        "cell_id": geo.cell_id(F.col("cell_idx")),
        "imei": F.col("imei_v"),
        "roaming": roaming,
        "charge": F.col("charge_v").cast("decimal(18,4)").cast("string"),
    }
    out = _apply_faults(base, s)
    if not typed:
        return df.select(*[out[c].alias(c) for c in CDR_COLUMNS], "part")
    typed_cols = {
        **out,
        "event_time": F.when(out["event_time"].isNotNull(), F.col("event_ts")),
        "duration_s": out["duration_s"].try_cast("long"),
        "bytes_up": out["bytes_up"].try_cast("long"),
        "bytes_down": out["bytes_down"].try_cast("long"),
        "roaming": out["roaming"].try_cast("boolean"),
        "charge": out["charge"].try_cast("decimal(18,4)"),
    }
    return df.select(*[typed_cols[c].alias(c) for c in CDR_COLUMNS], "part")


def _apply_faults(base: dict[str, Column], s: Settings) -> dict[str, Column]:
    """Break exactly one rule on bad rows; everything else stays valid."""
    seed = s.seed
    fault = F.col("fault")
    ev = F.col("ev")
    is_data = ev == "data"
    is_sms = ev.isin("sms_out", "sms_in")
    is_voice = ~is_data & ~is_sms
    variant = hr.below(seed, "fault-variant", 1000, "sub_id", "day_idx", "k")
    out = dict(base)

    # missing_required: blank one required field (direction only where it is required).
    n_required = F.when(is_data, 4).otherwise(5)
    which = F.pmod(variant, n_required)
    missing = fault == "missing_required"
    for i, col in enumerate(("record_id", "event_time", "msisdn", "event_type", "direction")):
        out[col] = F.when(missing & (which == i), F.lit(None)).otherwise(out[col])

    bad_ts = _lits(("2026-13-45T10:00:00", "yesterday", "2026-02-30T25:61:00"))
    out["event_time"] = F.when(
        fault == "bad_timestamp", F.element_at(bad_ts, (F.pmod(variant, F.lit(3)) + 1).cast("int"))
    ).otherwise(out["event_time"])

    enum_on_type = is_data | (F.pmod(variant, F.lit(2)) == 0)
    out["event_type"] = F.when(
        (fault == "bad_enum") & enum_on_type, F.when(is_data, "fax").otherwise("video_call")
    ).otherwise(out["event_type"])
    out["direction"] = F.when((fault == "bad_enum") & ~enum_on_type, "both").otherwise(
        out["direction"]
    )

    bad_num = fault == "bad_number"
    out["duration_s"] = F.when(bad_num & is_voice, F.lit("12s")).otherwise(out["duration_s"])
    out["bytes_down"] = F.when(bad_num & is_data, F.lit("1.5MB")).otherwise(out["bytes_down"])
    out["charge"] = F.when(bad_num & is_sms, F.lit("EUR0.10")).otherwise(out["charge"])

    neg = fault == "negative_number"
    out["duration_s"] = F.when(
        neg & is_voice, F.concat(F.lit("-"), (F.col("duration_v") + 1).cast("string"))
    ).otherwise(out["duration_s"])
    out["bytes_down"] = F.when(
        neg & is_data, F.concat(F.lit("-"), (F.col("bytes_down_v") + 1).cast("string"))
    ).otherwise(out["bytes_down"])
    out["charge"] = F.when(neg & is_sms, F.lit("-0.0800")).otherwise(out["charge"])

    out["roaming"] = F.when(
        fault == "bad_boolean", F.when(F.pmod(variant, F.lit(2)) == 0, "maybe").otherwise("2")
    ).otherwise(out["roaming"])

    extra = fault == "field_not_allowed"
    out["bytes_down"] = F.when(extra & is_voice, F.lit("2048")).otherwise(out["bytes_down"])
    out["duration_s"] = F.when(extra & is_sms, F.lit("30")).otherwise(out["duration_s"])
    out["direction"] = F.when(extra & is_data, F.lit("out")).otherwise(out["direction"])

    bad_phone = F.element_at(_lits(UNPARSEABLE), (F.pmod(variant, F.lit(3)) + 1).cast("int"))
    phone = fault == "unparseable_phone"
    on_cp = ~is_data & (F.pmod(variant, F.lit(2)) == 1)
    out["msisdn"] = F.when(phone & ~on_cp, bad_phone).otherwise(out["msisdn"])
    out["counterparty"] = F.when(phone & on_cp, bad_phone).otherwise(out["counterparty"])
    return out


def cdr_rows(sub_day: DataFrame, s: Settings, timezone: str, typed: bool) -> DataFrame:
    """Landing CDR rows of the given subscriber-days, plus ``part`` (main or resend)."""
    rows = explode_rows(sub_day, s)
    rows = with_event_fields(rows, s, timezone)
    # The file a row goes to: its day, and the day's re-sent file for cross-file duplicates.
    resend = F.when(F.col("row_kind") == "resend", "_resend").otherwise("")
    rows = rows.select("*", F.concat(F.date_format("day", "yyyy-MM-dd"), resend).alias("part"))
    return to_landing(rows, s, typed)
