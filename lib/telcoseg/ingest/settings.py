"""The ``ingest:`` config section: column mappings, phone region, own network, key source."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import phonenumbers

from telcoseg.ingest.contract import SOURCES

DEFAULT_KEY_ENV = "TELCOSEG_HMAC_KEY"
DEFAULT_KEY_FILE_ENV = "TELCOSEG_HMAC_KEY_FILE"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PREFIX = re.compile(r"^\+[0-9]{1,14}$")


@dataclass(frozen=True)
class Settings:
    """Validated ``ingest:`` section. Timezone and paths come from the top level."""

    # Numbers in national format are read as numbers of this region (ISO 3166 alpha-2).
    default_region: str = "GB"
    # The operator's own network, for on-net/off-net: carrier names as libphonenumber
    # spells them (case-insensitive) and/or E.164 prefixes of its number ranges.
    own_carriers: tuple[str, ...] = ()
    own_prefixes: tuple[str, ...] = ()
    # Where the pseudonymization key is: a secret file (this path, or the file named by
    # $TELCOSEG_HMAC_KEY_FILE) wins over the environment variable named here.
    hmac_key_env: str = DEFAULT_KEY_ENV
    hmac_key_file: str = ""
    # Per source, canonical column -> the operator's column name; unmapped columns keep
    # their canonical name. Header matching ignores case and surrounding spaces.
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    # Phone lookups up to this many distinct numbers are broadcast to the row joins.
    broadcast_numbers: int = 2_000_000
    # Keep parsed numbers in bronze/number_lookup so later runs parse only new ones.
    cache_numbers: bool = True
    # Stored numbers are parsed again when next seen this many days after they were
    # stored (0: kept until the plan or the key changes); rows of another plan tag,
    # which no run can use, are dropped by the next run.
    cache_numbers_days: int = 90

    def __post_init__(self) -> None:
        region = self.default_region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                f"default_region {self.default_region!r} is not a region libphonenumber knows "
                "(ISO 3166 alpha-2 such as GB, DE, US)"
            )
        object.__setattr__(self, "default_region", region)
        for i, prefix in enumerate(self.own_prefixes):
            if not _PREFIX.match(prefix):
                raise ValueError(f"own_prefixes[{i}] must look like +447400, got {prefix!r}")
        if not _ENV_NAME.match(self.hmac_key_env):
            raise ValueError(
                f"hmac_key_env must be an environment variable name, got {self.hmac_key_env!r}"
            )
        if self.broadcast_numbers < 0:
            raise ValueError("broadcast_numbers must be >= 0")
        if self.cache_numbers_days < 0:
            raise ValueError("cache_numbers_days must be >= 0 (0 keeps stored numbers)")
        for source, mapping in self.columns.items():
            if source not in SOURCES:
                raise ValueError(f"columns.{source}: unknown source; known: {sorted(SOURCES)}")
            canonical = SOURCES[source].columns
            for name, operator_name in mapping.items():
                if name not in canonical:
                    raise ValueError(
                        f"columns.{source}.{name}: not a column of {source}; "
                        f"known: {list(canonical)}"
                    )
                if not str(operator_name).strip():
                    raise ValueError(f"columns.{source}.{name}: empty operator column name")
            targets = [v.lower() for v in self.mapping(source).values()]
            if len(set(targets)) != len(targets):
                raise ValueError(f"columns.{source}: two canonical columns map to one file column")

    def mapping(self, source: str) -> Mapping[str, str]:
        """Canonical column -> operator column name, for every column of ``source``."""
        given = self.columns.get(source, {})
        return {c: str(given.get(c, c)).strip() for c in SOURCES[source].columns}
