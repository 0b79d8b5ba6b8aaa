"""The pseudonymization key: where it comes from, and how it is used without leaking.

The key is read from a secret file or an environment variable, on the driver (to refuse
to start without one) and again inside each Python worker at run time. Only a
:class:`KeySource` (a variable name or a file path, never key material) travels to the
workers, so the key never appears in a query plan, Spark conf, event log or UDF closure.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from telcoseg.errors import SecretError
from telcoseg.ingest.settings import DEFAULT_KEY_FILE_ENV, Settings

log = logging.getLogger(__name__)

MIN_KEY_BYTES = 16
DEMO_KEY_FILE = Path("~/.config/telcoseg/hmac.key")
_FINGERPRINT_MESSAGE = b"telcoseg key fingerprint v1"
_cache: dict[tuple[str, str, float], bytes] = {}


@dataclass(frozen=True)
class KeySource:
    """Where the key is (a file path or an environment variable name), never the key."""

    env: str = ""
    file: str = ""

    def describe(self) -> str:
        return f"secret file {self.file}" if self.file else f"environment variable {self.env}"


def key_source(settings: Settings) -> KeySource:
    """The configured source: a secret file (config, or $TELCOSEG_HMAC_KEY_FILE) wins."""
    file = settings.hmac_key_file or os.environ.get(DEFAULT_KEY_FILE_ENV, "")
    if file:
        return KeySource(file=os.path.abspath(os.path.expanduser(file)))
    return KeySource(env=settings.hmac_key_env)


def load_key(source: KeySource) -> bytes:
    """The key bytes (UTF-8 of the stripped text). Raises :class:`SecretError`."""
    if source.file:
        try:
            mtime = os.stat(source.file).st_mtime
        except OSError as exc:
            raise SecretError(
                f"cannot read the pseudonymization key: {source.describe()}: {exc.strerror}"
            ) from None
        cache_key = ("file", source.file, mtime)
        if cache_key not in _cache:
            text = Path(source.file).read_text(encoding="utf-8")
            _cache[cache_key] = _checked(text.strip().encode("utf-8"), source)
        return _cache[cache_key]
    text = os.environ.get(source.env, "")
    if not text.strip():
        raise SecretError(
            f"no pseudonymization key: environment variable {source.env} is not set and no "
            f"secret file is configured (ingest.hmac_key_file or ${DEFAULT_KEY_FILE_ENV}). "
            "For a local demo run `python jobs/ingest_demo_key.py`."
        )
    return _checked(text.strip().encode("utf-8"), source)


def _checked(key: bytes, source: KeySource) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise SecretError(
            f"the pseudonymization key from {source.describe()} is too short: at least "
            f"{MIN_KEY_BYTES} bytes are required"
        )
    return key


def pseudonym(key: bytes, value: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``value`` (an E.164 number, short code or IMEI)."""
    return hmac.digest(key, value.encode("utf-8"), "sha256").hex()


def fingerprint(key: bytes) -> str:
    """A short, non-reversible tag of the key: tells two keys apart without showing one."""
    return hmac.digest(key, _FINGERPRINT_MESSAGE, "sha256").hex()[:12]


def worker_fingerprint(source: KeySource) -> str:
    """Run inside a Python worker: the fingerprint of the key the worker sees, or an error
    text (without key material) when it sees none."""
    try:
        return fingerprint(load_key(source))
    except (SecretError, OSError) as exc:
        return f"error: {exc}"


def check_workers(spark: object, source: KeySource, expected: str) -> None:
    """Fail before any data is read when the Python workers cannot read the same key.

    Environment variables reach local workers only if set before the session started;
    on a cluster they must be set in the executors' environment (or use a secret file).
    """
    sc = spark.sparkContext  # type: ignore[attr-defined]
    seen = set(sc.parallelize([0], 1).map(lambda _: worker_fingerprint(source)).collect())
    if seen == {expected}:
        return
    detail = next(iter(seen - {expected}))
    if detail.startswith("error:"):
        raise SecretError(
            f"the Spark Python workers cannot read the pseudonymization key from "
            f"{source.describe()} ({detail[7:]}). An environment variable must be set before "
            "the Spark session starts (and on a cluster in the executors' environment); a "
            "secret file readable by the workers also works."
        )
    raise SecretError(
        f"the Spark Python workers see a different pseudonymization key than the driver "
        f"({source.describe()}): fix the executors' environment or secret file"
    )


def ensure_demo_key_file(path: str | os.PathLike[str] | None = None) -> Path:
    """Create a random key file (mode 0600) outside the repo if none exists; for demos only.

    Returns the path; point ``$TELCOSEG_HMAC_KEY_FILE`` (or ``ingest.hmac_key_file``) at it.
    """
    target = Path(path if path is not None else DEMO_KEY_FILE).expanduser().resolve()
    repo = Path(__file__).resolve().parents[3]
    if target.is_relative_to(repo):
        raise SecretError(f"refusing to create a key file inside the repository: {target}")
    if target.exists():
        mode = stat.S_IMODE(target.stat().st_mode)
        if mode & 0o077:
            log.warning("key file %s is readable by others (mode %o); use 0600", target, mode)
        return target
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    log.info("created demo pseudonymization key file %s (mode 0600)", target)
    return target


__all__ = [
    "KeySource",
    "check_workers",
    "ensure_demo_key_file",
    "fingerprint",
    "key_source",
    "load_key",
    "pseudonym",
]
