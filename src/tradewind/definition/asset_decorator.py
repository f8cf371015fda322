"""``@asset``: Airflow 3's way to define an asset together with the DAG that produces it.

::

    @asset(schedule="@daily", uri="s3://bucket/raw_orders")
    def raw_orders(self, context):          # a DAG "raw_orders" with one task "raw_orders"
        ...                                  # that updates the asset raw_orders when it succeeds

    @asset(schedule=raw_orders)
    def clean_orders(self, raw_orders):      # scheduled on raw_orders, which is also its inlet
        ...

As in Airflow, the decorated name becomes an :class:`AssetDefinition` (an :class:`Asset` named
after the function, ``uri`` defaulting to the name) and a DAG of that id (``dag_id=`` overrides)
with one task of the function's name whose outlet is the asset. When the task runs, its
parameters receive: ``self`` the asset, ``context`` the task context, ``outlet_events`` the outlet
event accessors, a parameter with a default its default, and any other parameter the asset of
that name, which is also one of the task's inlets (so ``context["inlet_events"][param]`` works).

What differs, loudly: Airflow resolves an inlet parameter by looking the name up among every
asset it knows; Tradewind resolves it to an ``@asset`` defined earlier in the same process (the
same DAG file or a module it imports), and a parameter naming no such asset is an import error
naming it. ``asset.multi``, ``watchers`` and ``@asset`` over a ``@task`` function are refused by
name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping
from typing import Any

from tradewind.definition.assets import Asset, InvalidAssetError
from tradewind.definition.operators.python import PythonOperator, await_if_needed

__all__ = ["AssetDefinition", "asset"]

_NOT_INLETS = ("self", "context", "outlet_events")
#: Every ``@asset`` defined in this process, by name (inlet parameters are resolved here).
_DEFINITIONS: dict[str, "AssetDefinition"] = {}

_DAG_ARGUMENTS = (
    "is_paused_upon_creation", "dag_id", "dag_display_name", "description", "params", "on_success_callback",
    "on_failure_callback", "access_control", "owner_links", "tags", "start_date", "catchup", "default_args",
)


class AssetDefinition(Asset):
    """The asset an ``@asset`` function produces; it also built the DAG that runs the function."""

    def __init__(self, name: str, uri: str | None, *, group: str | None, extra: dict[str, Any] | None,
                 function: Callable[..., Any], dag_arguments: Mapping[str, Any], schedule: Any) -> None:
        super().__init__(name=name, uri=uri, group=group, extra=extra)
        self.function = function
        inlets = _inlet_assets(function)  # parameter name -> asset
        from tradewind.definition.dag import DAG

        dag_id = dag_arguments.get("dag_id") or name
        options = {k: v for k, v in dag_arguments.items() if k != "dag_id" and v is not None}
        with DAG(dag_id, schedule=schedule, **options) as built:
            _AssetMainOperator(task_id=function.__name__, python_callable=function, outlets=[self.as_asset()],
                               inlets=list(inlets.values()), definition=self, inlet_params=inlets)
        self.dag = built
        _DEFINITIONS[self.name] = self

    def as_asset(self) -> Asset:
        """The plain asset (what ``self`` is inside the function, as Airflow hands it over)."""
        return Asset(name=self.name, uri=self.uri, group=self.group, extra=self.extra)


def _inlet_assets(function: Callable[..., Any]) -> dict[str, Asset]:
    inlets: dict[str, Asset] = {}
    for name, param in inspect.signature(function).parameters.items():
        if name in _NOT_INLETS or param.default is not inspect.Parameter.empty:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise InvalidAssetError(f"@asset function {function.__name__!r}: *args/**kwargs are not allowed "
                                    "(each parameter names an inlet asset, or is self/context/outlet_events)")
        known = _DEFINITIONS.get(name)
        if known is None:
            raise InvalidAssetError(
                f"@asset function {function.__name__!r}: parameter {name!r} names no asset: Tradewind resolves an "
                f"inlet parameter to an @asset defined before it (in this DAG file or a module it imports); "
                f"define @asset {name} first, or give the parameter a default")
        inlets[name] = known.as_asset()
    return inlets


class _AssetMainOperator(PythonOperator):
    """Runs an ``@asset`` function with ``self``/``context``/``outlet_events``/inlet assets as Airflow passes them."""

    def __init__(self, *, definition: AssetDefinition, inlet_params: Mapping[str, Asset], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._definition = definition
        self._inlet_params = dict(inlet_params)

    def execute_callable(self, kwargs: Mapping[str, Any]) -> Any:
        from tradewind.definition.assets import collect_metadata

        call: dict[str, Any] = {}
        for name, param in inspect.signature(self.python_callable).parameters.items():
            if param.default is not inspect.Parameter.empty:
                continue
            if name == "self":
                call[name] = self._definition.as_asset()
            elif name == "context":
                call[name] = kwargs
            elif name == "outlet_events":
                call[name] = kwargs.get("outlet_events")
            else:
                call[name] = self._inlet_params[name]
        result = await_if_needed(self.python_callable(**call))
        return collect_metadata(result, kwargs.get("outlet_events"), self.task_logger(dict(kwargs)))


class asset:  # noqa: N801 - Airflow's name
    """``@asset(schedule=..., name=None, uri=None, group=None, extra=None, **dag_arguments)``."""

    def __init__(self, *, schedule: Any, name: str | None = None, uri: Any = None, group: str | None = None,
                 extra: dict[str, Any] | None = None, watchers: Collection[Any] | None = None,
                 **dag_arguments: Any) -> None:
        if watchers:
            raise InvalidAssetError("@asset(watchers=...) is not supported by Tradewind (asset watchers, "
                                    "Airflow's event-driven scheduling, are not implemented)")
        unknown = sorted(set(dag_arguments) - set(_DAG_ARGUMENTS))
        if unknown:
            raise TypeError(f"@asset() got unexpected argument(s): {', '.join(unknown)}")
        self.schedule = schedule
        self.name = name
        self.uri = None if uri is None else str(uri)
        self.group = group
        self.extra = extra
        self.dag_arguments = dag_arguments

    def __call__(self, function: Callable[..., Any]) -> AssetDefinition:
        if getattr(function, "_airflow_is_task_decorator", False) or not inspect.isfunction(function):
            raise InvalidAssetError(f"@asset must decorate a plain function, got {function!r} "
                                    "(@asset over @task is not supported by Tradewind)")
        return AssetDefinition(self.name or function.__name__, self.uri, group=self.group, extra=self.extra,
                               function=function, dag_arguments=self.dag_arguments, schedule=self.schedule)

    @staticmethod
    def multi(*args: Any, **kwargs: Any) -> Any:
        """Airflow's ``@asset.multi``: refused (one function producing several assets is not implemented)."""
        raise InvalidAssetError("@asset.multi is not supported by Tradewind; use @task(outlets=[...]) in a DAG")
