"""Call detail records: voice, SMS and data events per subscriber and day, all in Spark.

Per (subscriber, day) the persona's rates give event counts; one ``explode`` over
``sequence`` then makes the rows. The index of a row decides what it is: a good event, an
exact duplicate (same file), a re-sent duplicate (another file) or a broken copy. Every
attribute is a hash of (seed, subscriber, day, event index), so content never depends on
partitioning. Bad rows and duplicates are planned per subscriber-day, which lets the truth
manifest count them exactly without generating the events twice.

Speed (this runs once per landing row): an event costs nine 64-bit hashes, its draws are
bit fields of them (``hashrand.unit``); the exploded rows carry only the columns the
event needs, every per-day string is built once per subscriber-day, enums are small ints
until the landing strings are looked up from constant arrays, and Parquet columns are
typed directly instead of parsed back from the CSV strings. Together this keeps each
generated method small enough for the JIT to compile.
"""

from __future__ import annotations

import pyspark.sql.functions as F
from pyspark.sql import Column, DataFrame

from telcoseg.generator import geography as geo
from telcoseg.generator import hashrand as hr
from telcoseg.generator import numbers as num
from telcoseg.generator.literals import const_array, lookup
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

# Event kinds (``ev``) and row kinds (``row_kind``) as small ints: compared on every row.
VOICE_OUT, VOICE_IN, SMS_OUT, SMS_IN, DATA, SPIKE = range(6)
GOOD, DUP, RESEND, BAD = range(4)
EVENT_TYPES = ("voice", "voice", "sms", "sms", "data", "voice")
# Landing spellings of an enum: as is (85%), upper case (8%), capitalized (7%).
_CASE_FORMS = 3
_TWO_DIGITS = tuple(f"{i:02d}" for i in range(60))
# Per community block, the pool that external contacts (off-net, fixed, abroad, short)
# are drawn from, in numbers per member: friends, family and local services are shared.
EXTERNAL_POOL_PER_MEMBER = 10
# Per community block, the pool of unknown callers (sales, deliveries, wrong numbers).
STRANGER_POOL_PER_MEMBER = 4

# What the exploded rows carry from the subscriber-day (everything else is pruned first).
EVENT_INPUT = (
    "sub_id",
    "msisdn",
    "persona_idx",
    "is_simbox",
    "home_city_idx",
    "home_cell",
    "work_cell",
    "imei",
    "is_prepaid",
    "is_payg",
    "session_mb",
    "n_contacts",
    "intl_country",
    "voice_median_s",
    "missed_share",
    "p_home",
    "p_work",
    "p_far",
    "reciprocity",
    "onnet",
    "intl",
    "fixed",
    "short",
    "day_idx",
    "day_secs",
    "day_iso",
    "rid_prefix",
    "is_workday",
    "is_parquet",
    "roaming_day",
    "n_good",
    "n_vo",
    "b_vi",
    "b_so",
    "b_si",
    "b_spike",
    "b_dup_x",
    "b_bad",
)


def _lits(values: tuple[str, ...]) -> Column:
    return const_array(values, "string")


def pick_fault(is_parquet: Column, r: Column) -> Column:
    """One reason code per bad row, among those the file format can carry (r: long >= 0)."""
    csv = F.element_at(_lits(CSV_FAULTS), (F.pmod(r, F.lit(len(CSV_FAULTS))) + 1).cast("int"))
    pq = F.element_at(
        _lits(PARQUET_FAULTS), (F.pmod(r, F.lit(len(PARQUET_FAULTS))) + 1).cast("int")
    )
    return F.when(is_parquet, pq).otherwise(csv)


