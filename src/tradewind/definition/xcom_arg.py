"""``XComArg``: a reference to a value another task will push, usable as a task argument.

Calling a ``@task`` function returns an ``XComArg``; passing it (also nested in
lists, tuples and dicts) to another task makes the producer an upstream of the
consumer, and at run time :func:`resolve_xcom_args` swaps it for the pulled value.
``str(xcom_arg)`` is a Jinja expression pulling the same value, so it can be
embedded in templated strings as in Airflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tradewind.definition.helpers import DependencyMixin

RETURN_KEY = "return_value"
#: ``zip()`` without a ``fillvalue`` (None is a valid fill value).
_NO_FILL: Any = object()


class XComArg(DependencyMixin):
    """The XCom ``key`` (default ``"return_value"``) of ``operator``."""

    def __init__(self, operator: Any, key: str = RETURN_KEY) -> None:
        self.operator = operator
        self.key = key

    def __repr__(self) -> str:
        return f"XComArg({self.operator.task_id!r}, key={self.key!r})"

    def __str__(self) -> str:
        return (
            "{{ task_instance.xcom_pull(task_ids=%r, dag_id=%r, key=%r) }}"
            % (self.operator.task_id, getattr(self.operator, "dag_id", None), self.key)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, XComArg):
            return NotImplemented
        return self.operator is other.operator and self.key == other.key

    def __hash__(self) -> int:
        return hash((id(self.operator), self.key))

    def __getitem__(self, key: str) -> "XComArg":
        """The XCom pushed under ``key`` (one item of a ``multiple_outputs`` result)."""
        if not isinstance(key, str):
            raise TypeError(f"XComArg keys are XCom keys (strings), got {key!r}")
        return XComArg(self.operator, key)

    def __iter__(self) -> Iterator[Any]:
        # Without this, Python would try __getitem__(0), (1), ... forever.
        raise TypeError("an XComArg is a reference to a future value and cannot be iterated at definition time")

    def __bool__(self) -> bool:
        return True

    # A classic operator's `.partial(...).expand(...)` returns an XComArg here where Airflow
    # returns the MappedOperator itself; DAG files then use the operator's attributes on it
    # (`mapped.output`, `mapped.task_id`), which these give.
    @property
    def output(self) -> "XComArg":
        """The task's ``return_value`` XCom (Airflow's ``operator.output``)."""
        return XComArg(self.operator)

    @property
    def task_id(self) -> str:
        return str(self.operator.task_id)

    @property
    def roots(self) -> list[Any]:
        return [self.operator]

    @property
    def leaves(self) -> list[Any]:
        return [self.operator]

    # Setup/teardown on a TaskFlow result acts on its task (Airflow): `create().as_setup()`,
    # `with delete().as_teardown(setups=create()):`.
    def as_setup(self) -> "XComArg":
        self.operator.as_setup()
        return self

    def as_teardown(self, *, setups: Any = None, on_failure_fail_dagrun: bool | None = None) -> "XComArg":
        self.operator.as_teardown(setups=setups, on_failure_fail_dagrun=on_failure_fail_dagrun)
        return self

    def __enter__(self) -> "XComArg":
        self.operator.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.operator.__exit__(*exc_info)

    def iter_references(self) -> Iterator[tuple[Any, str]]:
        yield self.operator, self.key

    def resolve(self, context: dict[str, Any]) -> Any:
        """Pull the referenced value through ``context["ti"]``.

        Between two tasks of the same mapped task group, the value is the one of the
        instance with the same map index (Airflow); otherwise a mapped producer gives the
        list of all its instances' values.
        """
        ti = context["ti"]
        group = getattr(self.operator, "mapped_group", None)
        if group is not None and getattr(context.get("task"), "mapped_group", None) is group:
            return ti.xcom_pull(task_ids=self.operator.task_id, key=self.key, map_indexes=ti.map_index)
        return ti.xcom_pull(task_ids=self.operator.task_id, key=self.key)

    # -- dynamic task mapping (tradewind.definition.mapped) -------------------------------------
    def map(self, fn: Any) -> Any:
        """The items of this value with ``fn`` applied to each, when a consumer uses them."""
        from tradewind.definition.mapped import MapXComArg

        return MapXComArg(self, fn)

    def zip(self, *others: Any, fillvalue: Any = _NO_FILL) -> Any:
        """Tuples of the n-th items of this value and ``others`` (shortest, or longest with ``fillvalue``)."""
        from tradewind.definition.mapped import _NOTHING, ZipXComArg

        return ZipXComArg([self, *others], fillvalue=_NOTHING if fillvalue is _NO_FILL else fillvalue)

    def concat(self, *others: Any) -> Any:
        """The items of this value followed by those of ``others``."""
        from tradewind.definition.mapped import ConcatXComArg

        return ConcatXComArg([self, *others])


def _is_resolvable(value: Any) -> bool:
    return callable(getattr(value, "resolve", None)) and hasattr(value, "iter_references")


def resolve_xcom_args(value: Any, context: dict[str, Any]) -> Any:
    """Return ``value`` with every ``XComArg`` (and ``DagParam``) replaced by its run-time value.

    Recurses into lists, tuples, sets and dict values; other objects are returned as they are.
    """
    if isinstance(value, XComArg) or _is_resolvable(value):
        return value.resolve(context)
    if isinstance(value, list):
        return [resolve_xcom_args(v, context) for v in value]
    if isinstance(value, tuple):
        items = [resolve_xcom_args(v, context) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, (set, frozenset)):
        return type(value)(resolve_xcom_args(v, context) for v in value)
    if isinstance(value, dict):
        return {k: resolve_xcom_args(v, context) for k, v in value.items()}
    return value


def contains_resolvable(value: Any) -> bool:
    """True if ``value`` holds an ``XComArg`` or ``DagParam`` anywhere in it."""
    if isinstance(value, XComArg) or _is_resolvable(value):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(contains_resolvable(v) for v in value)
    if isinstance(value, dict):
        return any(contains_resolvable(v) for v in value.values())
    return False


def iter_xcom_args(value: Any) -> Iterator[XComArg]:
    """Every ``XComArg`` nested in ``value`` (lists, tuples, sets, dict values)."""
    if isinstance(value, XComArg):
        yield value
    elif _is_resolvable(value):  # derived values (xcom_arg.map/zip/concat), mapped group arguments
        for operator, key in value.iter_references():
            yield XComArg(operator, key)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from iter_xcom_args(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_xcom_args(item)
