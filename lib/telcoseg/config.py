"""Configuration: YAML files loaded once into frozen, typed, validated dataclasses.

A config file has top-level sections. ``spark`` and ``paths`` are defined here; any other
section ``X`` is defined by the dataclass ``Settings`` in module ``telcoseg.X.settings``
(so each subsystem owns its section). A key that no dataclass declares, or a value of the
wrong type, fails with the file and the dotted key named.

Overrides from the command line use dotted keys: ``--set features.window_days=28``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import importlib
import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from telcoseg.errors import ConfigError

T = TypeVar("T")

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "conf" / "telcoseg.yaml"


# --------------------------------------------------------------------------- building


def build(cls: type[T], data: Any, source: str, key: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, checking every key and type.

    ``source`` (the file) and ``key`` (dotted path so far) go into every error message.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {key or '<top>'} must be a mapping, got {data!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = ".".join(p for p in (key, str(unknown[0])) if p)
        raise ConfigError(
            f"{source}: unknown key {where!r}; allowed under {key or '<top>'}: {sorted(fields)}"
        )
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        sub = f"{key}.{name}" if key else name
        if name in data:
            kwargs[name] = _coerce(hints[name], data[name], source, sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{source}: missing required key {sub!r}")
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {key or '<top>'}: {exc}") from exc
    return obj


def _coerce(tp: Any, value: Any, source: str, key: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, source, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{source}: {key}: bad value {value!r}")
    if origin is typing.Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{source}: {key} must be one of {list(allowed)}, got {value!r}")
        return value
    if origin in (list, tuple, Sequence):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{source}: {key} must be a list, got {value!r}")
        (item_tp, *_rest) = get_args(tp) or (Any,)
        items = [_coerce(item_tp, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items)
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: {key} must be a mapping, got {value!r}")
        k_tp, v_tp = get_args(tp) or (str, Any)
        return types.MappingProxyType(
            {
                _coerce(k_tp, k, source, f"{key}"): _coerce(v_tp, v, source, f"{key}.{k}")
                for k, v in value.items()
            }
        )
    if dataclasses.is_dataclass(tp):
        return build(tp, value, source, key)  # type: ignore[arg-type]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value.lower() if isinstance(value, str) else value)
        except ValueError:
            allowed = [m.value for m in tp]
            raise ConfigError(f"{source}: {key} must be one of {allowed}, got {value!r}") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{source}: {key} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.replace("_", ""))
            except ValueError:
                pass
        raise ConfigError(f"{source}: {key} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{source}: {key} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{source}: {key} must be a string, got {value!r}")
    if tp is dt.date:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"{source}: {key} must be a date YYYY-MM-DD, got {value!r}") from None
    if tp is Path:
        return Path(str(value))
    raise ConfigError(f"{source}: {key}: unsupported config type {tp!r}")


# --------------------------------------------------------------------------- core sections


@dataclass(frozen=True)
class SparkSettings:
    """How the local session is built. Ignored when a session is given (cluster, Databricks)."""

    master: str = "local[*]"
    app_name: str = "telcoseg"
    driver_memory: str = "4g"
    shuffle_partitions: int = 8
    advisory_partition_size: str = "64m"
    max_partition_bytes: str = "128m"
    # Memory page of Spark's sorts and hash aggregations (spark.buffer.pageSize); Spark's
    # own default is 64m with this much memory. See telcoseg.session.build_local_session.
    page_size: str = "1m"
    ui_enabled: bool = False
    log_level: str = "WARN"
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Spark would reject a bad size only as the JVM starts, with a Java stack trace.
        for name in (
            "driver_memory",
            "advisory_partition_size",
            "max_partition_bytes",
            "page_size",
        ):
            value = getattr(self, name)
            if not _SIZE.fullmatch(value.strip().lower()):
                raise ValueError(f"{name} must be a size like 512k, 64m or 4g, got {value!r}")
        if self.shuffle_partitions < 1:
            raise ValueError(
                f"shuffle_partitions must be at least 1, got {self.shuffle_partitions}"
            )


# Spark's byte strings (JavaUtils.byteStringAs): digits, then an optional unit.
_SIZE = re.compile(r"[0-9]+([kmgtp]b?|b)?")


@dataclass(frozen=True)
class PathSettings:
    """Where things live. Relative paths are relative to the working directory.

    Anything left empty is derived from ``root``.
    """

    root: str = "data"
    landing: str = ""
    lake: str = ""
    truth: str = ""
    artifacts: str = ""
    mlflow_tracking_uri: str = ""

    def resolved(self) -> PathSettings:
        root = os.path.abspath(os.path.expanduser(self.root))

        def pick(value: str, default: str) -> str:
            if not value:
                return os.path.join(root, default)
            if "://" in value:
                return value
            return os.path.abspath(os.path.expanduser(value))

        tracking = self.mlflow_tracking_uri or "sqlite:///" + os.path.join(root, "mlflow.db")
        return PathSettings(
            root=root,
            landing=pick(self.landing, "landing"),
            lake=pick(self.lake, "lake"),
            truth=pick(self.truth, "truth"),
            artifacts=pick(self.artifacts, "artifacts"),
            mlflow_tracking_uri=tracking,
        )

    def lake_root(self) -> str:
        """The folder (or URI) that holds the layers' tables."""
        return (self.lake if self.lake else os.path.join(self.root, "lake")).rstrip("/")

    def table(self, layer: str, name: str) -> str:
        """Location of Delta table ``name`` in ``layer`` (bronze, silver, gold, ...)."""
        return f"{self.lake_root()}/{layer}/{name}"


