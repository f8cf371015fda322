"""What Airflow provider packages import from Airflow's core and Task SDK, mapped to Tradewind: data.

:mod:`tradewind.compat.table` maps what DAG files import; this second table maps the Airflow
internals that the provider distributions' own code imports (``apache-airflow-providers-ssh``'s
hook, ``common.compat``'s fallbacks, ...) when Tradewind loads them from site-packages ("bridged"
providers, docs/providers.md). The finder merges both (``table`` wins a clash of the same name).
Same format: ``MODULES[airflow_module][name] = "tradewind.module"`` or ``"tradewind.module:attr"``.
Anything not listed still fails loudly at import, naming the module or name.

To add what a provider needs: import its module in a Tradewind process, read the error naming the
missing module or name, map it here to a real Tradewind object (never a stand-in that silently does
nothing) and test the provider end to end (tests/providers).
"""

from __future__ import annotations

#: The Apache Airflow release ``airflow.__version__`` reports. Providers compare it in their
#: ``__init__`` (a minimum version) and pick code paths by it (``version_compat``): Tradewind
#: implements Airflow 3's Task SDK interfaces, so providers take their Airflow 3 paths. Why this
#: release and not another: docs/providers.md.
AIRFLOW_VERSION = "3.1.0"

_DEF = "tradewind.definition"
_BRIDGE = "tradewind.compat.provider_bridge"

#: Packages without names of their own that are not a prefix of a listed module.
PACKAGES: tuple[str, ...] = ()

MODULES: dict[str, dict[str, str]] = {
    "airflow": {"__version__": "tradewind.compat.provider_core:AIRFLOW_VERSION"},
    "airflow.version": {"version": "tradewind.compat.provider_core:AIRFLOW_VERSION"},
}
