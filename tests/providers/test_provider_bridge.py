"""The rules of the provider bridge, on a site-packages we build (no network, no real Airflow):

- ``airflow`` and its core modules are Tradewind's even when an ``airflow`` package sits earlier on
  ``sys.path`` (as after ``pip install apache-airflow``); its core modules are never imported;
- a module of a natively implemented provider comes from Tradewind, its other modules from the
  installed distribution; a provider Tradewind does not implement comes wholly from the distribution;
- a provider neither implemented nor installed fails naming the distribution to install;
- ``tradewind providers install`` resolves provider requirements recursively and leaves Airflow's
  core out (pip against a local folder of wheels we build), and fails clearly on bad input.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tradewind.compat import provider_install
from tradewind.compat.provider_core import AIRFLOW_VERSION
from tradewind.compat.provider_install import ProviderInstallError

FAKE_SITE = {
    # An Apache Airflow installed beside Tradewind: importing any of it is a failure of the shims.
    "airflow/__init__.py": "raise RuntimeError('the real airflow package was imported')\n",
    "airflow/executors/__init__.py": "raise RuntimeError('the real airflow.executors was imported')\n",
    # A provider Tradewind does not implement (zendesk), as its distribution lays it out.
    "airflow/providers/zendesk/__init__.py": "from airflow import __version__ as AIRFLOW_SEEN\n",
    "airflow/providers/zendesk/hooks/__init__.py": "",
    "airflow/providers/zendesk/hooks/zendesk.py": textwrap.dedent("""
        from airflow.exceptions import AirflowProviderDeprecationWarning  # provider_core
        from airflow.providers.common.compat.sdk import BaseHook
        from airflow.utils.log.logging_mixin import LoggingMixin

        class ZendeskHook(BaseHook):
            conn_name_attr = "zendesk_conn_id"
        """),
    # A provider Tradewind implements (sqlite): its own copy of the native module must not win ...
    "airflow/providers/sqlite/__init__.py": "raise RuntimeError('the distribution __init__ of a native provider ran')\n",
    "airflow/providers/sqlite/hooks/__init__.py": "",
    "airflow/providers/sqlite/hooks/sqlite.py": "SqliteHook = 'the distribution copy'\n",
    # ... while a module Tradewind lacks comes from it.
    "airflow/providers/sqlite/dialects/__init__.py": "",
    "airflow/providers/sqlite/dialects/sqlite.py": "DIALECT = 'from the distribution'\n",
}

PROBE = textwrap.dedent("""
    import json, sys
    from tradewind import compat
    compat.install()
    import airflow
    from airflow.providers.zendesk.hooks.zendesk import ZendeskHook
    import airflow.providers.zendesk as zendesk
    from airflow.providers.sqlite.hooks.sqlite import SqliteHook
    from airflow.providers.sqlite.dialects.sqlite import DIALECT
    from tradewind.definition.hooks import BaseHook
    out = {"version": airflow.__version__, "seen": zendesk.AIRFLOW_SEEN,
           "zendesk_base_is_tradewind": issubclass(ZendeskHook, BaseHook),
           "zendesk_file": sys.modules["airflow.providers.zendesk.hooks.zendesk"].__file__,
           "sqlite_hook": SqliteHook.__module__, "dialect": DIALECT, "errors": {}}
    for name in ("airflow.executors", "airflow.providers.google.cloud.hooks.gcs",
                 "airflow.providers.zendesk.operators"):
        try:
            __import__(name)
        except ImportError as exc:
            out["errors"][name] = str(exc)
    print(json.dumps(out))
    """)


@pytest.fixture
def fake_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    for relative, text in FAKE_SITE.items():
        target = site / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return site


def test_core_is_tradewind_and_providers_bridge_module_by_module(fake_site: Path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(fake_site)}  # the fake site first on sys.path
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["version"] == out["seen"] == AIRFLOW_VERSION
    assert out["zendesk_base_is_tradewind"] is True
    assert out["zendesk_file"] == str(fake_site / "airflow/providers/zendesk/hooks/zendesk.py")
    assert out["sqlite_hook"] == "tradewind.integrations.sql.sqlite"
    assert out["dialect"] == "from the distribution"
    errors = out["errors"]
    assert "Tradewind does not support the Airflow module 'airflow.executors'" in errors["airflow.executors"]
    google = errors["airflow.providers.google.cloud.hooks.gcs"]
    assert "'airflow.providers.google'" in google and "apache-airflow-providers-google" in google
    assert "tradewind providers install google" in google
    assert "'airflow.providers.zendesk.operators'" in errors["airflow.providers.zendesk.operators"]


# ------------------------------------------------------------------------------ the installer
def _wheel(folder: Path, name: str, version: str, requires: list[str]) -> None:
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = "\n".join(["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
                          *[f"Requires-Dist: {r}" for r in requires]]) + "\n\nA test wheel.\n"
    with zipfile.ZipFile(folder / f"{dist}-{version}-py3-none-any.whl", "w") as archive:
        archive.writestr(f"{info}/METADATA", metadata)
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{info}/RECORD", "")


@pytest.fixture
def local_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip finds wheels only in a local folder (no index, no network)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "apache-airflow-providers-zendesk", "99.1.0", [
        "apache-airflow>=2.11.0", "apache-airflow-providers-common-messaging>=98.0",
        "zenpy-test-only>=2.0", "only-with-extra-test; extra == 'fancy'", "never-here-test; python_version < '3'"])
    _wheel(wheels, "apache-airflow-providers-common-messaging", "98.2.0", [
        "apache-airflow-core>=3.0", "apache-airflow-task-sdk", "zenpy-test-only<3"])
    _wheel(wheels, "apache-airflow-providers-zendesk", "99.2.0rc1", ["apache-airflow>=9.0.0"])  # a future Airflow
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    return wheels


def test_plan_follows_provider_requirements_and_leaves_airflow_core_out(local_index: Path, tmp_path: Path):
    lines: list[str] = []
    dest = tmp_path / "dest"
    dest.mkdir()
    plan = provider_install.plan(["zendesk"], None, dest, lines.append)
    assert plan.versions == {"apache-airflow-providers-zendesk": "99.1.0",
                             "apache-airflow-providers-common-messaging": "98.2.0"}
    assert plan.dropped == {"apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk"}
    # the two providers' ranges for the same requirement are merged; markers are evaluated
    assert {name: str(req.specifier) for name, req in plan.requirements.items()} == {
        "zenpy-test-only": "<3,>=2.0"}
    assert any("needs apache-airflow-providers-common-messaging>=98.0" in line for line in lines), lines


def test_install_refuses_bad_input_clearly(local_index: Path):
    with pytest.raises(ProviderInstallError, match=r"unknown provider 'slak'.*did you mean slack"):
        provider_install.install(["slak"], progress=lambda line: None)
    with pytest.raises(ProviderInstallError, match="--version applies to one provider"):
        provider_install.install(["ssh", "http"], version="1.0", progress=lambda line: None)
    with pytest.raises(ProviderInstallError, match=r"no release of apache-airflow-providers-zendesk==1\.0"):
        provider_install.install(["zendesk"], version="1.0", progress=lambda line: None)
    with pytest.raises(ProviderInstallError, match=r"zendesk 99\.2\.0rc1 requires apache-airflow>=9\.0\.0, and "
                                                   rf"Tradewind stands in for Apache Airflow {re.escape(AIRFLOW_VERSION)}"):
        provider_install.install(["zendesk"], version="99.2.0rc1", progress=lambda line: None)
    with pytest.raises(ProviderInstallError, match=r"--without numpy: not a requirement of these providers"):
        provider_install.install(["zendesk"], progress=lambda line: None, without=("numpy",))


def test_install_without_network_says_so(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple/")  # nothing listens on port 9
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_RETRIES", "1")
    monkeypatch.setenv("PIP_TIMEOUT", "3")
    with pytest.raises(ProviderInstallError, match="cannot reach the package index"):
        provider_install.install(["ssh"], progress=lambda line: None)