def with_day_counts(df: DataFrame, s: Settings) -> DataFrame:
    """Add per subscriber-day event counts and the index bounds of each row kind.

    Needs population columns plus ``day`` (date), ``day_idx`` (int), ``fmt`` (string).
    Also adds what every event of the day shares (day strings, the record-id prefix),
    so those are built once per subscriber-day instead of once per row.
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
    rid_prefix = F.concat(
        F.lit("R"),
        F.date_format("day", "yyyyMMdd"),
        F.lit("-"),
        F.lpad(F.col("sub_id").cast("string"), 7, "0"),
        F.lit("-"),
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
        F.date_format("day", "yyyy-MM-dd").alias("day_iso"),
        (F.unix_date("day").cast("long") * 86400).alias("day_secs"),
        rid_prefix.alias("rid_prefix"),
        F.dayofweek("day").between(2, 6).alias("is_workday"),
        (F.col("fmt") == "parquet").alias("is_parquet"),
        (F.col("plan_type") == "prepaid").alias("is_prepaid"),
        (F.col("plan") == "PAYG Essentials").alias("is_payg"),
        (
            F.col("data_mb") * F.col("data_intensity") / F.greatest(F.col("r_data"), F.lit(1.0))
        ).alias("session_mb"),
    )


def with_row_plan(df: DataFrame, s: Settings) -> DataFrame:
    """From row index ``k``: row kind, base event index, event kind and (bad rows) fault.

    Good rows need no hash here; a copy's one hash picks its base event, its fault and
    the fault's variant from separate bit fields.
    """
    seed = s.seed
    k, n_good = F.col("k"), F.col("n_good")
    copy_hash = F.when(k >= n_good, hr.hash64(seed, "row", "sub_id", "day_idx", k))
    df = df.select("*", copy_hash.alias("hk"))
    hk = F.col("hk")
    kind = (
        F.when(k < n_good, GOOD)
        .when(k < F.col("b_dup_x"), DUP)
        .when(k < F.col("b_bad"), RESEND)
        .otherwise(BAD)
    )
    base = (
        F.when(k < n_good, k)
        .when(n_good > 0, F.pmod(hr.bits(hk, 0, 31), n_good))
        .otherwise(F.lit(0).cast("long"))
    )
    df = df.select("*", kind.alias("row_kind"), base.cast("long").alias("base"))
    base_c = F.col("base")
    ev = (
        F.when(base_c < F.col("n_vo"), VOICE_OUT)
        .when(base_c < F.col("b_vi"), VOICE_IN)
        .when(base_c < F.col("b_so"), SMS_OUT)
        .when(base_c < F.col("b_si"), SMS_IN)
        .when(base_c < F.col("b_spike"), DATA)
        .otherwise(SPIKE)
    )
    is_bad = F.col("row_kind") == BAD
    fault = F.when(is_bad, pick_fault(F.col("is_parquet"), hr.bits(hk, 31, 16)))
    variant = F.when(is_bad, F.pmod(hr.bits(hk, 47, 16), F.lit(1000)))
    return df.select("*", ev.alias("ev"), fault.alias("fault"), variant.alias("variant"))


def _explode(sub_day: DataFrame, first: Column) -> DataFrame:
    rows = sub_day.filter(F.col("n_rows") > first).select(*EVENT_INPUT, "n_rows", first.alias("k0"))
    return rows.select(
        *EVENT_INPUT,
        F.explode(F.sequence(F.col("k0").cast("long"), (F.col("n_rows") - 1).cast("long"))).alias(
            "k"
        ),
    )


def explode_rows(sub_day: DataFrame, s: Settings) -> DataFrame:
    """One row per landing CDR row (good, duplicate, re-sent or bad), with its plan."""
    return with_row_plan(_explode(sub_day, F.lit(0)), s)


def explode_bad_only(sub_day: DataFrame, s: Settings) -> DataFrame:
    """Only the bad rows (for the truth manifest): same plan, a fraction of the work."""
    return with_row_plan(_explode(sub_day, F.col("b_bad")), s)


def _pool_number(seed: int, salt: str, sub_id: Column, size: int, r: Column) -> Column:
    """Hash of member ``r`` (long >= 0, taken modulo ``size``) of the block's pool."""
    block = F.floor(sub_id / size)
    return hr.hash64(seed, salt, block, F.pmod(r, F.lit(size)))


