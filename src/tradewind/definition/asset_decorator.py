"""``@asset`` and ``@asset.multi``: Airflow 3's asset-centric authoring (``airflow.sdk.asset``).

::

    @asset(schedule="@daily", uri="s3://bucket/raw_orders")
    def raw_orders(self, context):          # a DAG "raw_orders" with one task "raw_orders"
        ...                                  # that updates the asset raw_orders when it succeeds

    @asset(schedule=raw_orders)
    def clean_orders(self, raw_orders):      # scheduled on raw_orders, which is also its inlet
        ...

A function decorated with ``@asset(schedule=...)`` *is* an asset (an :class:`AssetDefinition`,
usable in other DAGs' schedules) and defines a one-task DAG that materialises it:

* DAG id: ``dag_id=`` if given, else the asset's name (``name=``, else the function's name);
  the task id is the function's name; the asset's uri defaults to its name;
* the task's outlet is the asset (``@asset.multi(outlets=[...])``: those assets; its DAG id
  defaults to the function's name);
* the DAG is made with ``catchup=False`` and the DAG arguments Airflow's decorator takes
  (``schedule`` is required; ``description``, ``tags``, ``params``, callbacks, ...);
* what the function receives, by parameter name (Airflow's rules): a parameter with a default
  keeps it; ``self`` is the asset being made; ``context`` is the task's context
  (``outlet_events`` its outlet event accessors); any other name is the asset of that name,
  an *inlet* of the task.

An inlet parameter is resolved when the file is parsed to an asset the DAG's schedule names or
an ``@asset`` defined before it in the same process (the file or a module it imports); else it
stays ``Asset.ref(name=...)`` and at run time the task gets ``Asset(name)`` (the uri ``@asset``
gives by default) with a note in its log: Airflow looks the name up among every asset it knows.

The DAG is registered the way a ``with DAG(...)`` block is, so the parser finds it although
no module-level name holds it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from tradewind.definition.assets import (
    AliasResolution,
    Asset,
    AssetAlias,
    AssetAll,
    AssetKey,
    AssetNameRef,
    BaseAsset,
    InvalidAssetError,
    outlet_assets,
)
from tradewind.definition.operators.python import PythonOperator, await_if_needed

__all__ = ["AssetDefinition", "MultiAssetDefinition", "asset"]

#: The assets ``@asset`` defined in this process, by name: what a parameter named after an
#: asset resolves to when the DAG's own schedule and outlets do not name it.
_DEFINED: dict[str, Asset] = {}

_DAG_ARGUMENTS = (
    "is_paused_upon_creation", "dag_id", "dag_display_name", "description", "params", "on_success_callback",
    "on_failure_callback", "access_control", "owner_links", "tags", "start_date", "catchup", "default_args",
)
#: Parameters that never name an inlet asset.
_NOT_INLETS = ("self", "context", "outlet_events")


def _check_function(f: Any, what: str) -> None:
    if getattr(f, "_airflow_is_task_decorator", False) or not inspect.isfunction(f):
        raise InvalidAssetError(f"{what} must decorate a plain function, got {f!r} "
                                "(@asset over @task is not supported by Tradewind)")
    if f.__name__ != f.__qualname__:
        raise ValueError(f"{what}: nested function {f.__qualname__!r} not supported (define it at module level)")
    for name, param in inspect.signature(f).parameters.items():
        if param.kind is param.VAR_POSITIONAL:
            raise TypeError(f"{what} {f.__name__}: wildcard '*{name}' is not supported in @asset")
        if param.kind is param.VAR_KEYWORD:
            raise TypeError(f"{what} {f.__name__}: wildcard '**{name}' is not supported in @asset")
        if param.kind is param.POSITIONAL_ONLY and param.default is param.empty:
            raise TypeError(f"{what} {f.__name__}: positional-only argument '{name}' without a default "
                            "is not supported in @asset")


class _DAGFactory:
    """The DAG arguments ``@asset`` and ``@asset.multi`` take (Airflow's list)."""

    what = "@asset"

    def __init__(self, *, schedule: Any, is_paused_upon_creation: bool | None = None, dag_id: str | None = None,
                 dag_display_name: str | None = None, description: str | None = None,
                 params: Mapping[str, Any] | None = None, on_success_callback: Any = None,
                 on_failure_callback: Any = None, access_control: Any = None,
                 owner_links: Mapping[str, str] | None = None, tags: Iterable[str] | None = None,
                 **more: Any) -> None:
        self.schedule = schedule
        self.dag_arguments = {
            "is_paused_upon_creation": is_paused_upon_creation, "dag_display_name": dag_display_name,
            "description": description, "params": params, "on_success_callback": on_success_callback,
            "on_failure_callback": on_failure_callback, "access_control": access_control,
            "owner_links": dict(owner_links or {}), "tags": list(tags or ()),
            # Not Airflow's @asset arguments, but accepted (files written for earlier 3.0 betas pass them).
            **more,
        }
        self.dag_id = dag_id

    def create_dag(self, *, default_dag_id: str) -> Any:
        from tradewind.definition.dag import DAG

        dag_id = self.dag_id or default_dag_id
        arguments = {k: v for k, v in self.dag_arguments.items() if v is not None}
        arguments.setdefault("dag_display_name", dag_id)
        arguments.setdefault("catchup", False)
        return DAG(dag_id, schedule=self.schedule, **arguments)


class asset(_DAGFactory):  # noqa: N801 - Airflow's name
    """``@asset(schedule=..., name=None, uri=None, group="asset", extra=None, watchers=None, <DAG
    arguments>)``: see the module docstring."""

    def __init__(self, f: Any = None, /, *, schedule: Any = None, name: str | None = None, uri: Any = None,
                 group: str = Asset.asset_type, extra: Mapping[str, Any] | None = None,
                 watchers: Iterable[Any] | None = None, **dag_arguments: Any) -> None:
        if f is not None:
            raise TypeError(f"@asset needs arguments, at least the schedule: write @asset(schedule=...) above "
                            f"{getattr(f, '__name__', f)!r} (Airflow's decorator has no bare form)")
        _reject_unknown(dag_arguments, "@asset")
        super().__init__(schedule=schedule, **dag_arguments)
        self.name, self.uri, self.group = name, uri, group
        self.extra = dict(extra or {})
        self.watchers = list(watchers or ())

    def __call__(self, f: Callable[..., Any]) -> "AssetDefinition":
        _check_function(f, "@asset")
        name = self.name or f.__name__
        uri = name if self.uri is None else str(self.uri)
        return AssetDefinition(name=name, uri=uri, group=self.group, extra=self.extra, watchers=self.watchers,
                               function=f, source=self)

    class multi(_DAGFactory):  # noqa: N801 - Airflow's name
        """``@asset.multi(outlets=[...], schedule=..., <DAG arguments>)``: a one-task DAG whose
        task produces several assets; its DAG id defaults to the function's name."""

        what = "@asset.multi"

        def __init__(self, f: Any = None, /, *, outlets: Iterable[Any] = (), schedule: Any = None,
                     **dag_arguments: Any) -> None:
            if f is not None:
                raise TypeError("@asset.multi needs arguments: write @asset.multi(outlets=[...], schedule=...)")
            _reject_unknown(dag_arguments, "@asset.multi")
            super().__init__(schedule=schedule, **dag_arguments)
            self.outlets = list(outlets or ())
            for position, item in enumerate(self.outlets):
                if not isinstance(item, (Asset, AssetAlias)):
                    raise InvalidAssetError(f"@asset.multi outlets item {position} is {item!r} "
                                            f"({type(item).__name__}), not an Asset or AssetAlias")

        def __call__(self, f: Callable[..., Any]) -> "MultiAssetDefinition":
            _check_function(f, "@asset.multi")
            if not self.outlets:
                raise ValueError(f"@asset.multi {f.__name__}: no outlets provided")
            return MultiAssetDefinition(function=f, source=self)


def _reject_unknown(arguments: Mapping[str, Any], what: str) -> None:
    unknown = sorted(set(arguments) - set(_DAG_ARGUMENTS))
    if unknown:
        raise TypeError(f"{what} got unexpected argument(s) {', '.join(map(repr, unknown))}; it takes schedule, "
                        f"name, uri, group, extra, watchers and the DAG arguments {', '.join(_DAG_ARGUMENTS)}")


class AssetDefinition(Asset):
    """The asset ``@asset`` made of a function (an :class:`Asset`; it also built the DAG)."""

    def __init__(self, *, name: str, uri: str, group: str, extra: Mapping[str, Any], watchers: list[Any],
                 function: Callable[..., Any], source: asset) -> None:
        super().__init__(name=name, uri=uri, group=group, extra=dict(extra), watchers=watchers or None)
        self._function = function
        self._source = source
        with source.create_dag(default_dag_id=self.name) as dag:
            _AssetMainOperator.from_definition(self)
        self.dag = dag
        _DEFINED[self.name] = self  # only once its DAG is built: a failed definition resolves nothing

    def iter_outlets(self) -> Iterator[Asset]:
        yield self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Calling the asset calls the function (handy in unit tests of the function)."""
        return self._function(*args, **kwargs)


class MultiAssetDefinition(BaseAsset):
    """What ``@asset.multi`` returns: stands for all of its outlets (in a schedule: all of them
    updated, as ``AssetAll``)."""

    def __init__(self, *, function: Callable[..., Any], source: asset.multi) -> None:
        self._function = function
        self._source = source
        with source.create_dag(default_dag_id=function.__name__) as dag:
            _AssetMainOperator.from_definition(self)
        self.dag = dag

    def iter_outlets(self) -> Iterator[Any]:
        return iter(self._source.outlets)

    def _as_condition(self) -> BaseAsset:
        outlets = self._source.outlets
        return outlets[0] if len(outlets) == 1 else AssetAll(*outlets)

    def evaluate(self, ready: Iterable[AssetKey] | set[AssetKey], aliases: AliasResolution | None = None) -> bool:
        return self._as_condition().evaluate(ready, aliases)

    def iter_assets(self) -> Iterator[Asset]:
        return self._as_condition().iter_assets()

    def iter_aliases(self) -> Iterator[AssetAlias]:
        return self._as_condition().iter_aliases()

    def as_expression(self) -> dict[str, Any]:
        return self._as_condition().as_expression()

    def __repr__(self) -> str:
        return f"MultiAssetDefinition({self._function.__name__!r}, outlets={self._source.outlets!r})"


class _AssetMainOperator(PythonOperator):
    """The task of an ``@asset`` DAG: calls the function with the arguments its parameters name."""

    def __init__(self, *, definition: AssetDefinition | MultiAssetDefinition, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._definition = definition

    @classmethod
    def from_definition(cls, definition: AssetDefinition | MultiAssetDefinition) -> "_AssetMainOperator":
        function = definition._function
        params = inspect.signature(function).parameters
        return cls(
            task_id=function.__name__,
            inlets=[_known_asset(name, definition._source.schedule) or AssetNameRef(name)
                    for name, p in params.items() if name not in _NOT_INLETS and p.default is p.empty],
            outlets=list(definition.iter_outlets()),
            python_callable=function,
            definition=definition,
        )

    def _asset_named(self, name: str, log: Any) -> Asset:
        """The asset a parameter names: an inlet resolved at parse time or one of the outlets, else
        ``Asset(name)`` (``@asset``'s default uri is the name), with a note in the task log."""
        for candidate in [*outlet_assets(self.inlets), *outlet_assets(self.outlets)]:
            if candidate.name == name:
                return _plain(candidate)
        if name in _DEFINED:
            return _plain(_DEFINED[name])
        log.warning("Asset %r (a parameter of %s) is not defined in this DAG's file; using Asset(%r), whose uri "
                    "is its name as @asset gives by default", name, self.task_id, name)
        return Asset(name)

    def determine_kwargs(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """Airflow's rules: a default is kept, ``self`` is the asset, ``context`` the context,
        any other parameter the asset of that name."""
        log = self.task_logger(dict(context))
        values: dict[str, Any] = {}
        for key, param in inspect.signature(self.python_callable).parameters.items():
            if param.default is not param.empty:
                values[key] = param.default
            elif key == "self":
                values[key] = self._self_asset(log)
            elif key == "context":
                values[key] = context
            elif key == "outlet_events":
                values[key] = context.get("outlet_events")
            else:
                values[key] = self._asset_named(key, log)
        return values

    def _self_asset(self, log: Any) -> Asset:
        if isinstance(self._definition, AssetDefinition):
            return _plain(self._definition)
        return self._asset_named(self.task_id, log)

    def execute_callable(self, kwargs: Mapping[str, Any]) -> Any:
        from tradewind.definition.assets import collect_metadata

        result = await_if_needed(self.python_callable(**self.determine_kwargs(kwargs)))
        return collect_metadata(result, kwargs.get("outlet_events"), self.task_logger(dict(kwargs)))


def _plain(found: Asset) -> Asset:
    """The asset as a plain :class:`Asset` (what Airflow hands the function: no definition attached)."""
    return Asset(name=found.name, uri=found.uri, group=found.group, extra=found.extra)


def _known_asset(name: str, schedule: Any) -> Asset | None:
    """The asset ``name`` stands for when the file is parsed: one the schedule names, else an
    ``@asset`` defined earlier in this process; None when unknown yet."""
    items = list(schedule) if isinstance(schedule, (list, tuple)) else [schedule]
    candidates = [a for item in items if isinstance(item, BaseAsset) for a in item.iter_assets()]
    for candidate in candidates:
        if candidate.name == name:
            return _plain(candidate)
    found = _DEFINED.get(name)
    return _plain(found) if found is not None else None
