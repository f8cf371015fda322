"""The meta-path finder that answers ``import airflow...``: Tradewind's shims, or a provider's own files.

Every ``airflow`` module listed in :data:`~tradewind.compat.table.MODULES` (what DAG files import)
or :data:`~tradewind.compat.provider_core.MODULES` (the Airflow internals that provider packages
import) is a shim module built on first import. Its names resolve lazily (the Tradewind module
behind a name is imported when the name is first read), so ``import airflow`` stays as cheap as
the DAG file's own needs.

Under ``airflow.providers`` a module the tables do not list comes from an installed provider
distribution (``apache-airflow-providers-*``): the shim packages there carry a ``__path__`` of the
matching ``airflow/providers/...`` directories on ``sys.path``, and this finder asks the normal path
finder for the module itself, so "not found" is still answered here, loudly. Everything else fails
at once:

- an unknown module under ``airflow`` -> ``ModuleNotFoundError`` naming the module (for a provider
  neither implemented nor installed, naming the distribution to install);
- an unknown name of a known module -> ``ImportError`` naming the module and the name.

Both say that Tradewind does not support it, so a DAG file never half-works silently. The rule
"native module first, then the installed distribution" is described in docs/providers.md.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
from types import ModuleType
from typing import Any, Sequence

from tradewind.compat import provider_core, table

ROOT = "airflow"
PROVIDERS = "airflow.providers"
DOCS_HINT = "see docs/airflow-compat.md and docs/providers.md for what Tradewind maps"
_WHY = "in Tradewind 'airflow' imports resolve to Tradewind"


def _merged(*tables: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """One lookup table: per module, the union of the names (earlier tables win a clash)."""
    merged: dict[str, dict[str, str]] = {}
    for one in reversed(tables):
        for module, names in one.items():
            merged[module] = {**merged.get(module, {}), **names}
    return merged


MODULES = _merged(table.MODULES, provider_core.MODULES)


def _packages(modules: dict[str, dict[str, str]]) -> frozenset[str]:
    """Every proper prefix of a listed module path: those are packages (they have submodules)."""
    found = set()
    for path in modules:
        parts = path.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return frozenset(found)


_PACKAGES = _packages(MODULES) | frozenset(provider_core.PACKAGES)


class UnsupportedAirflowImport(ImportError):
    """An ``airflow`` module or name that Tradewind does not provide."""


def provider_of(fullname: str) -> str | None:
    """The provider id of an ``airflow.providers`` module path: ``common.sql``, ``amazon``..."""
    parts = fullname.split(".")
    if len(parts) < 3 or ".".join(parts[:2]) != PROVIDERS:
        return None
    if parts[2] == "common" and len(parts) > 3:
        return f"common.{parts[3]}"
    return parts[2]


def unsupported_module(fullname: str) -> ModuleNotFoundError:
    for removed, why in table.REMOVED_PACKAGES.items():
        if fullname == removed or fullname.startswith(removed + "."):
            return ModuleNotFoundError(f"No module named {fullname!r}: {why}", name=fullname)
    provider = provider_of(fullname)
    if provider is not None:
        dist = "apache-airflow-providers-" + provider.replace(".", "-")
        return ModuleNotFoundError(
            f"No module named {fullname!r}: Tradewind does not support the Airflow module {fullname!r} "
            f"natively and no installed provider distribution has it (is {dist} installed? `tradewind providers install {provider.replace('.', '-')}`; "
            f"`tradewind providers list` shows what is usable; {DOCS_HINT})",
            name=fullname,
        )
    return ModuleNotFoundError(
        f"No module named {fullname!r}: Tradewind does not support the Airflow module {fullname!r} "
        f"({_WHY}; {DOCS_HINT})",
        name=fullname,
    )


def unsupported_name(module: str, name: str) -> UnsupportedAirflowImport:
    return UnsupportedAirflowImport(
        f"cannot import name {name!r} from {module!r}: Tradewind does not support {module}.{name} "
        f"({_WHY}; {DOCS_HINT})",
        name=module,
    )


def resolve_target(target: str, name: str) -> Any:
    """The object a table entry points at: ``"module"`` (same name) or ``"module:attribute"``."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute or name)