def with_contact(df: DataFrame, s: Settings, lay: Layout) -> DataFrame:
    """Add ``contact`` (E.164) and ``contact_kind`` of contact ``j`` of the row's subscriber.

    One hash of (subscriber, j) fixes the contact: its kind, its country and which member
    of the community block it is. External contacts come from the block's shared pool,
    so distinct numbers grow with subscribers, not with events.
    """
    seed = s.seed
    owner, j = F.col("sub_id"), F.col("j")
    comm = F.col("ev") != DATA
    df = df.select("*", F.when(comm, hr.hash64(seed, "contact", owner, j)).alias("c_hash"))
    h = F.col("c_hash")
    u = hr.unit(h, 0)
    onnet, intl, fixed, short = F.col("onnet"), F.col("intl"), F.col("fixed"), F.col("short")
    sms = F.col("ev").isin(SMS_OUT, SMS_IN)
    kind = (
        F.when(u < onnet, "onnet")
        .when(u < onnet + intl, "intl")
        .when(u < onnet + intl + fixed, F.when(sms, "offnet").otherwise("fixed"))
        .when(u < onnet + intl + fixed + short, F.when(sms, "short").otherwise("offnet"))
        .otherwise("offnet")
    )
    # Diaspora callers mostly reach one home country.
    country = F.when(hr.unit(h, 16) < 0.8, F.col("intl_country")).otherwise(
        F.pmod(hr.bits(h, 32, 16), F.lit(len(num.INTERNATIONAL)))
    )
    # A call center's customers are its own pool; everyone else shares the block's.
    pool = EXTERNAL_POOL_PER_MEMBER * s.community_size
    member_r = hr.bits(h, 32, 31)
    pool_r = F.pmod(member_r, F.greatest(F.lit(pool), F.col("n_contacts")))
    df = df.select(
        "*",
        kind.alias("contact_kind"),
        country.alias("c_country"),
        F.when(comm, hr.hash64(seed, "external", F.floor(owner / s.community_size), pool_r)).alias(
            "x_hash"
        ),
    )
    kind = F.col("contact_kind")
    x = F.col("x_hash")
    member = num.community_member(owner, member_r, s.community_size, lay.n_regular)
    number = (
        F.when(kind == "onnet", num.own_msisdn(member, seed))
        .when(kind == "intl", num.international(F.col("c_country"), x))
        .when(kind == "fixed", num.fixed_line(x))
        .when(kind == "short", num.short_code(x))
        .otherwise(num.offnet_mobile(x))
    )
    return df.select("*", number.alias("contact"))


