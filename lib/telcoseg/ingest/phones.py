"""Phone numbers: parse each distinct raw number once, derive its attributes, pseudonymize.

libphonenumber is Python, so this is the one row-wise Python step of ingestion, and it
runs over the *distinct* raw values only (``mapInPandas``); the result is joined back to
the rows with built-in joins. The HMAC key is read inside the worker from a
:class:`~telcoseg.ingest.hmac_key.KeySource`, never shipped with the function.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import phonenumbers
from phonenumbers import PhoneNumberType, carrier, geocoder
from phonenumbers.phonemetadata import PhoneMetadata
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    _number_type_helper,
    is_number_type_geographical,
    national_significant_number,
)
from phonenumbers.re_util import re_compile
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telcoseg.ingest.hmac_key import KeySource, load_key, pseudonym

# Bump when describe_number's output for a given input changes: stored lookups of an
# older version are then parsed again (see plan_tag).
LOOKUP_VERSION = 1

# Service numbers as written: 3-6 digits, no country code, no trunk prefix.
SHORT_CODE = re.compile(r"^[1-9][0-9]{2,5}$")
IMEI = re.compile(r"^[0-9]{14,16}$")

LOOKUP_SCHEMA = T.StructType(
    [
        T.StructField("raw", T.StringType()),
        T.StructField("is_parsed", T.BooleanType()),
        T.StructField("e164", T.StringType()),
        T.StructField("id", T.StringType()),
        T.StructField("country_iso", T.StringType()),
        T.StructField("calling_code", T.IntegerType()),
        T.StructField("number_region", T.StringType()),
        T.StructField("carrier", T.StringType()),
        T.StructField("number_type", T.StringType()),
        T.StructField("is_valid", T.BooleanType()),
        T.StructField("is_own_network", T.BooleanType()),
        T.StructField("is_international", T.BooleanType()),
    ]
)
IMEI_SCHEMA = T.StructType(
    [
        T.StructField("raw", T.StringType()),
        T.StructField("tac", T.StringType()),
        T.StructField("id", T.StringType()),
    ]
)

_TYPE_NAMES = {
    getattr(PhoneNumberType, name): name.lower()
    for name in dir(PhoneNumberType)
    if name.isupper() and isinstance(getattr(PhoneNumberType, name), int)
}


@dataclass(frozen=True)
class NumberPlan:
    """How numbers are read and classified (no secrets: safe in a UDF closure)."""

    default_region: str
    own_prefixes: tuple[str, ...] = ()
    own_carriers: tuple[str, ...] = ()

    @property
    def home_calling_code(self) -> int:
        return int(phonenumbers.country_code_for_region(self.default_region))


Described = tuple[
    bool,
    str | None,
    str | None,
    str | None,
    int | None,
    str | None,
    str | None,
    str | None,
    bool | None,
    bool | None,
    bool | None,
]


def describe_number(raw: str, plan: NumberPlan, key: bytes) -> Described:
    """(is_parsed, e164, id, country_iso, calling_code, region, carrier, number_type,
    is_valid, is_own_network, is_international) of one raw number.

    Short codes keep their digits (id = HMAC of the digits). A value that libphonenumber
    cannot parse, or whose length no number of its country can have, is not parsed.
    """
    text = raw.strip()
    if SHORT_CODE.match(text):
        home = plan.default_region
        return (
            True,
            text,
            pseudonym(key, text),
            home,
            plan.home_calling_code,
            None,
            None,
            "short_code",
            None,
            False,
            False,
        )
    try:
        number = phonenumbers.parse(text, plan.default_region)
    except phonenumbers.NumberParseException:
        return (False, None, None, None, None, None, None, None, None, None, None)
    if not phonenumbers.is_possible_number(number):
        return (False, None, None, None, None, None, None, None, None, None, None)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    country, ntype = _region_and_type(number)
    # number_type is UNKNOWN exactly when the number matches no pattern of its region.
    valid = ntype != PhoneNumberType.UNKNOWN
    name = carrier.name_for_valid_number(number, "en") if valid else ""
    area = _area(number, ntype, country or "") if valid else ""
    own = e164.startswith(plan.own_prefixes) or (bool(name) and name.lower() in plan.own_carriers)
    return (
        True,
        e164,
        pseudonym(key, e164),
        country if country and country != "001" else None,
        int(number.country_code),
        area or None,
        name or None,
        _TYPE_NAMES.get(ntype, "unknown"),
        valid,
        own,
        int(number.country_code) != plan.home_calling_code,
    )


_COUNTRY_NAMES: dict[str, str] = {}


def _region_and_type(number: phonenumbers.PhoneNumber) -> tuple[str | None, int]:
    """``phonenumbers.region_code_for_number`` and ``number_type`` in one pass.

    Both match the national number against the type patterns of the candidate regions
    (about half of the parsing cost): where the region search already found the type,
    this keeps it instead of matching all patterns again. Same answers, same order of
    regions as libphonenumber.
    """
    regions = COUNTRY_CODE_TO_REGION_CODE.get(number.country_code)
    if not regions:
        return None, PhoneNumberType.UNKNOWN
    nsn = national_significant_number(number)
    if len(regions) == 1:
        return regions[0], _type_in(nsn, number.country_code, regions[0])
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re_compile(metadata.leading_digits).match(nsn):
                return region, _type_in(nsn, number.country_code, region)
            continue
        ntype = int(_number_type_helper(nsn, metadata))
        if ntype != PhoneNumberType.UNKNOWN:
            return region, ntype
    return None, PhoneNumberType.UNKNOWN


def _type_in(nsn: str, country_code: int, region: str) -> int:
    """phonenumbers.number_type for a number whose region is known (it would look the
    region up again, which costs as much as the type itself)."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return PhoneNumberType.UNKNOWN
    return int(_number_type_helper(nsn, metadata))


