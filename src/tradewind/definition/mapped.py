"""Dynamic task mapping (Airflow's ``partial``/``expand``): one task, many instances at run time.

Authoring API:

* ``Operator.partial(task_id=..., **fixed).expand(arg=[...] | xcom_arg)`` and
  ``.expand_kwargs(list_of_dicts | xcom_arg)``; ``@task`` functions: ``fn.expand(x=...)``,
  ``fn.partial(y=1).expand(x=...)``, ``fn.expand_kwargs(...)``.
* ``xcom_arg.map(fn)``, ``xcom_arg.zip(*others, fillvalue=...)``, ``xcom_arg.concat(*others)``.
* ``@task_group`` functions: ``group_fn.expand(x=...)`` / ``group_fn.partial(y=1).expand(x=...)``:
  every task in the group is mapped over the same input; inside the group a task's
  upstream in the group is the instance with the same map index.

Several ``expand`` arguments map over their cross product (the last argument varies
fastest). What the scheduler needs (how to compute the number of instances) is
:meth:`ExpandInput.spec`, stored in the task's snapshot; the number is computed from the
upstream XComs with :func:`spec_length` once those upstreams are done. At run time
:func:`unmap_for_try` builds the concrete operator of one map index.

Parse-time mistakes (an argument the operator does not take, one given to both
``partial`` and ``expand``, ``task_id`` in ``expand``, a value that is not a list, a
dict or an XComArg) raise :class:`MappingDefinitionError` naming the argument, which
makes the DAG file an import error.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tradewind.definition.baseoperator import _ACCEPTED_AND_IGNORED, BaseOperator
from tradewind.definition.exceptions import DagDefinitionError
from tradewind.definition.helpers import DagContext, TaskGroupContext, next_free_id
from tradewind.definition.xcom_arg import RETURN_KEY, XComArg, iter_xcom_args, resolve_xcom_args
from tradewind.definition.xcom_serde import decode_xcom, is_envelope

__all__ = [
    "MappingDefinitionError",
    "UnmappableInputError",
    "MappedOperator",
    "OperatorPartial",
    "MappedArgument",
    "MapXComArg",
    "ZipXComArg",
    "ConcatXComArg",
    "DictOfListsExpandInput",
    "ListOfDictsExpandInput",
    "spec_length",
    "unmap_for_try",
    "render_map_index",
]

#: Arguments saying where a task is; never mapped.
_PLACEMENT_ARGS = frozenset({"task_id", "dag", "task_group", "default_args"})
_NOTHING = object()


class MappingDefinitionError(DagDefinitionError, TypeError):
    """A ``partial``/``expand`` call that cannot work (raised while the DAG file is parsed)."""


class UnmappableInputError(TypeError):
    """A mapped input that is not a list or a dict, or an index past its end (at run time)."""


# ------------------------------------------------------------ derived XCom arguments
def _items(value: Any, where: str) -> list[Any]:
    """The sequence a mapped value stands for: a list/tuple as is, a dict as (key, value) pairs.

    The scheduler counts items from stored JSON, where a pushed tuple is a typed envelope
    (:mod:`tradewind.definition.xcom_serde`): it is read back as the tuple first.
    """
    if is_envelope(value):
        value = decode_xcom(value)
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, (list, tuple)):
        return list(value)
    raise UnmappableInputError(
        f"{where}: can only map over a list or a dict, got {type(value).__name__} {_short(value)}"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _DerivedXComArg:
    """Base of ``.map()/.zip()/.concat()`` results: resolvable like an XComArg, never pushed itself."""

    #: The inputs this value is derived from (XComArgs, literals or other derived values).
    args: list[Any]

    def iter_references(self) -> Iterator[tuple[Any, str]]:
        for arg in self.args:
            yield from _references(arg)

    @property
    def roots(self) -> list[Any]:
        return [op for op, _ in self.iter_references()]

    leaves = roots

    def map(self, fn: Callable[[Any], Any]) -> "MapXComArg":
        return MapXComArg(self, fn)

    def zip(self, *others: Any, fillvalue: Any = _NOTHING) -> "ZipXComArg":
        return ZipXComArg([self, *others], fillvalue=fillvalue)

    def concat(self, *others: Any) -> "ConcatXComArg":
        return ConcatXComArg([self, *others])

    def resolve(self, context: dict[str, Any]) -> list[Any]:
        """The whole derived sequence as a list (what a non-mapped consumer receives)."""
        length, item = _sequence(self, context, "derived XCom value")
        return [item(i) for i in range(length)]


class MapXComArg(_DerivedXComArg):
    """``xcom_arg.map(fn)``: ``fn`` applied to each item when it is used (in the consumer's try)."""

    def __init__(self, source: Any, fn: Callable[[Any], Any]) -> None:
        if not callable(fn):
            raise MappingDefinitionError(f"map() needs a callable, got {fn!r}")
        self.source = source
        self.fn = fn
        self.args = [source]

    def __repr__(self) -> str:
        return f"MapXComArg({self.source!r}, {getattr(self.fn, '__name__', self.fn)!r})"


class ZipXComArg(_DerivedXComArg):
    """``xcom_arg.zip(*others)``: tuples of the n-th items; as long as the shortest input,
    or the longest one when ``fillvalue`` is given."""

    def __init__(self, args: list[Any], *, fillvalue: Any = _NOTHING) -> None:
        for arg in args:
            _check_mappable(arg, "zip() argument")
        self.args = list(args)
        self.fillvalue = fillvalue


class ConcatXComArg(_DerivedXComArg):
    """``xcom_arg.concat(*others)``: the items of every input, one input after the other."""

    def __init__(self, args: list[Any]) -> None:
        for arg in args:
            _check_mappable(arg, "concat() argument")
        self.args = list(args)


def _references(value: Any) -> Iterator[tuple[Any, str]]:
    if isinstance(value, XComArg):
        yield value.operator, value.key
    elif isinstance(value, (_DerivedXComArg, MappedArgument)):
        yield from value.iter_references()
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _references(item)


def _sequence(value: Any, context: dict[str, Any], where: str) -> tuple[int, Callable[[int], Any]]:
    """(length, item getter) of a mapped value at run time; items are computed only when asked."""
    if isinstance(value, MapXComArg):
        length, item = _sequence(value.source, context, where)
        return length, lambda i: value.fn(item(i))
    if isinstance(value, ZipXComArg):
        parts = [_sequence(arg, context, where) for arg in value.args]
        lengths = [n for n, _ in parts]
        fill = value.fillvalue
        length = (max(lengths) if fill is not _NOTHING else min(lengths)) if lengths else 0
        return length, lambda i: tuple(get(i) if i < n else fill for n, get in parts)
    if isinstance(value, ConcatXComArg):
        parts = [_sequence(arg, context, where) for arg in value.args]

        def concat_item(i: int) -> Any:
            for n, get in parts:
                if i < n:
                    return get(i)
                i -= n
            raise IndexError(i)

        return sum(n for n, _ in parts), concat_item
    if isinstance(value, MappedArgument):
        resolved = value.resolve(context)
    elif isinstance(value, XComArg):
        resolved = value.resolve(context)
    else:
        resolved = value
    items = _items(resolved, where)
    return len(items), items.__getitem__


def _check_mappable(value: Any, what: str) -> None:
    if isinstance(value, (XComArg, _DerivedXComArg, MappedArgument)):
        return
    if isinstance(value, (list, tuple, dict)):
        return
    raise MappingDefinitionError(f"{what} got an unexpected type {type(value).__name__!r}: {_short(value)}; "
                                 "map over a list, a dict or an XComArg")


# ------------------------------------------------------------------ expand inputs
def arg_spec(value: Any) -> dict[str, Any]:
    """The JSON form of one mapped value the scheduler uses to count instances."""
    if isinstance(value, XComArg):
        return {"xcom": value.operator.task_id, "key": value.key}
    if isinstance(value, MapXComArg):
        return {"map": arg_spec(value.source)}
    if isinstance(value, ZipXComArg):
        return {"zip": [arg_spec(a) for a in value.args], "fill": value.fillvalue is not _NOTHING}
    if isinstance(value, ConcatXComArg):
        return {"concat": [arg_spec(a) for a in value.args]}
    return {"literal": len(value)}


class DictOfListsExpandInput:
    """``expand(a=[...], b=xcom)``: one instance per item of the cross product of the values."""

    def __init__(self, value: dict[str, Any]) -> None:
        self.value = value

    def spec(self) -> dict[str, Any]:
        return {"kind": "product", "args": {name: arg_spec(v) for name, v in self.value.items()}}

    def iter_references(self) -> Iterator[tuple[Any, str]]:
        yield from _references(list(self.value.values()))

    def kwargs_at(self, index: int, context: dict[str, Any], where: str) -> tuple[dict[str, Any], set[str]]:
        """The keyword arguments of map index ``index`` and the names whose value came from XCom."""
        sequences = {name: _sequence(v, context, f"{where}, argument {name!r}") for name, v in self.value.items()}
        total = 1
        for length, _ in sequences.values():
            total *= length
        if not 0 <= index < total:
            raise UnmappableInputError(f"{where}: map index {index} is out of range (the input has {total} items)")
        positions: dict[str, int] = {}
        for name in reversed(list(self.value)):  # the last argument varies fastest
            length = sequences[name][0]
            positions[name] = index % length
            index //= length
        kwargs = {name: sequences[name][1](positions[name]) for name in self.value}
        from_xcom = {name for name, v in self.value.items() if not isinstance(v, (list, tuple, dict))}
        return kwargs, from_xcom


class ListOfDictsExpandInput:
    """``expand_kwargs(list_of_dicts)``: one instance per dict, whose items are its arguments."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def spec(self) -> dict[str, Any]:
        return {"kind": "list", "source": arg_spec(self.value)}

    def iter_references(self) -> Iterator[tuple[Any, str]]:
        yield from _references(self.value)

    def kwargs_at(self, index: int, context: dict[str, Any], where: str) -> tuple[dict[str, Any], set[str]]:
        length, item = _sequence(self.value, context, where)
        if not 0 <= index < length:
            raise UnmappableInputError(f"{where}: map index {index} is out of range (the input has {length} items)")
        kwargs = item(index)
        if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
            raise UnmappableInputError(
                f"{where}: expand_kwargs() needs a list of dicts with string keys; item {index} is {_short(kwargs)}"
            )
        literal = isinstance(self.value, (list, tuple))
        kwargs = resolve_xcom_args(dict(kwargs), context) if literal else dict(kwargs)
        return kwargs, (set() if literal else set(kwargs))


ExpandInput = DictOfListsExpandInput | ListOfDictsExpandInput


def spec_length(spec: dict[str, Any], value_of: Callable[[str, str], Any], where: str) -> int:
    """How many instances an expand input spec stands for.

    ``value_of(task_id, key)`` returns an upstream's XCom value (the list of its mapped
    instances' values when it is mapped). Raises :class:`UnmappableInputError` when a value
    is not a list or a dict.
    """
    if spec.get("kind") == "product":
        total = 1
        for name, arg in spec["args"].items():
            total *= _arg_length(arg, value_of, f"{where}, argument {name!r}")
        return total
    return _arg_length(spec["source"], value_of, where)


def _arg_length(arg: dict[str, Any], value_of: Callable[[str, str], Any], where: str) -> int:
    if "literal" in arg:
        return int(arg["literal"])
    if "xcom" in arg:
        return len(_items(value_of(arg["xcom"], arg.get("key", RETURN_KEY)), f"{where} (from {arg['xcom']!r})"))
    if "map" in arg:
        return _arg_length(arg["map"], value_of, where)
    if "zip" in arg:
        lengths = [_arg_length(a, value_of, where) for a in arg["zip"]]
        return (max(lengths) if arg.get("fill") else min(lengths)) if lengths else 0
    if "concat" in arg:
        return sum(_arg_length(a, value_of, where) for a in arg["concat"])
    raise ValueError(f"{where}: unknown mapped input {arg!r}")


def spec_task_ids(spec: dict[str, Any]) -> set[str]:
    """The upstream task ids whose XComs an expand input spec reads."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "xcom" in node:
                found.add(node["xcom"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return found


# ------------------------------------------------------------------ mapped operators
def _init_params(operator_class: type) -> dict[str, inspect.Parameter]:
    """Keyword parameters of every ``__init__`` in the class hierarchy (BaseOperator's included)."""
    params: dict[str, inspect.Parameter] = {}
    for klass in reversed(operator_class.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for name, p in inspect.signature(init).parameters.items():
            if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                params[name] = p
    return params


@functools.cache
def _base_params() -> frozenset[str]:
    return frozenset(_init_params(BaseOperator))


class OperatorPartial:
    """``Operator.partial(...)``: the fixed arguments; ``expand``/``expand_kwargs`` make the task."""

    def __init__(self, operator_class: type, kwargs: dict[str, Any]) -> None:
        if "task_id" not in kwargs:
            raise MappingDefinitionError(f"{operator_class.__name__}.partial() missing required argument: 'task_id'")
        known = _init_params(operator_class)
        unknown = sorted(k for k in kwargs if k not in known and k not in _ACCEPTED_AND_IGNORED)
        if unknown:
            raise MappingDefinitionError(
                f"{operator_class.__name__}.partial() got an unexpected keyword argument {unknown[0]!r}"
            )
        self.operator_class = operator_class
        self.kwargs = dict(kwargs)

    def __repr__(self) -> str:
        return f"<OperatorPartial {self.operator_class.__name__} {self.kwargs.get('task_id')!r}>"

    def _validate_names(self, names: list[str], func: str) -> None:
        cls = self.operator_class.__name__
        known = _init_params(self.operator_class)
        for name in names:
            if name in _PLACEMENT_ARGS or (name in self.kwargs and name != "params"):
                raise MappingDefinitionError(f"{cls}.{func}() got an unmappable or already specified argument: {name!r}")
            # params may be mapped: Airflow merges each instance's params into the partial ones.
            if (name in _base_params() and name != "params") or name == "map_index_template":
                raise MappingDefinitionError(
                    f"{cls}.{func}() cannot map {name!r}: it is a task-level argument; pass it to partial()"
                )
            if name not in known:
                raise MappingDefinitionError(f"{cls}.{func}() got an unexpected keyword argument {name!r}")

    def expand(self, **mapped_kwargs: Any) -> XComArg:
        """Map over the values (lists, dicts or XComArgs); returns the task's output."""
        if not mapped_kwargs:
            raise MappingDefinitionError(f"{self.operator_class.__name__}.expand() got no arguments to expand against")
        self._validate_names(list(mapped_kwargs), "expand")
        for name, value in mapped_kwargs.items():
            _check_mappable(value, f"{self.operator_class.__name__}.expand() argument {name!r}")
        task = MappedOperator(operator_class=self.operator_class, partial_kwargs=self.kwargs,
                              expand_input=DictOfListsExpandInput(dict(mapped_kwargs)))
        return XComArg(task)

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> XComArg:
        """Map over a list of dicts (a literal or an XComArg); each dict is one instance's arguments."""
        cls = self.operator_class.__name__
        if isinstance(kwargs, (list, tuple)):
            for i, item in enumerate(kwargs):
                if isinstance(item, (XComArg, _DerivedXComArg)):
                    continue
                if not isinstance(item, dict):
                    raise MappingDefinitionError(
                        f"{cls}.expand_kwargs() needs dicts; item {i} is {type(item).__name__} {_short(item)}"
                    )
                self._validate_names(list(item), "expand_kwargs")
        elif not isinstance(kwargs, (XComArg, _DerivedXComArg)):
            raise MappingDefinitionError(
                f"{cls}.expand_kwargs() got an unexpected type {type(kwargs).__name__!r}; "
                "pass a list of dicts or an XComArg"
            )
        task = MappedOperator(operator_class=self.operator_class, partial_kwargs=self.kwargs,
                              expand_input=ListOfDictsExpandInput(kwargs))
        return XComArg(task)


class _TaskPartial(OperatorPartial):
    """``@task`` function ``.partial(**fn_kwargs)``: mapped arguments go to the function."""

    def __init__(self, decorator: Any, fn_kwargs: dict[str, Any]) -> None:
        self.decorator = decorator
        self.function = decorator.function
        self._signature = inspect.signature(self.function)
        try:
            self._signature.bind_partial(**fn_kwargs)
        except TypeError as exc:
            raise MappingDefinitionError(f"{self.function.__name__}.partial() got bad arguments: {exc}") from None
        self.fn_kwargs = dict(fn_kwargs)
        self.operator_class = decorator.operator_class
        self.kwargs = {}  # operator arguments come from @task(...)/override()

    def _validate_names(self, names: list[str], func: str) -> None:
        fn = self.function.__name__
        takes_any = any(p.kind is p.VAR_KEYWORD for p in self._signature.parameters.values())
        for name in names:
            if name in self.fn_kwargs:
                raise MappingDefinitionError(f"{fn}.{func}() got an unmappable or already specified argument: {name!r}")
            if name not in self._signature.parameters and not takes_any:
                raise MappingDefinitionError(f"{fn}.{func}() got an unexpected keyword argument {name!r}")

    def expand(self, **mapped_kwargs: Any) -> XComArg:
        if not mapped_kwargs:
            raise MappingDefinitionError(f"{self.function.__name__}.expand() got no arguments to expand against")
        self._validate_names(list(mapped_kwargs), "expand")
        for name, value in mapped_kwargs.items():
            _check_mappable(value, f"{self.function.__name__}.expand() argument {name!r}")
        return self._make(DictOfListsExpandInput(dict(mapped_kwargs)))

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> XComArg:
        fn = self.function.__name__
        if isinstance(kwargs, (list, tuple)):
            for i, item in enumerate(kwargs):
                if isinstance(item, dict):
                    self._validate_names(list(item), "expand_kwargs")
                elif not isinstance(item, (XComArg, _DerivedXComArg)):
                    raise MappingDefinitionError(f"{fn}.expand_kwargs() needs dicts; item {i} is {_short(item)}")
        elif not isinstance(kwargs, (XComArg, _DerivedXComArg)):
            raise MappingDefinitionError(
                f"{fn}.expand_kwargs() got an unexpected type {type(kwargs).__name__!r}; "
                "pass a list of dicts or an XComArg"
            )
        return self._make(ListOfDictsExpandInput(kwargs))

    def _make(self, expand_input: ExpandInput) -> XComArg:
        options = dict(self.decorator.kwargs)
        label = options.pop("task_id", None) or self.function.__name__
        dag = options.get("dag") or DagContext.get_current_dag()
        if dag is not None:
            group = options.get("task_group") or TaskGroupContext.get_current(dag)
            label = next_free_id(
                label, lambda full: full in dag.task_dict or full in dag.task_group_dict, group.child_id
            )
        partial_kwargs = {
            "task_id": label, "python_callable": self.function, "op_args": [], "op_kwargs": self.fn_kwargs,
            "multiple_outputs": self.decorator.multiple_outputs, **options,
        }
        task = MappedOperator(operator_class=self.operator_class, partial_kwargs=partial_kwargs,
                              expand_input=expand_input, mapped_into="op_kwargs")
        return XComArg(task)


def task_partial(decorator: Any, fn_kwargs: dict[str, Any]) -> _TaskPartial:
    """What ``@task`` functions' ``.partial(**fn_kwargs)`` returns."""
    return _TaskPartial(decorator, fn_kwargs)


class MappedOperator(BaseOperator):
    """A task expanded into one instance per mapped item when its run reaches it.

    It carries the task-level arguments (retries, pool, trigger rule...) like any task;
    ``operator_class``, ``partial_kwargs`` and ``expand_input`` say how to build the
    concrete operator of one map index (:meth:`unmap`). ``map_index`` is -1 until the
    scheduler expands the task.
    """

    is_mapped = True
    mapped_group = None

    def __init__(self, *, operator_class: type, partial_kwargs: dict[str, Any], expand_input: Any,
                 mapped_into: str | None = None) -> None:
        self.operator_class = operator_class
        self.partial_kwargs = dict(partial_kwargs)
        self.expand_input = expand_input
        self.mapped_into = mapped_into
        self.map_index_template = self.partial_kwargs.pop("map_index_template", None)
        self.template_fields = tuple(getattr(operator_class, "template_fields", ()))
        self.template_ext = tuple(getattr(operator_class, "template_ext", ()))
        self.custom_operator_name = getattr(operator_class, "custom_operator_name", None) or operator_class.__name__
        base = {k: v for k, v in self.partial_kwargs.items() if k in _base_params()}
        super().__init__(**base)
        group = self.task_group
        while group is not None:
            if getattr(group, "is_mapped", False):
                raise MappingDefinitionError(
                    f"task {self.task_id!r} is mapped inside the mapped task group {group.group_id!r}; "
                    "mapping a task inside a mapped task group is not supported"
                )
            group = group.parent_group
        for operator, key in expand_input.iter_references():
            operator._add_downstream_edge(self)
        for arg in iter_xcom_args(self.partial_kwargs):
            arg.operator._add_downstream_edge(self)

    @property
    def task_type(self) -> str:
        return self.operator_class.__name__

    def __repr__(self) -> str:
        return f"<Mapped({self.operator_class.__name__}): {self.task_id}>"

    def execute(self, context: dict[str, Any]) -> Any:
        """One instance by hand (the runner runs :meth:`unmap`'s operator itself); the unexpanded
        -1 instance has no item to run with."""
        if context["ti"].map_index < 0:
            raise UnmappableInputError(
                f"mapped task {self.task_id!r} runs once per map index; it has not been expanded "
                "(run its DAG run, then e.g. `tradewind tasks test ... --map-index 0`)")
        return self.unmap(context).execute(context)

    def unmap(self, context: dict[str, Any]) -> Any:
        """The concrete operator of ``context["ti"].map_index``, with its mapped arguments resolved.

        Values from XCom are passed as data (never rendered as templates, as in Airflow);
        literal values are rendered like any argument.
        """
        from tradewind.definition.templating import LiteralValue

        index = context["ti"].map_index
        where = f"mapped task {self.task_id!r}"
        mapped, from_xcom = self.expand_input.kwargs_at(index, context, where)
        fields = set(self.template_fields)
        kwargs = {k: _freeze_xcom_args(v, context, wrap=k in fields) for k, v in self.partial_kwargs.items()
                  if k not in ("dag", "task_group", "task_id", "default_args")}
        if self.mapped_into:
            inner = {**kwargs.get(self.mapped_into, {}),
                     **{n: (LiteralValue(v) if n in from_xcom else v) for n, v in mapped.items()}}
            kwargs[self.mapped_into] = inner
        else:
            for name, value in mapped.items():
                kwargs[name] = LiteralValue(value) if name in from_xcom and name in fields else value
        if "params" in mapped:
            kwargs["params"] = self._merged_mapped_params(mapped["params"], where, index)
        operator = self.operator_class(task_id=self.label, default_args=self.default_args, **kwargs)
        operator.task_id = self.task_id
        operator._dag = self._dag
        operator.task_group = self.task_group
        operator.upstream_task_ids = set(self.upstream_task_ids)
        operator.downstream_task_ids = set(self.downstream_task_ids)
        operator.map_index_template = self.map_index_template
        operator.params_mapped = "params" in mapped
        return operator

    def _merged_mapped_params(self, value: Any, where: str, index: int) -> dict[str, Any]:
        """The partial params updated with this instance's mapped ``params`` (Airflow's merge)."""
        if not isinstance(value, Mapping):
            raise UnmappableInputError(
                f"{where}: map index {index}: the mapped 'params' must be a dict, got {_short(value)}")
        return {**(self.partial_kwargs.get("params") or {}), **value}


def _freeze_xcom_args(value: Any, context: dict[str, Any], *, wrap: bool) -> Any:
    """A partial argument with its XComArgs pulled now; in a template field (``wrap``) they are
    marked literal so rendering passes them as data, not templates."""
    from tradewind.definition.templating import LiteralValue

    if isinstance(value, (XComArg, _DerivedXComArg)):
        resolved = resolve_xcom_args(value, context)
        return LiteralValue(resolved) if wrap else resolved
    if isinstance(value, dict):
        return {k: _freeze_xcom_args(v, context, wrap=wrap) for k, v in value.items()}
    if isinstance(value, list):
        return [_freeze_xcom_args(v, context, wrap=wrap) for v in value]
    return value


# ------------------------------------------------------------------ mapped task groups
class MappedArgument:
    """Inside a mapped ``@task_group`` function: the group's argument ``name`` for the running
    instance's map index (resolved when a task of the group runs)."""

    def __init__(self, expand_input: Any, name: str) -> None:
        self.input = expand_input
        self.name = name

    def __repr__(self) -> str:
        return f"MappedArgument({self.name!r})"

    def iter_references(self) -> Iterator[tuple[Any, str]]:
        yield from self.input.iter_references()

    def resolve(self, context: dict[str, Any]) -> Any:
        index = context["ti"].map_index
        kwargs, _ = self.input.kwargs_at(index, context, f"mapped task group argument {self.name!r}")
        if self.name not in kwargs:
            raise UnmappableInputError(f"mapped task group input item {index} has no argument {self.name!r}")
        return kwargs[self.name]


def expand_task_group(factory: Any, fixed: dict[str, Any], expand_input: ExpandInput) -> Any:
    """Build the group of a ``@task_group`` function mapped over ``expand_input``.

    The function runs once (at parse time) with :class:`MappedArgument` placeholders; every
    task it creates is marked mapped with the group's input.
    """
    from tradewind.definition.taskgroup import TaskGroup

    function = factory.function
    signature = inspect.signature(function)
    names = list(expand_input.value) if isinstance(expand_input, DictOfListsExpandInput) else [
        n for n in signature.parameters if n not in fixed]
    for name in names:
        if name in fixed:
            raise MappingDefinitionError(
                f"{function.__name__}.expand() got an unmappable or already specified argument: {name!r}")
        if name not in signature.parameters:
            raise MappingDefinitionError(f"{function.__name__}.expand() got an unexpected keyword argument {name!r}")
    if isinstance(expand_input, DictOfListsExpandInput):
        for name, value in expand_input.value.items():
            _check_mappable(value, f"{function.__name__}.expand() argument {name!r}")
    options = dict(factory.tg_kwargs)
    group_id = options.pop("group_id", None) or function.__name__
    options.setdefault("tooltip", (function.__doc__ or "").strip())
    options.setdefault("add_suffix_on_collision", True)
    group = TaskGroup(group_id, **options)
    outer = group.parent_group
    while outer is not None:
        if getattr(outer, "is_mapped", False):
            raise MappingDefinitionError(
                f"task group {group.group_id!r} is mapped inside the mapped task group {outer.group_id!r}; "
                "nested mapped task groups are not supported")
        outer = outer.parent_group
    group.is_mapped = True
    group.expand_input = expand_input
    with group:
        result = function(**fixed, **{name: MappedArgument(expand_input, name) for name in names})
    for task in group.iter_tasks():
        if getattr(task, "is_mapped", False) and getattr(task, "mapped_group", None) is None:
            raise MappingDefinitionError(
                f"task {task.task_id!r} is mapped inside the mapped task group {group.group_id!r}; "
                "mapping a task inside a mapped task group is not supported")
        task.is_mapped = True
        task.expand_input = expand_input
        task.mapped_group = group
    roots = group.roots
    for operator, _key in expand_input.iter_references():
        for root in roots:
            operator._add_downstream_edge(root)
    return group if result is None else result


class TaskGroupPartial:
    """``@task_group`` function ``.partial(**fixed)``: ``expand``/``expand_kwargs`` build the group."""

    def __init__(self, factory: Any, fixed: dict[str, Any]) -> None:
        self.factory = factory
        self.fixed = dict(fixed)

    def expand(self, **mapped_kwargs: Any) -> Any:
        if not mapped_kwargs:
            raise MappingDefinitionError(
                f"{self.factory.function.__name__}.expand() got no arguments to expand against")
        return expand_task_group(self.factory, self.fixed, DictOfListsExpandInput(dict(mapped_kwargs)))

    def expand_kwargs(self, kwargs: Any) -> Any:
        if not isinstance(kwargs, (list, tuple, XComArg, _DerivedXComArg)):
            raise MappingDefinitionError(
                f"{self.factory.function.__name__}.expand_kwargs() got an unexpected type "
                f"{type(kwargs).__name__!r}; pass a list of dicts or an XComArg")
        return expand_task_group(self.factory, self.fixed, ListOfDictsExpandInput(kwargs))


# ------------------------------------------------------------------ run time
def unmap_for_try(task: Any, context: dict[str, Any]) -> Any:
    """The operator a try runs: a mapped task's concrete operator for the try's map index
    (``context["task"]`` and ``context["ti"].task`` are updated); other tasks unchanged."""
    if not isinstance(task, MappedOperator) or context["ti"].map_index < 0:
        return task
    operator = task.unmap(context)
    context["task"] = operator
    if hasattr(context["ti"], "task"):
        context["ti"].task = operator
    if getattr(operator, "params_mapped", False):
        # Mapped params: the context's params again from the DAG's, this instance's and the conf
        # (as Airflow does after unmapping).
        from tradewind.definition.context import _merged_params

        conf = getattr(context.get("dag_run"), "conf", None)
        context["params"] = _merged_params(context.get("dag"), operator, conf if isinstance(conf, dict) else None)
    return operator


def render_map_index(task: Any, context: dict[str, Any]) -> str | None:
    """The instance's label from ``map_index_template`` (rendered after the task ran, so it can
    use values the task put in the context); None when the task has no template."""
    template = getattr(task, "map_index_template", None)
    if not template or context["ti"].map_index < 0:
        return None
    from tradewind.definition.templating import make_jinja_env

    env = make_jinja_env(getattr(task, "dag", None))
    return str(env.from_string(template).render(**context))
