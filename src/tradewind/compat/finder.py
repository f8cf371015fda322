"""The meta-path finder that answers ``import airflow...`` from :data:`~tradewind.compat.table.MODULES`.

Every ``airflow`` module is a shim module built on first import. Its names resolve lazily (the
Tradewind module behind a name is imported when the name is first read), so ``import airflow`` stays
as cheap as the DAG file's own needs. What the table does not list fails at once and loudly:

- an unknown module under ``airflow`` -> ``ModuleNotFoundError`` naming the module;
- an unknown name of a known module -> ``ImportError`` naming the module and the name.

Both say that Tradewind does not support it, so a DAG file never half-works silently.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any, Sequence

from tradewind.compat.table import MODULES

ROOT = "airflow"
DOCS_HINT = "see docs/airflow-compat.md for what Tradewind maps"


def _packages(modules: dict[str, dict[str, str]]) -> frozenset[str]:
    """Every proper prefix of a listed module path: those are packages (they have submodules)."""
    found = set()
    for path in modules:
        parts = path.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return frozenset(found)


_PACKAGES = _packages(MODULES)


class UnsupportedAirflowImport(ImportError):
    """An ``airflow`` module or name that Tradewind does not provide."""


def unsupported_module(fullname: str) -> ModuleNotFoundError:
    return ModuleNotFoundError(
        f"No module named {fullname!r}: Tradewind does not support the Airflow module {fullname!r} "
        f"(Apache Airflow is not installed, so 'airflow' imports resolve to Tradewind; {DOCS_HINT})",
        name=fullname,
    )


def unsupported_name(module: str, name: str) -> UnsupportedAirflowImport:
    return UnsupportedAirflowImport(
        f"cannot import name {name!r} from {module!r}: Tradewind does not support {module}.{name} "
        f"(Apache Airflow is not installed, so 'airflow' imports resolve to Tradewind; {DOCS_HINT})",
        name=module,
    )


def resolve_target(target: str, name: str) -> Any:
    """The object a table entry points at: ``"module"`` (same name) or ``"module:attribute"``."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute or name)


class _ShimModule(ModuleType):
    """An ``airflow`` module whose names come from the table, looked up on first use."""

    def __getattr__(self, name: str) -> Any:
        own = self.__name__
        table: dict[str, str] = self.__dict__["__tradewind_names__"]
        target = table.get(name)
        if target is not None:
            value = resolve_target(target, name)
        elif f"{own}.{name}" in MODULES or f"{own}.{name}" in _PACKAGES:
            value = importlib.import_module(f"{own}.{name}")  # a shim submodule read as an attribute
        elif name.startswith("__") and name.endswith("__"):
            raise AttributeError(f"module {own!r} has no attribute {name!r}")  # probes by inspect, pickle...
        else:
            raise unsupported_name(own, name)
        setattr(self, name, value)  # later reads skip __getattr__
        return value

    def __dir__(self) -> list[str]:
        return sorted(set(self.__dict__) | set(self.__dict__["__tradewind_names__"]))


class AirflowShimLoader(importlib.abc.Loader):
    """Creates the shim module of one ``airflow`` path."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = _ShimModule(spec.name)
        names = MODULES.get(spec.name, {})
        module.__dict__["__tradewind_names__"] = names
        module.__all__ = sorted(names)
        module.__doc__ = f"Tradewind's stand-in for Airflow's {spec.name} (tradewind.compat)."
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: names resolve lazily in ``_ShimModule.__getattr__``."""


class AirflowShimFinder(importlib.abc.MetaPathFinder):
    """Finds ``airflow`` and its submodules in the table; refuses the rest of ``airflow.*``."""

    def __init__(self) -> None:
        self._loader = AirflowShimLoader()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != ROOT and not fullname.startswith(ROOT + "."):
            return None
        is_package = fullname in _PACKAGES
        if fullname not in MODULES and not is_package:
            raise unsupported_module(fullname)
        spec = importlib.machinery.ModuleSpec(fullname, self._loader, origin="tradewind.compat", is_package=is_package)
        if is_package:
            spec.submodule_search_locations = []
        return spec


def installed_finder() -> AirflowShimFinder | None:
    """The shim finder on ``sys.meta_path``, if installed."""
    for finder in sys.meta_path:
        if isinstance(finder, AirflowShimFinder):
            return finder
    return None
