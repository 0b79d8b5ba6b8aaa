from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from telcoseg.config import load_config
from telcoseg.errors import ConfigError
from telcoseg.session import session_conf


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_defaults_derive_paths_from_root(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, f"paths:\n  root: {tmp_path}/r\n"))
    assert cfg.paths.landing == f"{tmp_path}/r/landing"
    assert cfg.paths.table("silver", "cdr") == f"{tmp_path}/r/lake/silver/cdr"
    assert cfg.paths.mlflow_tracking_uri == f"sqlite:///{tmp_path}/r/mlflow.db"
    assert cfg.timezone == "UTC"


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    p = write(tmp_path, "spark:\n  driver_memry: 2g\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown key 'spark\.driver_memry'"):
        load_config(p)


def test_bad_type_names_key(tmp_path: Path) -> None:
    p = write(tmp_path, "spark:\n  shuffle_partitions: many\n")
    with pytest.raises(ConfigError, match=r"spark\.shuffle_partitions must be an integer"):
        load_config(p)


def test_unknown_section_and_bad_timezone(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown section 'nonsense'"):
        load_config(write(tmp_path, "nonsense: {}\n"))
    with pytest.raises(ConfigError, match="not an IANA time zone"):
        load_config(write(tmp_path, "timezone: Mars/Olympus\n"))


def test_overrides_are_validated_too(tmp_path: Path) -> None:
    p = write(tmp_path, "spark:\n  shuffle_partitions: 4\n")
    assert load_config(p, ["spark.shuffle_partitions=16"]).spark.shuffle_partitions == 16
    with pytest.raises(ConfigError, match=r"spark\.ui_enabled must be true or false"):
        load_config(p, ["spark.ui_enabled=maybe"])


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.yaml")


def test_local_sessions_use_small_memory_pages(tmp_path: Path, spark: SparkSession) -> None:
    # The session fixture is built by telcoseg.session.build_local_session.
    assert spark.sparkContext.getConf().get("spark.buffer.pageSize") == "1m"
    p = write(tmp_path, "spark:\n  page_size: 8m\n")
    assert load_config(p).spark.page_size == "8m"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("page_size: 1 MB", r"spark: page_size must be a size like 512k, 64m or 4g, got '1 MB'"),
        ("driver_memory: lots", r"spark: driver_memory must be a size"),
        ("shuffle_partitions: 0", r"spark: shuffle_partitions must be at least 1"),
    ],
)
def test_bad_spark_sizes_fail_before_spark_starts(
    tmp_path: Path, setting: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=rf"c\.yaml: {message}"):
        load_config(write(tmp_path, f"spark:\n  {setting}\n"))


def test_session_conf_sets_for_the_block_and_restores_after(spark: SparkSession) -> None:
    kept, added, removed = (
        "spark.sql.files.openCostInBytes",
        "spark.sql.files.minPartitionNum",
        "spark.sql.files.maxRecordsPerFile",
    )
    spark.conf.set(kept, "1234")
    spark.conf.set(removed, "77")
    try:
        with session_conf(spark, {kept: "999", added: "16", removed: None}):
            assert spark.conf.get(kept) == "999"
            assert spark.conf.get(added) == "16"
            assert spark.conf.get(removed, None) is None
        assert spark.conf.get(kept) == "1234"
        assert spark.conf.get(added, None) is None
        assert spark.conf.get(removed) == "77"
    finally:
        for key in (kept, added, removed):
            spark.conf.unset(key)
