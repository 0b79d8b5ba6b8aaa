"""Phone numbers as Spark columns: own ranges, other networks, fixed lines, abroad, short codes.

Every range below was checked with libphonenumber: random subscriber digits give valid
numbers, and the own and other mobile ranges map to a carrier. Own numbers are a bijection
of the subscriber id, so any row can compute any subscriber's number without a join.
"""

from __future__ import annotations

import pyspark.sql.functions as F
from pyspark.sql import Column

from telcoseg.generator.literals import lookup

# The operator's own GB mobile ranges (one carrier in libphonenumber), 10^6 numbers each.
OWN_RANGES = ("+447400", "+447401", "+447402", "+447403", "+447453")
# Other GB mobile networks.
OFFNET_MOBILE = ("+447508", "+447944", "+447956", "+447930", "+447511", "+447802", "+447766")
# GB fixed lines: (prefix, digits after it, national layout) - "2-4-4" is 020 xxxx xxxx.
FIXED = (("+44207", 7, "london"), ("+44203", 7, "london"), ("+44161", 7, "city"))
# Abroad: (prefix, digits after it), one entry per country.
INTERNATIONAL = (
    ("+49151", 8),
    ("+9198", 8),
    ("+234803", 7),
    ("+4850", 7),
    ("+92300", 7),
    ("+35386", 7),
    ("+39347", 7),
    ("+880171", 7),
    ("+12125", 6),
    ("+33612", 6),
)
SHORT_CODES = ("12345", "8888", "4444", "60060", "88222")

_MULT = 370_241  # odd and not a multiple of 5: x -> (a*x + b) mod 10^6 is a bijection


def _digits(h: Column, n: int) -> Column:
    return F.lpad(F.pmod(h, F.lit(10**n)).cast("string"), n, "0")


def _choose(options: tuple[str, ...], idx: Column) -> Column:
    return lookup(options, "string", idx)


def own_msisdn(sub_id: Column, seed: int) -> Column:
    """E.164 number of own subscriber ``sub_id`` (unique for ids < 5 * 10^6)."""
    n = len(OWN_RANGES)
    offset = seed % 1_000_000
    local = F.pmod(F.floor(sub_id / n) * _MULT + offset, F.lit(1_000_000))
    return F.concat(_choose(OWN_RANGES, F.pmod(sub_id, F.lit(n))), _digits(local, 6))


def mobile_national(e164: Column) -> Column:
    """+447400123456 -> '07400 123456' (GB mobile national layout)."""
    return F.concat(F.lit("0"), F.substring(e164, 4, 4), F.lit(" "), F.substring(e164, 8, 6))


def offnet_mobile(h: Column) -> Column:
    prefix = _choose(OFFNET_MOBILE, F.pmod(h, F.lit(len(OFFNET_MOBILE))))
    return F.concat(prefix, _digits(F.shiftright(h, 8), 6))


def fixed_line(h: Column) -> Column:
    idx = F.pmod(h, F.lit(len(FIXED)))
    prefix = _choose(tuple(p for p, _, _ in FIXED), idx)
    return F.concat(prefix, _digits(F.shiftright(h, 8), 7))


def fixed_national(e164: Column) -> Column:
    """+442071234567 -> '020 7123 4567'; +441611234567 -> '0161 123 4567'."""
    london = F.concat(F.lit("020 "), F.substring(e164, 6, 4), F.lit(" "), F.substring(e164, 10, 4))
    city = F.concat(
        F.lit("0"),
        F.substring(e164, 4, 3),
        F.lit(" "),
        F.substring(e164, 7, 3),
        F.lit(" "),
        F.substring(e164, 10, 4),
    )
    return F.when(F.substring(e164, 4, 1) == "2", london).otherwise(city)


def international(country_idx: Column, h: Column) -> Column:
    """A mobile number in country ``country_idx`` (index into INTERNATIONAL)."""
    branches = None
    for i, (prefix, nd) in enumerate(INTERNATIONAL):
        value = F.concat(F.lit(prefix), _digits(F.shiftright(h, 8), nd))
        branches = (
            F.when(country_idx == i, value)
            if branches is None
            else branches.when(country_idx == i, value)
        )
    assert branches is not None
    return branches.otherwise(F.lit(None))


def short_code(h: Column) -> Column:
    return _choose(SHORT_CODES, F.pmod(h, F.lit(len(SHORT_CODES))))


def range_number(prefix: str, total_digits: int, h: Column) -> Column:
    """A number in ``prefix`` padded with hash digits to ``total_digits`` after the '+'."""
    rest = max(total_digits - (len(prefix) - 1), 1)
    return F.concat(F.lit(prefix), _digits(F.shiftright(h, 4), rest))


def as_written(e164: Column, kind: Column, u: Column, national_share: float) -> Column:
    """How the number appears in an export: E.164, GB national format, or 00-prefixed.

    ``kind``: own / onnet / offnet (mobile), fixed, intl, short, spike.
    """
    is_mobile = kind.isin("own", "onnet", "offnet")
    national = (
        F.when(is_mobile, mobile_national(e164))
        .when(kind == "fixed", fixed_national(e164))
        .otherwise(e164)
    )
    dialled_abroad = F.concat(F.lit("00"), F.substring(e164, 2, 20))
    return (
        F.when(kind == "short", e164)
        .when((kind == "intl") & (u < 0.3), dialled_abroad)
        .when(is_mobile | (kind == "fixed"), F.when(u < national_share, national).otherwise(e164))
        .otherwise(e164)
    )


def community_member(sub_id: Column, r: Column, size: int, n_regular: int) -> Column:
    """An on-net contact of ``sub_id``: another regular subscriber of its community block.

    Blocks of ``size`` consecutive ids make a clustered, partly reciprocal on-net graph
    (A's contacts and B's contacts are drawn from the same block). ``r``: a random long
    >= 0 (bits of the contact's hash).
    """
    block_start = F.floor(sub_id / size) * size
    block_len = F.least(F.lit(size), F.lit(n_regular) - block_start)
    other = block_start + F.when(block_len > 0, F.pmod(r, block_len)).otherwise(0)
    # Avoid calling oneself: shift to the next member.
    other = F.when(
        other == sub_id, block_start + F.pmod(other - block_start + 1, block_len)
    ).otherwise(other)
    return other.cast("long")