def _area(number: phonenumbers.PhoneNumber, ntype: int, region: str) -> str:
    """geocoder.description_for_number without its repeated validity checks.

    A number type that is not geographical (most mobiles, toll-free) is described by the
    name of its own region; libphonenumber would validate it against every region of its
    calling code first (and answer "" where two regions share the range)."""
    if not is_number_type_geographical(ntype, number.country_code):
        # The country's name depends on the region only; libphonenumber would re-validate
        # the number against every region of its calling code to find it, so memoize.
        if region not in _COUNTRY_NAMES:
            _COUNTRY_NAMES[region] = geocoder.country_name_for_number(number, "en")
        return _COUNTRY_NAMES[region]
    return geocoder.description_for_valid_number(number, "en")


def plan_tag(plan: NumberPlan, key_fingerprint: str) -> str:
    """What a stored lookup row depends on besides its raw text: this code's version,
    libphonenumber's data, the number plan and the key (by its fingerprint, which shows
    nothing of it). Rows of another tag are never reused."""
    parts = {
        "lookup": LOOKUP_VERSION,
        "phonenumbers": phonenumbers.__version__,
        "region": plan.default_region,
        "prefixes": sorted(plan.own_prefixes),
        "carriers": sorted(c.lower() for c in plan.own_carriers),
        "key": key_fingerprint,
    }
    text = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lookup_numbers(raw_numbers: DataFrame, plan: NumberPlan, source: KeySource) -> DataFrame:
    """Distinct raw values of column ``raw`` -> :data:`LOOKUP_SCHEMA` (one row per value)."""
    carriers = tuple(c.lower() for c in plan.own_carriers)
    local_plan = NumberPlan(plan.default_region, plan.own_prefixes, carriers)

    def describe_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        key = load_key(source)  # read in the worker, at run time
        for batch in batches:
            values = batch["raw"].tolist()
            rows = [describe_number(v or "", local_plan, key) for v in values]
            out = pd.DataFrame.from_records(rows, columns=LOOKUP_SCHEMA.names[1:])
            out.insert(0, "raw", values)
            out["calling_code"] = out["calling_code"].astype("Int32")
            yield out

    return raw_numbers.select("raw").mapInPandas(describe_batches, LOOKUP_SCHEMA)


def lookup_imeis(raw_imeis: DataFrame, source: KeySource) -> DataFrame:
    """Distinct normalized IMEIs (column ``raw``, digits only) -> (raw, tac, id)."""

    def hash_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        key = load_key(source)
        for batch in batches:
            values = batch["raw"].tolist()
            yield pd.DataFrame(
                {
                    "raw": values,
                    "tac": [v[:8] if v else None for v in values],
                    "id": [pseudonym(key, v) if v else None for v in values],
                }
            )

    return raw_imeis.select("raw").mapInPandas(hash_batches, IMEI_SCHEMA)


# What an IMEI may be written with besides its digits: spaces (the whitespace of a Java
# regex's \s), dashes and slashes.
_IMEI_SEPARATORS = " \t\n\x0b\f\r-/"


def normalized_imei(col: str) -> F.Column:
    """Digits of an IMEI as written (spaces, dashes and slashes dropped).

    ``translate`` deletes the characters without a regex engine; it runs on every CDR row.
    """
    return F.translate(F.col(col), _IMEI_SEPARATORS, "")


__all__ = [
    "IMEI",
    "LOOKUP_SCHEMA",
    "NumberPlan",
    "describe_number",
    "lookup_imeis",
    "lookup_numbers",
    "normalized_imei",
    "plan_tag",
]
