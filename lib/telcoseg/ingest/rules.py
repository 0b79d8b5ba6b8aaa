"""Text -> typed values with built-in Spark functions, and the reason-code precedence.

Every parser returns null for a value it cannot read, so a rule is "the text is there but
the parsed value is not". Nothing here throws on bad input (no ANSI cast errors).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

from telcoseg.schemas import MONEY, REASON_CODES

# Reason codes in precedence order: a row breaking several rules gets the first.
REASON_ORDER: tuple[str, ...] = tuple(REASON_CODES)

_INT = r"^[+-]?[0-9]+(\.0+)?$"  # an integral value a float column wrote as 12.0 is fine
_DECIMAL = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
_DOUBLE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# ISO-8601 local date-time, optional fraction, optional offset (Z, +01:00, +0100, +01).
_TIMESTAMP = (
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?)"
    r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?$"
)
# The offset part of _TIMESTAMP alone (the seconds before it end in digits, never +/-).
_OFFSET_AT_END = r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$"
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def cleaned(col: str) -> Column:
    """Trimmed text; empty means null (the contract: empty CSV cells are nulls)."""
    trimmed = F.trim(F.col(col))
    return F.when(trimmed != "", trimmed)


def parse_long(text: Column) -> Column:
    return F.when(text.rlike(_INT), F.regexp_replace(text, r"\.0+$", "").try_cast("long"))


def parse_decimal(text: Column) -> Column:
    return F.when(text.rlike(_DECIMAL), text.try_cast(MONEY))


def parse_double(text: Column) -> Column:
    return F.when(text.rlike(_DOUBLE), text.try_cast("double"))


def parse_bool(text: Column) -> Column:
    lower = F.lower(text)
    return F.when(lower.isin(*_TRUE), F.lit(True)).when(lower.isin(*_FALSE), F.lit(False))


def parse_date(text: Column) -> Column:
    return F.when(text.rlike(_DATE), F.try_to_date(text, "yyyy-MM-dd"))


def parse_instant(text: Column, timezone: str) -> Column:
    """ISO-8601 text -> UTC instant; without an offset the wall time is in ``timezone``.

    The contract's regex decides what is a timestamp; Spark's own cast (one pass, no
    regex captures) then reads it: it knows every offset form of the regex (Z, +01:00,
    +0100, +01) and java.time's +-18:00 range, and it reads a value without an offset in
    the session time zone, which telcoseg requires to be UTC.
    """
    cast = F.upper(text).try_cast("timestamp")
    if timezone.upper() not in ("UTC", "Z", "ETC/UTC", "GMT"):
        has_offset = text.rlike(_OFFSET_AT_END)
        cast = F.when(has_offset, cast).otherwise(F.to_utc_timestamp(cast, timezone))
    return F.when(text.rlike(_TIMESTAMP), cast)


def local_date(instant: Column, timezone: str) -> Column:
    """The calendar date of an instant in ``timezone``."""
    return F.to_date(F.from_utc_timestamp(instant, timezone))


Rule = tuple[str, str, Column]  # (reason code, field, condition that breaks the rule)


def first_broken(rules: Sequence[Rule]) -> Column:
    """struct(reason, field) of the first broken rule in precedence order, or null.

    Rules are ordered by :data:`REASON_ORDER`, then as listed; a null condition counts as
    not broken.
    """
    unknown = sorted({r for r, _, _ in rules} - set(REASON_ORDER))
    if unknown:
        raise ValueError(f"unknown reason code(s) {unknown}; add them to schemas.REASON_CODES")
    ordered = sorted(rules, key=lambda r: REASON_ORDER.index(r[0]))
    expr = None
    for reason, field, broken in ordered:
        value = F.struct(F.lit(reason).alias("reason"), F.lit(field).alias("field"))
        expr = F.when(broken, value) if expr is None else expr.when(broken, value)
    assert expr is not None
    return expr


def bad_text(text: Column, parsed: Column) -> Column:
    """The text is there but does not parse."""
    return text.isNotNull() & parsed.isNull()


__all__ = [
    "REASON_ORDER",
    "Rule",
    "bad_text",
    "cleaned",
    "first_broken",
    "local_date",
    "parse_bool",
    "parse_date",
    "parse_decimal",
    "parse_double",
    "parse_instant",
    "parse_long",
]