def with_event_fields(rows: DataFrame, s: Settings, timezone: str) -> DataFrame:
    """Typed, valid event attributes of each row's base event.

    Draws come from bit fields of eight hashes derived from the event key ``ek``:
    h1 hour | second | contact; h2 cell-unknown, at-work, at-home, far; h3 cell-any,
    far-city, spike direction, sim-box on-net; h4 stranger, missed, charge, IMEI present;
    h5 normal (call or session length) | data-duration; h6 normal (bytes) | bytes-up;
    h7 and h8 how the landing row is written; ``ek`` itself gives per-event numbers.
    """
    seed = s.seed
    lay = Layout.of(s)
    blocks = geo.city_blocks(s.cells)
    df = rows.select("*", hr.hash64(seed, "event", "sub_id", "day_idx", "base").alias("ek"))
    ek = F.col("ek")
    df = df.select("*", *[hr.rehash(ek, i).alias(f"h{i}") for i in range(1, 9)])
    h1, h2, h3, h4 = F.col("h1"), F.col("h2"), F.col("h3"), F.col("h4")
    h5, h6 = F.col("h5"), F.col("h6")

    ev = F.col("ev")
    is_voice = ev.isin(VOICE_OUT, VOICE_IN, SPIKE)
    is_sms = ev.isin(SMS_OUT, SMS_IN)
    is_data = ev == DATA
    spike_in = hr.unit(h3, 32) < 0.5
    is_out = (
        F.when(ev.isin(VOICE_OUT, SMS_OUT), True)
        .when(ev.isin(VOICE_IN, SMS_IN), False)
        .when(ev == SPIKE, ~spike_in)
    )
    pidx = F.col("persona_idx")
    u_hour = hr.unit(h1, 0, 21)
    hour = F.when(is_data, pick_by_persona("data_hours", pidx, u_hour)).otherwise(
        pick_by_persona("comm_hours", pidx, u_hour)
    )
    second = F.pmod(hr.bits(h1, 21, 21), F.lit(3600))
    df = df.select("*", is_out.alias("is_out"), hour.alias("hour"), second.alias("second"))
    secs = F.col("hour") * 3600 + F.col("second")
    local_ts = F.timestamp_seconds(F.col("day_secs") + secs)
    instant = local_ts if _is_utc(timezone) else F.to_utc_timestamp(local_ts, timezone)

    # Where: work cell in working hours, home otherwise, sometimes elsewhere.
    work_time = F.col("is_workday") & F.col("hour").between(9, 17)
    u_cell_any = hr.unit(h3, 0)
    elsewhere = geo.pick_cell(blocks, F.col("home_city_idx"), u_cell_any)
    far = geo.pick_cell(blocks, geo.pick_city(hr.unit(h3, 16)), u_cell_any)
    cell = (
        F.when(F.col("roaming_day"), F.lit(None))
        .when(hr.unit(h2, 0) < 0.02, F.lit(None))
        .when(work_time & (hr.unit(h2, 16) < F.col("p_work")), F.col("work_cell"))
        .when(hr.unit(h2, 32) < F.col("p_home"), F.col("home_cell"))
        .when(hr.unit(h2, 48) < F.col("p_far"), far)
        .otherwise(elsewhere)
    )

    # Who: a contact (skewed to favorites); calls in come from the reciprocal part.
    n_contacts = F.col("n_contacts")
    u_contact = F.pow(hr.unit(h1, 42, 21), F.lit(2.0))
    j_out = F.floor(u_contact * n_contacts)
    j_in = F.floor(u_contact * F.greatest(F.lit(1.0), n_contacts * F.col("reciprocity")))
    is_out_c = F.col("is_out")
    df = df.select(
        "*",
        local_ts.alias("local_ts"),
        instant.alias("event_ts"),
        cell.alias("cell_idx"),
        F.when(is_out_c, j_out).otherwise(j_in).cast("long").alias("j"),
    )
    df = with_contact(df, s, lay)
    # Unknown callers repeat (a block's pool, a few popular); sim-boxes call fresh numbers.
    stranger_pool = STRANGER_POOL_PER_MEMBER * s.community_size
    stranger_r = F.floor(F.pow(hr.unit(h4, 32), F.lit(2.0)) * stranger_pool).cast("long")
    stranger = num.offnet_mobile(
        _pool_number(seed, "stranger", F.col("sub_id"), s.community_size, stranger_r)
    )
    fresh = num.offnet_mobile(ek)
    random_sub = num.own_msisdn(F.pmod(hr.bits(ek, 0, 62), F.lit(lay.n_regular)), seed)
    simbox_target_onnet = hr.unit(h3, 48) < F.col("onnet")
    in_from_stranger = ~is_out_c & (hr.unit(h4, 0) < 0.15)
    spike_number = num.range_number(s.spike_prefix, 12, ek)
    is_simbox = F.col("is_simbox")
    counterparty = (
        F.when(is_data, F.lit(None))
        .when(ev == SPIKE, spike_number)
        .when(is_simbox & simbox_target_onnet, random_sub)
        .when(is_simbox, fresh)
        .when(in_from_stranger, stranger)
        .otherwise(F.col("contact"))
    )
    cp_kind = (
        F.when(ev == SPIKE, "spike")
        .when(is_simbox & simbox_target_onnet, "onnet")
        .when(is_simbox | in_from_stranger, "offnet")
        .otherwise(F.col("contact_kind"))
    )

    # How long / how much.
    missed = hr.unit(h4, 16) < F.col("missed_share")
    call_s = F.greatest(
        F.lit(1.0),
        F.round(
            F.when(ev == SPIKE, F.lit(20.0)).otherwise(F.col("voice_median_s"))
            * F.exp(hr.normal_from(h5) * 0.9)
        ),
    )
    duration = F.when(is_voice, F.when(missed, F.lit(0.0)).otherwise(call_s)).when(
        is_data & (hr.unit(h5, 42) < 0.75),
        F.round(60.0 * F.exp(hr.normal_from(h5))),
    )
    bytes_down = F.when(is_data, F.round(F.col("session_mb") * 1e6 * F.exp(hr.normal_from(h6))))
    df = df.select(
        "*",
        counterparty.alias("counterparty_v"),
        cp_kind.alias("cp_kind"),
        duration.cast("long").alias("duration_v"),
        bytes_down.cast("long").alias("bytes_down_v"),
    )
    bytes_up = F.when(
        is_data, F.round(F.col("bytes_down_v") * (0.03 + 0.15 * hr.unit(h6, 42)))
    ).cast("long")

    minutes = F.ceil(F.coalesce(F.col("duration_v"), F.lit(0)) / 60.0)
    prepaid = F.col("is_prepaid")
    intl_cp = F.col("cp_kind") == "intl"
    roam = F.col("roaming_day")
    voice_rate = F.when(intl_cp, 0.85).when(prepaid, 0.12).otherwise(0.0) + F.when(
        roam, 0.25
    ).otherwise(0.0)
    volume_mb = (F.col("bytes_down_v") + bytes_up) / 1e6
    charge = (
        F.when(is_voice & is_out_c, minutes * voice_rate)
        .when(is_voice, F.when(roam, minutes * 0.15).otherwise(0.0))
        .when(is_sms & is_out_c, F.when(intl_cp, 0.2).when(prepaid, 0.08).otherwise(0.0))
        .when(is_sms, F.lit(0.0))
        .otherwise(
            F.coalesce(volume_mb, F.lit(0.0))
            * (F.when(roam, 0.02).when(F.col("is_payg"), 0.01).otherwise(0.0))
        )
    )
    return df.select(
        "*",
        bytes_up.alias("bytes_up_v"),
        F.when(hr.unit(h4, 48) < 0.85, F.round(charge, 4)).alias("charge_v"),
    )


