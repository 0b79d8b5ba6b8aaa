"""Named exceptions. Each says what was expected, what was found, and where.

Jobs catch :class:`TelcosegError` and exit non-zero with its message; anything else is a
bug and is logged with its traceback.
"""

from __future__ import annotations


class TelcosegError(Exception):
    """Base class of every error telcoseg raises on purpose."""


def first_line(exc: BaseException, limit: int = 500) -> str:
    """The first line of an exception's message (Spark's carry a JVM stack trace), or its
    type's name when the message is empty: what a telcoseg error quotes of its cause."""
    text = str(exc).strip().splitlines()
    return text[0][:limit] if text else type(exc).__name__


class ConfigError(TelcosegError):
    """A configuration file, key or value is wrong; the message names file and key."""


class SecretError(TelcosegError):
    """The pseudonymization key is missing or unreadable."""


class DeltaWriteError(TelcosegError):
    """A Delta commit was refused by telcoseg's own validation or by delta-rs."""


class ConcurrentWriteError(DeltaWriteError):
    """Another writer committed to the same table first and retries were exhausted."""


class TableNotFoundError(TelcosegError):
    """A Delta table that a job reads does not exist (yet)."""


class SchemaMismatchError(TelcosegError):
    """A DataFrame does not have the columns or types a table or step expects."""

    def __init__(self, where: str, missing: list[str], present: list[str], extra: str = "") -> None:
        self.missing = missing
        self.present = present
        msg = f"{where}: missing column(s) {missing}; present: {present}"
        if extra:
            msg += f"; {extra}"
        super().__init__(msg)


class InputFileError(TelcosegError):
    """A landing file cannot be read or lacks a required column; the run commits nothing."""

    def __init__(self, path: str, reason: str, column: str | None = None) -> None:
        self.path = path
        self.column = column
        where = f"{path}" + (f" (column {column!r})" if column else "")
        super().__init__(f"cannot ingest {where}: {reason}")


class LeakageError(TelcosegError):
    """A training set uses information from after its snapshot date."""


class PrivacyBudgetExceeded(TelcosegError):
    """A differentially private release would spend more epsilon than is left."""


class KAnonymityError(TelcosegError):
    """A row about to be published describes fewer than k subscribers."""


class ChampionNotFoundError(TelcosegError):
    """A registered model has no ``champion`` alias (nothing has passed promotion yet)."""


class ProtectedAttributeError(ConfigError):
    """A protected attribute (e.g. gender, birth_year) was configured as an input."""


class ModelVersionNotFoundError(TelcosegError):
    """The registered segmentation model or the requested version does not exist."""
