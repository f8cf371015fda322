"""Tradewind objects for the Airflow internals that provider packages use and Tradewind has no
counterpart of elsewhere. :mod:`tradewind.compat.provider_core` maps Airflow's paths to these.

Each is the real behaviour a provider relies on, not a stand-in: the warning and exception
classes are raised and caught by the providers' own code; ``NOTSET`` is the same sentinel
Tradewind's ``Param`` uses (as in Airflow, where one object serves both); ``LoggingMixin.log`` is a
standard logger, which Tradewind's task log captures; ``import_string`` imports. The hook-lineage
collector is Airflow's own ``NoOpCollector`` behaviour (what Airflow does when no lineage reader
is configured): Tradewind has no lineage readers, so providers' lineage calls record nothing.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

from tradewind.definition.exceptions import TradewindException
from tradewind.definition.params import NOTSET, _NotSet

__all__ = [
    "NOTSET", "XCOM_RETURN_KEY", "AirflowOptionalProviderFeatureException", "AirflowProviderDeprecationWarning",
    "ArgNotSet", "LoggingMixin", "NoOpCollector", "RemovedInAirflow4Warning", "exactly_one",
    "get_hook_lineage_collector", "getuser", "import_string", "iter_namespace", "is_arg_set", "merge_dicts", "qualname", "to_boolean",
    "ProvidersManagerTaskRuntime", "chunks", "prune_dict",
]

ArgNotSet = _NotSet
XCOM_RETURN_KEY = "return_value"


def is_arg_set(value: Any) -> bool:
    """True unless ``value`` is the ``NOTSET`` sentinel (an argument the caller did not give)."""
    return value is not NOTSET


class AirflowProviderDeprecationWarning(DeprecationWarning):
    """A provider's deprecated argument or class (the provider itself warns with it)."""

    deprecated_provider_since: str | None = None


class RemovedInAirflow4Warning(DeprecationWarning):
    """Something Airflow 4 removes (providers warn with it)."""


class AirflowOptionalProviderFeatureException(TradewindException):
    """A provider feature whose optional dependency is not installed (the provider raises it)."""


class LoggingMixin:
    """``self.log``: a standard logger named after the class (captured by Tradewind's task log)."""

    _log: logging.Logger | None = None
    _logger_name: str | None = None

    def __init__(self, context: Any = None) -> None:
        self._context = context

    @property
    def log(self) -> logging.Logger:
        if self._log is None:
            cls = type(self)
            self._log = logging.getLogger(self._logger_name or f"{cls.__module__}.{cls.__name__}")
        return self._log

    @log.setter
    def log(self, value: logging.Logger) -> None:
        self._log = value


def import_string(dotted_path: str) -> Any:
    """The object at ``"package.module.Name"`` (``ImportError`` naming the path when absent)."""
    module_path, _, name = dotted_path.rpartition(".")
    if not module_path:
        raise ImportError(f"{dotted_path!r} is not a dotted path to an object")
    module = importlib.import_module(module_path)
    try:
        return getattr(module, name)
    except AttributeError:
        raise ImportError(f"module {module_path!r} has no attribute {name!r} (from {dotted_path!r})") from None


def qualname(obj: Any) -> str:
    """``"module.QualifiedName"`` of a class, function or instance (of its class)."""
    target = obj if isinstance(obj, type) or callable(obj) and hasattr(obj, "__qualname__") else type(obj)
    return f"{target.__module__}.{target.__qualname__}"


def iter_namespace(namespace: Any) -> Any:
    """The modules of a package, with full names (``pkgutil.iter_modules`` over its ``__path__``)."""
    import pkgutil

    return pkgutil.iter_modules(namespace.__path__, namespace.__name__ + ".")


def getuser() -> str:
    """The name of the user running the task (Airflow's fallback when a connection has no login)."""
    import getpass

    return getpass.getuser()


def exactly_one(*args: Any) -> bool:
    """True when exactly one argument is truthy."""
    return sum(map(bool, args)) == 1