def _is_utc(timezone: str) -> bool:
    return timezone.upper() in ("UTC", "Z", "ETC/UTC")


def _cased(values: tuple[str, ...], idx: Column, u: Column) -> Column:
    """``values[idx]`` as written: as is (85%), upper case (8%) or capitalized (7%)."""
    forms = [f for v in values for f in (v, v.upper(), v.capitalize())]
    form = F.when(u < 0.85, 0).when(u < 0.93, 1).otherwise(2)
    return lookup(forms, "string", idx * _CASE_FORMS + form)


def _event_time_text(timezone: str, u: Column) -> Column:
    """The event time as exported: local wall clock, UTC with Z, or with +01:00.

    In UTC the text is assembled from the day string and two-digit lookups (no
    per-row date formatting); other zones need the zone rules and format per row.
    """
    if not _is_utc(timezone):
        plus_one = F.date_format(F.col("event_ts") + F.expr("INTERVAL 1 HOUR"), TS_FORMAT)
        return (
            F.when(u < 0.6, F.date_format("local_ts", TS_FORMAT))
            .when(u < 0.85, F.concat(F.date_format("event_ts", TS_FORMAT), F.lit("Z")))
            .otherwise(F.concat(plus_one, F.lit("+01:00")))
        )
    hour, second = F.col("hour"), F.col("second")

    def two(n: Column) -> Column:
        return lookup(_TWO_DIGITS, "string", n)

    min_sec = F.concat(
        F.lit(":"), two(F.floor(second / 60)), F.lit(":"), two(F.pmod(second, F.lit(60)))
    )
    wall = F.concat(F.col("day_iso"), F.lit("T"), two(hour), min_sec)
    # An hour later is still the same day before 23:00; only then does the date change.
    plus_one = F.when(
        hour < 23, F.concat(F.col("day_iso"), F.lit("T"), two(hour + 1), min_sec)
    ).otherwise(F.date_format(F.col("event_ts") + F.expr("INTERVAL 1 HOUR"), TS_FORMAT))
    return (
        F.when(u < 0.6, wall)
        .when(u < 0.85, F.concat(wall, F.lit("Z")))
        .otherwise(F.concat(plus_one, F.lit("+01:00")))
    )