def provider_dirs(fullname: str) -> list[str]:
    """The directories of package ``fullname`` (under ``airflow``) on ``sys.path``: where installed
    provider distributions put their files (``site-packages/airflow/providers/slack``...)."""
    relative = os.path.join(*fullname.split("."))
    found: list[str] = []
    for entry in sys.path:
        candidate = os.path.join(entry or os.getcwd(), relative)
        if os.path.isdir(candidate) and candidate not in found:
            found.append(candidate)
    return found


def _find_installed(fullname: str) -> importlib.machinery.ModuleSpec | None:
    """The spec of a provider module in an installed distribution (its parent's ``__path__``)."""
    parent = sys.modules.get(fullname.rpartition(".")[0])
    search = list(getattr(parent, "__path__", None) or [])
    if not search:
        return None
    return importlib.machinery.PathFinder.find_spec(fullname, search)


def _installed_provider_version(package: str) -> str | None:
    """The installed distribution's version when ``package`` is a provider's root package
    (``airflow.providers.common.sql``): bridged code reads ``airflow.providers.X.__version__``."""
    provider = provider_of(package)
    if provider is None or package != f"{PROVIDERS}.{provider}":
        return None
    import importlib.metadata

    try:
        return importlib.metadata.version("apache-airflow-providers-" + provider.replace(".", "-"))
    except importlib.metadata.PackageNotFoundError:
        return None


class _ShimModule(ModuleType):
    """An ``airflow`` module whose names come from the tables, looked up on first use."""

    def __getattr__(self, name: str) -> Any:
        own = self.__name__
        names: dict[str, str] = self.__dict__["__tradewind_names__"]
        target = names.get(name)
        if target is not None:
            value = resolve_target(target, name)
        elif f"{own}.{name}" in MODULES or f"{own}.{name}" in _PACKAGES:
            value = importlib.import_module(f"{own}.{name}")  # a shim submodule read as an attribute
        elif name == "__version__" and _installed_provider_version(own) is not None:
            value = _installed_provider_version(own)  # a native provider's package, its wheel installed
        elif name.startswith("__") and name.endswith("__"):
            raise AttributeError(f"module {own!r} has no attribute {name!r}")  # probes by inspect, pickle...
        elif self.__dict__.get("__path__") and _find_installed(f"{own}.{name}") is not None:
            value = importlib.import_module(f"{own}.{name}")  # an installed provider's submodule
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
        # Code that locates Airflow (os.path.dirname(airflow.__file__), a task printing it) finds
        # the file that builds the shims, not a real Airflow that may sit in site-packages too.
        module.__file__ = __file__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: names resolve lazily in ``_ShimModule.__getattr__``."""


class AirflowShimFinder(importlib.abc.MetaPathFinder):
    """Finds ``airflow`` and its submodules in the tables, else (under ``airflow.providers``) in the
    installed provider distributions; refuses the rest of ``airflow.*``."""

    def __init__(self) -> None:
        self._loader = AirflowShimLoader()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != ROOT and not fullname.startswith(ROOT + "."):
            return None
        is_package = fullname in _PACKAGES
        if fullname in MODULES or is_package:
            spec = importlib.machinery.ModuleSpec(fullname, self._loader, origin="tradewind.compat",
                                                  is_package=is_package)
            if is_package:
                # Under airflow.providers a shim package also lists the installed distributions'
                # directories, so their modules that Tradewind does not implement load from there.
                under_providers = fullname == PROVIDERS or fullname.startswith(PROVIDERS + ".")
                spec.submodule_search_locations = provider_dirs(fullname) if under_providers else []
            return spec
        if fullname.startswith(PROVIDERS + "."):
            found = _find_installed(fullname)
            if found is not None:
                return found
        raise unsupported_module(fullname)


def installed_finder() -> AirflowShimFinder | None:
    """The shim finder on ``sys.meta_path``, if installed."""
    for finder in sys.meta_path:
        if isinstance(finder, AirflowShimFinder):
            return finder
    return None
