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

# common.compat's sdk module re-exports these flags (its decorator modules import them from it).
_RELEASE = tuple(int(part) for part in AIRFLOW_VERSION.split("."))
AIRFLOW_V_3_0_PLUS = _RELEASE >= (3, 0, 0)
AIRFLOW_V_3_1_PLUS = _RELEASE >= (3, 1, 0)
AIRFLOW_V_3_2_PLUS = _RELEASE >= (3, 2, 0)
AIRFLOW_V_3_3_PLUS = _RELEASE >= (3, 3, 0)

_DEF = "tradewind.definition"
_BRIDGE = "tradewind.compat.provider_bridge"
_CONFIG = "tradewind.compat.airflow_config"
_MASK = "tradewind.definition.masking"
_VERSION = "tradewind.compat.provider_core:AIRFLOW_VERSION"


def _same(module: str, *names: str) -> dict[str, str]:
    """``{name: module}`` for names that keep their name in Tradewind."""
    return dict.fromkeys(names, module)


_PROVIDER_EXCEPTIONS = {
    **_same(_BRIDGE, "AirflowProviderDeprecationWarning", "RemovedInAirflow4Warning",
            "AirflowOptionalProviderFeatureException"),
    "AirflowConfigException": _CONFIG,
}
_NOTSET = _same(_BRIDGE, "NOTSET", "ArgNotSet")
_MASKING = _same(_MASK, "mask_secret", "redact")
_CONF = _same(_CONFIG, "conf", "AirflowConfigException")
_LOADING = _same(_BRIDGE, "import_string", "qualname", "iter_namespace")
_LINEAGE = _same(_BRIDGE, "get_hook_lineage_collector", "NoOpCollector")
_CONTEXT = _same(f"{_DEF}.context", "Context", "get_current_context")
_DECORATOR_BASE = f"{_DEF}.decorator_base"
_DECORATOR_NAMES = _same(_DECORATOR_BASE, "DecoratedOperator", "TaskDecorator", "task_decorator_factory",
                         "get_unique_task_id")

#: Packages without names of their own that are not a prefix of a listed module.
PACKAGES: tuple[str, ...] = ()

MODULES: dict[str, dict[str, str]] = {
    "airflow": {"__version__": _VERSION},
    "airflow.version": {"version": _VERSION},
    # ------------------------------------------------------------------ exceptions and sentinels
    "airflow.exceptions": _PROVIDER_EXCEPTIONS,
    "airflow.sdk.exceptions": {
        **_PROVIDER_EXCEPTIONS,
        "AirflowNotFoundException": f"{_DEF}.connection:ConnectionNotFound",
        **_same(f"{_DEF}.exceptions", "AirflowTaskTimeout", "ParamValidationError", "DagRunTriggerException"),
    },
    "airflow.utils.types": _NOTSET,
    "airflow.sdk.definitions._internal.types": {**_NOTSET, "is_arg_set": _BRIDGE,
                                                "SET_DURING_EXECUTION": _DECORATOR_BASE},
    # ------------------------------------------------------------------ providers' @task.<name> decorators
    "airflow.sdk.bases.decorator": _DECORATOR_NAMES,
    "airflow.decorators.base": _DECORATOR_NAMES,
    "airflow.providers.common.compat.sdk": {**_DECORATOR_NAMES, "context_merge": _DECORATOR_BASE,
                                            "determine_kwargs": f"{_DEF}.operators.python",
                                            **_same("tradewind.compat.provider_core", "AIRFLOW_V_3_0_PLUS",
                                                    "AIRFLOW_V_3_3_PLUS")},
    "airflow.utils.operator_helpers": {"determine_kwargs": f"{_DEF}.operators.python"},
    # ------------------------------------------------------------------ logging, masking, settings
    "airflow.utils.log.logging_mixin": _same(_BRIDGE, "LoggingMixin"),
    "airflow.sdk.log": _MASKING,
    "airflow.sdk.execution_time.secrets_masker": _MASKING,
    "airflow.utils.log.secrets_masker": _MASKING,
    "airflow.configuration": _CONF,
    "airflow.sdk.configuration": _CONF,
    # ------------------------------------------------------------------ small helpers
    "airflow.utils.module_loading": _LOADING,
    "airflow.sdk.module_loading": _LOADING,
    "airflow.utils.helpers": _same(_BRIDGE, "exactly_one", "merge_dicts", "prune_dict", "chunks"),
    # amazon base_aws reads the installed providers' versions (for its user agent)
    "airflow.sdk.providers_manager_runtime": _same(_BRIDGE, "ProvidersManagerTaskRuntime"),
    "airflow.utils.strings": _same(_BRIDGE, "to_boolean"),
    "airflow.utils.platform": _same(_BRIDGE, "getuser"),
    "airflow.models.xcom": _same(_BRIDGE, "XCOM_RETURN_KEY"),
    "airflow.sdk.lineage": _LINEAGE,
    "airflow.lineage.hook": _LINEAGE,
    # ------------------------------------------------------------------ typing names used at run time
    "airflow.sdk": {"Context": f"{_DEF}.context"},
    "airflow.utils.context": {**_CONTEXT, "context_merge": _DECORATOR_BASE},
    "airflow.sdk.definitions.context": {**_CONTEXT, "context_merge": _DECORATOR_BASE},
}
