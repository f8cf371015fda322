"""``airflow.configuration.conf``: Airflow's setting names answered from Tradewind's settings."""

from __future__ import annotations

import textwrap

import pytest

from tradewind import compat
from tradewind.compat.airflow_config import AirflowConfigShim
from tradewind.config import Config


@pytest.fixture(scope="module", autouse=True)
def shims():
    assert compat.install() is True


@pytest.fixture
def conf(tmp_path, monkeypatch):
    """A ``conf`` over a home with a tradewind.cfg, as a task process of that home would see it."""
    for name in list(__import__("os").environ):
        if name.startswith(("TRADEWIND__", "AIRFLOW__")):
            monkeypatch.delenv(name)
    (tmp_path / "tradewind.cfg").write_text(textwrap.dedent(f"""
        [core]
        dags_folder = {tmp_path}/my_dags
        parallelism = 7
        [database]
        url = sqlite:///{tmp_path}/other.db
    """))
    monkeypatch.setenv("TRADEWIND_HOME", str(tmp_path))
    monkeypatch.setenv("TRADEWIND__API__PORT", "9090")
    return AirflowConfigShim()


def test_module_paths_give_the_shared_object():
    from airflow.configuration import conf as a2_conf
    from airflow.providers.common.compat.sdk import conf as compat_conf
    from airflow.sdk import conf as sdk_conf
    from airflow.sdk.configuration import conf as sdk_module_conf

    assert a2_conf is sdk_conf is sdk_module_conf is compat_conf


def test_same_named_and_renamed_settings_read_tradewind(conf, tmp_path):
    assert conf.get("core", "dags_folder") == f"{tmp_path}/my_dags"
    assert conf.get("CORE", "DAGS_FOLDER") == f"{tmp_path}/my_dags"
    assert conf.getint("core", "parallelism") == 7
    assert conf.get("database", "sql_alchemy_conn") == f"sqlite:///{tmp_path}/other.db"
    assert conf.get("core", "sql_alchemy_conn") == f"sqlite:///{tmp_path}/other.db"  # Airflow 2's place
    assert conf.getint("webserver", "web_server_port") == 9090
    assert conf.getboolean("core", "load_examples") is True
    assert conf.getfloat("core", "dagbag_import_timeout") == 30.0
    assert conf.has_option("smtp", "smtp_host") is True


def test_unknown_setting_uses_fallback_else_raises_naming_it(conf):
    from airflow.exceptions import AirflowConfigException

    assert conf.get("kubernetes_executor", "namespace", fallback="default") == "default"
    assert conf.getint("my_team", "batch_size", fallback=None) is None
    assert conf.getboolean("my_team", "dry_run", fallback=False) is False
    assert conf.has_option("my_team", "batch_size") is False
    with pytest.raises(AirflowConfigException, match=r"\[kubernetes_executor/namespace\] not found"):
        conf.get("kubernetes_executor", "namespace")
    with pytest.raises(AirflowConfigException):
        conf.getint("my_team", "batch_size")


def test_airflow_env_variables_answer_the_other_settings(conf, monkeypatch):
    monkeypatch.setenv("AIRFLOW__MY_TEAM__BATCH_SIZE", "250")
    monkeypatch.setenv("AIRFLOW__MY_TEAM__DRY_RUN", "True")
    assert conf.getint("my_team", "batch_size") == 250
    assert conf.getboolean("my_team", "dry_run") is True
    assert conf.getsection("my_team") == {"batch_size": 250, "dry_run": True}
    monkeypatch.setenv("AIRFLOW__MY_TEAM__BATCH_SIZE", "lots")
    with pytest.raises(Exception, match="Failed to convert value to int"):
        conf.getint("my_team", "batch_size")


def test_getsection_converts_types_and_knows_unknown_sections(conf):
    core = conf.getsection("core")
    assert core["parallelism"] == 7 and core["load_examples"] is True
    assert conf.getsection("database")["sql_alchemy_conn"].startswith("sqlite:///")
    assert conf.getsection("no_such_section") is None


def test_airflow_home_is_tradewind_home(conf, tmp_path):
    import airflow.configuration as configuration
    from tradewind.compat import airflow_config

    shared = airflow_config.conf
    airflow_config.conf = conf  # the module-level helpers read the shared object
    try:
        assert configuration.get_airflow_home() == str(tmp_path)
        assert airflow_config.AIRFLOW_HOME == str(tmp_path)
    finally:
        airflow_config.conf = shared


def test_conf_given_a_config_object(tmp_path):
    shim = AirflowConfigShim(Config.load(home=tmp_path, environ={}, overrides={"core": {"parallelism": "3"}}))
    assert shim.getint("core", "parallelism") == 3
    assert shim.get("core", "dags_folder") == f"{tmp_path}/dags"