def merge_dicts(dict1: dict, dict2: dict) -> dict:
    """``dict1`` updated with ``dict2``, recursively for values that are both dicts."""
    merged = dict(dict1)
    for key, value in dict2.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = merge_dicts(merged[key], value)
        else:
            merged[key] = value
    return merged


def prune_dict(val: Any, mode: str = "strict") -> Any:
    """``val`` without its empty entries, recursively through dicts and lists (the amazon provider
    builds boto3 arguments with it). ``mode="strict"`` drops only None; ``"truthy"`` drops anything
    falsy. A nested dict or list is kept only when it is not itself empty by that rule."""
    if mode not in ("strict", "truthy"):
        raise ValueError(f"prune_dict: mode must be 'strict' or 'truthy', not {mode!r}")

    def empty(item: Any) -> bool:
        return item is None if mode == "strict" else not item

    def kept(item: Any) -> tuple[bool, Any]:
        if empty(item):
            return False, None
        if isinstance(item, (dict, list)):
            pruned = prune_dict(item, mode)
            return not empty(pruned), pruned
        return True, item

    if isinstance(val, dict):
        return {key: new for key, (keep, new) in ((k, kept(v)) for k, v in val.items()) if keep}
    if isinstance(val, list):
        return [new for keep, new in map(kept, val) if keep]
    return val


def chunks(items: Any, chunk_size: int) -> Any:
    """Successive slices of ``items`` of at most ``chunk_size`` (S3 deletes keys 1000 at a time)."""
    if chunk_size <= 0:
        raise ValueError(f"chunks: chunk_size must be a positive integer, not {chunk_size!r}")
    for start in range(0, len(items), chunk_size):
        yield items[start:start + chunk_size]


@dataclass(frozen=True)
class _ProviderEntry:
    package_name: str
    version: str
    data: dict


@dataclass(frozen=True)
class _HookEntry:
    package_name: str
    hook_class_name: str
    connection_type: str


class ProvidersManagerTaskRuntime:
    """The installed provider distributions and their hooks, read from each one's provider info
    (its ``apache_airflow_provider`` entry point), as Airflow's runtime providers manager reports
    them: ``providers[package-name].version``, ``hooks[conn_type].package_name``."""

    def __init__(self) -> None:
        self.providers: dict[str, _ProviderEntry] = {}
        self.hooks: dict[str, _HookEntry] = {}
        import importlib.metadata

        for dist in importlib.metadata.distributions():
            for entry in dist.entry_points:
                if entry.group != "apache_airflow_provider":
                    continue
                info = entry.load()()
                package = info.get("package-name") or dist.metadata["Name"]
                self.providers.setdefault(package, _ProviderEntry(package, dist.version, info))
                for hook in info.get("connection-types") or []:
                    self.hooks.setdefault(hook["connection-type"], _HookEntry(
                        package, hook["hook-class-name"], hook["connection-type"]))


def to_boolean(value: Any) -> bool:
    """Airflow's string-to-bool: ``t``/``true``/``y``/``yes``/``on``/``1`` (any case) are True."""
    return str(value).strip().lower() in {"t", "true", "y", "yes", "on", "1"}


class NoOpCollector:
    """Hook lineage collector that records nothing (Airflow's behaviour without lineage readers)."""

    def add_input_asset(self, *args: Any, **kwargs: Any) -> None:
        return None

    def add_output_asset(self, *args: Any, **kwargs: Any) -> None:
        return None

    def add_extra(self, *args: Any, **kwargs: Any) -> None:
        return None

    def create_asset(self, *args: Any, **kwargs: Any) -> None:
        return None

    @property
    def collected_assets(self) -> Any:
        return None

    @property
    def has_collected(self) -> bool:
        return False


_COLLECTOR = NoOpCollector()


def get_hook_lineage_collector() -> NoOpCollector:
    return _COLLECTOR
