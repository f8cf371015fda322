"""``airflow.configuration.conf`` for DAG files: Airflow's setting names read from Tradewind's settings.

A DAG file that asks ``conf.get("core", "dags_folder")`` gets the folder Tradewind really reads,
so paths built from it point at the right place. The rules, in order:

1. An Airflow setting that has a Tradewind counterpart under another name (``[database]
   sql_alchemy_conn`` -> ``[database] url``, ``[webserver] web_server_port`` -> ``[api] port``...) or
   under the same name (``[core] dags_folder``, ``[smtp] smtp_host``, ``[celery] broker_url``...)
   returns Tradewind's effective value.
2. Any other setting is read from the environment variable ``AIRFLOW__<SECTION>__<KEY>`` when it is
   set (how Airflow users pass their own settings to DAG code).
3. Otherwise the ``fallback`` argument, else :class:`AirflowConfigException` naming the setting,
   as Airflow raises for a setting it does not know.

Values keep Tradewind's spelling: ``[core] executor`` is ``local`` / ``celery``, not Airflow's
class names.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from tradewind.definition.exceptions import TradewindException

__all__ = ["AirflowConfigException", "AirflowConfigShim", "conf", "get_airflow_home"]

_UNSET: Any = object()

#: Airflow (section, key) -> Tradewind (section, key), where the names differ.
RENAMED: dict[tuple[str, str], tuple[str, str]] = {
    ("database", "sql_alchemy_conn"): ("database", "url"),
    ("core", "sql_alchemy_conn"): ("database", "url"),  # Airflow 2 kept it under [core] until 2.3
    ("database", "sql_alchemy_pool_size"): ("database", "pool_size"),
    ("core", "base_log_folder"): ("logging", "base_log_folder"),  # Airflow 1.10 / early 2 location
    ("webserver", "web_server_port"): ("api", "port"),
    ("webserver", "web_server_host"): ("api", "host"),
    ("webserver", "secret_key"): ("api", "secret_key"),
    ("scheduler", "scheduler_zombie_task_threshold"): ("scheduler", "task_instance_heartbeat_timeout"),
}

_TRUE = {"t", "true", "1", "yes", "on", "y"}
_FALSE = {"f", "false", "0", "no", "off", "n"}


class AirflowConfigException(TradewindException):
    """A setting that is neither known nor given a fallback, or a value of the wrong type (Airflow's name)."""


class AirflowConfigShim:
    """The ``conf`` object: ``get``, ``getboolean``, ``getint``, ``getfloat``, ``has_option``, ``getsection``.

    Tradewind's settings are loaded once, on first use, from the process's ``TRADEWIND_HOME``
    and ``TRADEWIND__*`` environment (the task runner and parser pass theirs to the process).
    """

    def __init__(self, config: Any = None) -> None:
        self._config = config
        self._lock = threading.Lock()

    def _tradewind(self) -> Any:
        with self._lock:
            if self._config is None:
                from tradewind.config import Config

                self._config = Config.load()
            return self._config

    def _lookup(self, section: str, key: str) -> str | None:
        """The raw value of an Airflow setting, or None when neither rule 1 nor rule 2 knows it."""
        section, key = str(section).lower(), str(key).lower()
        cfg = self._tradewind()
        target = RENAMED.get((section, key), (section, key))
        if cfg.source(*target) != "unknown":
            return cfg.get(*target)
        return os.environ.get(f"AIRFLOW__{section.upper()}__{key.upper()}")

    def has_option(self, section: str, key: str) -> bool:
        return self._lookup(section, key) is not None

    def get(self, section: str, key: str, fallback: Any = _UNSET, **kwargs: Any) -> Any:
        value = self._lookup(section, key)
        if value is not None:
            return value
        if fallback is not _UNSET:
            return fallback
        raise AirflowConfigException(
            f"section/key [{section}/{key}] not found in config: Tradewind has no counterpart of this Airflow "
            f"setting and the environment variable AIRFLOW__{str(section).upper()}__{str(key).upper()} is not "
            "set (pass fallback=... to conf.get, or see docs/airflow-compat.md)")

    def _typed(self, section: str, key: str, fallback: Any, convert: Any, wanted: str) -> Any:
        raw = self.get(section, key, fallback=_UNSET if fallback is _UNSET else None)
        if raw is None:
            return fallback
        try:
            return convert(raw)
        except (TypeError, ValueError):
            raise AirflowConfigException(
                f"Failed to convert value to {wanted}. Please check [{section}] {key} = {raw!r}") from None

    def getboolean(self, section: str, key: str, fallback: Any = _UNSET, **kwargs: Any) -> Any:
        return self._typed(section, key, fallback, _to_bool, "bool")

    def getint(self, section: str, key: str, fallback: Any = _UNSET, **kwargs: Any) -> Any:
        return self._typed(section, key, fallback, lambda raw: int(str(raw).strip()), "int")

    def getfloat(self, section: str, key: str, fallback: Any = _UNSET, **kwargs: Any) -> Any:
        return self._typed(section, key, fallback, lambda raw: float(str(raw).strip()), "float")

    def getimport(self, section: str, key: str, fallback: Any = _UNSET, **kwargs: Any) -> Any:
        """The object a setting names by dotted path, imported; None when the setting is empty (the amazon
        provider reads ``[aws] session_factory`` this way)."""
        raw = self.get(section, key, fallback=fallback)
        if not raw:
            return None
        from tradewind.compat.provider_bridge import import_string

        try:
            return import_string(raw)
        except ImportError as exc:
            raise AirflowConfigException(
                f"[{section}] {key} = {raw!r} names an object that could not be imported: {exc}") from exc

    def getsection(self, section: str) -> dict[str, Any] | None:
        """Every setting of ``section`` Tradewind has, with ints, floats and booleans converted, as Airflow does.

        Tradewind's own keys of that section and ``AIRFLOW__<SECTION>__*`` variables; None for an
        unknown section.
        """
        wanted = str(section).lower()
        found: dict[str, str] = {}
        for setting in self._tradewind().effective():
            if setting.section == wanted:
                found[setting.key] = setting.value
        for (a_section, a_key), target in RENAMED.items():
            if a_section == wanted and self._tradewind().source(*target) != "unknown":
                found[a_key] = self._tradewind().get(*target)
        prefix = f"AIRFLOW__{wanted.upper()}__"
        for name, value in os.environ.items():
            if name.startswith(prefix) and name[len(prefix):].lower() not in found:
                found[name[len(prefix):].lower()] = value
        if not found:
            return None
        return {key: _guess_type(value) for key, value in sorted(found.items())}


def _to_bool(raw: Any) -> bool:
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(raw)


def _guess_type(value: str) -> Any:
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            pass
    text = value.strip().lower()
    if text in ("t", "true"):
        return True
    if text in ("f", "false"):
        return False
    return value


conf = AirflowConfigShim()


def get_airflow_home() -> str:
    """Tradewind's home folder (``TRADEWIND_HOME``), where Airflow code expects ``AIRFLOW_HOME``."""
    return str(conf._tradewind().home)


def __getattr__(name: str) -> Any:
    if name == "AIRFLOW_HOME":  # computed on use: the home is only known once settings load
        return get_airflow_home()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