@dataclass(frozen=True)
class Config:
    """The whole configuration: core sections plus each subsystem's ``Settings``."""

    source: str
    spark: SparkSettings
    paths: PathSettings
    timezone: str
    sections: Mapping[str, Any]

    def section(self, name: str) -> Any:
        """The validated ``Settings`` of subsystem ``name`` (defaults if absent from YAML)."""
        if name in self.sections:
            return self.sections[name]
        return _section_class(name, self.source)()


_CORE = {"spark", "paths", "timezone"}


def _section_class(name: str, source: str) -> type:
    try:
        module = importlib.import_module(f"telcoseg.{name}.settings")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(f"telcoseg.{name}"):
            raise ConfigError(
                f"{source}: unknown section {name!r} (no module telcoseg.{name}.settings)"
            ) from None
        raise
    cls = getattr(module, "Settings", None)
    if cls is None or not dataclasses.is_dataclass(cls):
        raise ConfigError(f"{source}: telcoseg.{name}.settings has no dataclass Settings")
    return cls


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: {part} is not a mapping")
        node = child
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``a.b=value`` -> (``a.b``, YAML-parsed value)."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got {text!r}")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw) if raw != "" else ""


def load_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
) -> Config:
    """Load ``path`` (default ``conf/telcoseg.yaml``), apply overrides, validate everything."""
    file = Path(path) if path else Path(os.environ.get("TELCOSEG_CONF", DEFAULT_CONFIG))
    source = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {source}: {exc.strerror} (pass --conf FILE or set "
            "$TELCOSEG_CONF; on a cluster the package zip has no conf/ folder)"
        ) from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: top level must be a mapping of sections")
    items = overrides.items() if isinstance(overrides, Mapping) else map(parse_override, overrides)
    for key, value in items:
        _set_dotted(data, key, value)
    return from_dict(data, source)


def from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Config:
    """Validate an already-parsed mapping (tests build configs this way)."""
    spark = build(SparkSettings, data.get("spark"), source, "spark")
    paths = build(PathSettings, data.get("paths"), source, "paths").resolved()
    timezone = data.get("timezone", "UTC")
    if not isinstance(timezone, str):
        raise ConfigError(f"{source}: timezone must be a string like 'Europe/London'")
    _check_timezone(timezone, source)
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name in _CORE:
            continue
        sections[name] = build(_section_class(name, source), value, source, name)
    return Config(
        source=source,
        spark=spark,
        paths=paths,
        timezone=timezone,
        sections=types.MappingProxyType(sections),
    )


def _check_timezone(name: str, source: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{source}: timezone {name!r} is not an IANA time zone") from None