def to_landing(df: DataFrame, s: Settings, typed: bool, timezone: str = "UTC") -> DataFrame:
    """The landing columns: strings for CSV (with faults applied), typed for Parquet."""
    h7, h8 = F.col("h7"), F.col("h8")
    rid_index = F.when(F.col("row_kind") == BAD, F.col("k")).otherwise(F.col("base"))
    record_id = F.concat(F.col("rid_prefix"), F.lpad(rid_index.cast("string"), 5, "0"))
    u_b = hr.unit(h7, 16)
    roam = F.col("roaming_day")
    roaming = (
        F.when(u_b < 0.7, F.when(roam, "true").otherwise("false"))
        .when(u_b < 0.85, F.when(roam, "1").otherwise("0"))
        .otherwise(F.when(roam, "yes"))
    )
    ev = F.col("ev")
    direction_idx = F.when(F.col("is_out"), 0).otherwise(1)
    direction = F.when(ev != DATA, _cased(("out", "in"), direction_idx, hr.unit(h8, 0)))
    imei = F.when(hr.unit(h8, 32) < 0.97, F.col("imei"))
    base = {
        "record_id": record_id,
        "event_time": _event_time_text(timezone, hr.unit(h7, 0)),
        "msisdn": num.as_written(
            F.col("msisdn"), F.lit("own"), hr.unit(h7, 32), s.national_format_share
        ),
        "event_type": _cased(EVENT_TYPES, ev, hr.unit(h7, 48)),
        "direction": direction,
        "counterparty": num.as_written(
            F.col("counterparty_v"), F.col("cp_kind"), hr.unit(h8, 16), s.national_format_share
        ),
        "duration_s": F.col("duration_v").cast("string"),
        "bytes_up": F.col("bytes_up_v").cast("string"),
        "bytes_down": F.col("bytes_down_v").cast("string"),
        "cell_id": geo.cell_id(F.col("cell_idx")),
        "imei": imei,
        "roaming": roaming,
        "charge": F.col("charge_v").cast("decimal(18,4)").cast("string"),
    }
    is_good = F.col("fault").isNull()
    broken = _apply_faults(base)
    out = {c: F.when(is_good, base[c]).otherwise(broken[c]) for c in base}
    if not typed:
        return df.select(*[out[c].alias(c) for c in CDR_COLUMNS], "part")
    # Parquet: good rows take the typed values as they are; only broken rows go through
    # the strings (a negative number, a blanked field) and are cast back.
    typed_good = {
        "event_time": F.col("event_ts"),
        "duration_s": F.col("duration_v"),
        "bytes_up": F.col("bytes_up_v"),
        "bytes_down": F.col("bytes_down_v"),
        "roaming": F.when((u_b < 0.85) | roam, roam),
        "charge": F.col("charge_v").cast("decimal(18,4)"),
    }
    typed_broken = {
        "event_time": F.when(broken["event_time"].isNotNull(), F.col("event_ts")),
        "duration_s": broken["duration_s"].try_cast("long"),
        "bytes_up": broken["bytes_up"].try_cast("long"),
        "bytes_down": broken["bytes_down"].try_cast("long"),
        "roaming": broken["roaming"].try_cast("boolean"),
        "charge": broken["charge"].try_cast("decimal(18,4)"),
    }
    typed_cols = {
        **out,
        **{c: F.when(is_good, typed_good[c]).otherwise(typed_broken[c]) for c in typed_good},
    }
    return df.select(*[typed_cols[c].alias(c) for c in CDR_COLUMNS], "part")


def _apply_faults(base: dict[str, Column]) -> dict[str, Column]:
    """Break exactly one rule on bad rows; everything else stays valid."""
    fault = F.col("fault")
    ev = F.col("ev")
    is_data = ev == DATA
    is_sms = ev.isin(SMS_OUT, SMS_IN)
    is_voice = ~is_data & ~is_sms
    variant = F.col("variant")
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
    part = F.when(
        F.col("row_kind") == RESEND, F.concat(F.col("day_iso"), F.lit("_resend"))
    ).otherwise(F.col("day_iso"))
    rows = rows.select("*", part.alias("part"))
    return to_landing(rows, s, typed, timezone)
