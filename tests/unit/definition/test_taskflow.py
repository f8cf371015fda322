"""TaskFlow: @task wiring through XComArgs, multiple_outputs, override, ids, variants."""

from __future__ import annotations

from datetime import datetime

import pytest

from deftestkit import FakeTI, context_for
from tradewind import DAG, EmptyOperator, XComArg, task
from tradewind.definition.xcom_arg import resolve_xcom_args


def run(op, ti: FakeTI):
    """What the runner does for one task: render (resolving XComArgs), then execute."""
    ctx = context_for(op, ti)
    op.render_template_fields(ctx)
    return op.execute(ctx)


def test_calling_task_returns_xcomarg_and_wires_upstreams() -> None:
    with DAG("tf", start_date=datetime(2024, 1, 1)) as d:
        @task
        def extract() -> list:
            return [1, 2, 3]

        @task(task_id="summed", retries=2)
        def total(values, extra=0):
            return sum(values) + extra

        data = extract()
        result = total(data, extra={"nested": [data]})
    assert isinstance(data, XComArg) and data.operator.task_id == "extract"
    op = d.get_task("summed")
    assert op.retries == 2 and op.operator_name == "@task"
    assert op.upstream_task_ids == {"extract"}
    assert result.operator is op


def test_xcom_args_are_resolved_at_run_time_including_nested() -> None:
    with DAG("tfrun"):
        @task
        def produce():
            return 5

        @task
        def consume(x, others, mapping):
            return x + sum(others) + mapping["k"]

        p = produce()
        c = consume(p, [p, p], {"k": p})
    ti = FakeTI(xcoms={("produce", "return_value"): 5})
    assert run(c.operator, ti) == 20
    # the rendered op_kwargs now hold values, not references
    assert c.operator.op_kwargs == {}
    assert c.operator.op_args == [5, [5, 5], {"k": 5}]


def test_duplicate_calls_get_numbered_ids() -> None:
    with DAG("dupcalls") as d:
        @task
        def step():
            return None

        step()
        step()
        step()
    assert d.task_ids == ["step", "step__1", "step__2"]


def test_override_changes_task_arguments() -> None:
    with DAG("override") as d:
        @task(retries=1)
        def work():
            return 1

        work.override(task_id="custom", retries=4, pool="p")()
        work()
    custom = d.get_task("custom")
    assert (custom.retries, custom.pool) == (4, "p")
    assert d.get_task("work").retries == 1


def test_multiple_outputs_keys_are_separate_references() -> None:
    with DAG("multi"):
        @task(multiple_outputs=True)
        def pair():
            return {"a": 1, "b": 2}

        @task
        def use(a, b):
            return a * 10 + b

        out = pair()
        total = use(out["a"], out["b"])
    assert out.operator.multiple_outputs is True
    assert run(out.operator, FakeTI()) == {"a": 1, "b": 2}
    assert total.operator.upstream_task_ids == {"pair"}
    # The runner pushes each key of the dict as its own XCom; the references pull those keys.
    ti = FakeTI(xcoms={("pair", "a"): 1, ("pair", "b"): 2, ("pair", "return_value"): {"a": 1, "b": 2}})
    assert run(total.operator, ti) == 12


def test_multiple_outputs_inferred_from_dict_annotation() -> None:
    with DAG("infer"):
        @task
        def typed() -> dict[str, int]:
            return {"x": 1}

        @task
        def untyped():
            return {"x": 1}

        t = typed()
        u = untyped()
    assert t.operator.multiple_outputs is True
    assert u.operator.multiple_outputs is False


def test_context_values_are_passed_by_parameter_name() -> None:
    with DAG("ctxparams", params={"n": 3}):
        @task
        def uses_context(x, ti=None, params=None):
            return (x, ti.task_id, params["n"])

        @task
        def uses_kwargs(**context):
            return sorted(k for k in ("ti", "params", "dag") if k in context)

        a = uses_context(1)
        b = uses_kwargs()
    assert run(a.operator, FakeTI()) == (1, "uses_context", 3)
    assert run(b.operator, FakeTI()) == ["dag", "params", "ti"]


def test_bad_call_arguments_fail_at_definition_time() -> None:
    with DAG("badcall"):
        @task
        def one(x):
            return x

        with pytest.raises(TypeError, match="one\\(\\) called with bad arguments"):
            one(1, 2)


def test_xcomarg_shift_and_getitem() -> None:
    with DAG("xshift") as d:
        @task
        def a():
            return 1

        b = EmptyOperator(task_id="b")
        a() >> b
        ref = XComArg(b)["custom"]
    assert d.get_task("a").downstream_task_ids == {"b"}
    assert ref.key == "custom"
    assert str(ref) == "{{ task_instance.xcom_pull(task_ids='b', dag_id='xshift', key='custom') }}"
    with pytest.raises(TypeError):
        list(ref)


def test_classic_operator_with_xcomarg_in_template_field_gets_upstream() -> None:
    from tradewind import PythonOperator

    with DAG("classic"):
        first = PythonOperator(task_id="first", python_callable=lambda: 2)
        second = PythonOperator(task_id="second", python_callable=lambda v: v * 2,
                                op_kwargs={"v": first.output})
    assert second.upstream_task_ids == {"first"}
    assert run(second, FakeTI(xcoms={("first", "return_value"): 2})) == 4


def test_resolve_xcom_args_leaves_plain_values() -> None:
    assert resolve_xcom_args({"a": [1, (2, "x")]}, {}) == {"a": [1, (2, "x")]}


def test_task_bash_runs_the_returned_command() -> None:
    with DAG("tbash"):
        @task.bash
        def greet(name):
            return f"echo hello {name} {{{{ ti.task_id }}}}"

        out = greet("world")
    op = out.operator
    assert op.operator_name == "@task.bash"
    ctx = context_for(op)
    op.render_template_fields(ctx)
    assert op.execute(ctx) == "hello world greet"


def test_task_bash_requires_a_string() -> None:
    with DAG("tbashbad"):
        @task.bash
        def nothing():
            return ""

        op = nothing().operator
    with pytest.raises(TypeError, match="non-empty string"):
        op.execute(context_for(op))


def test_task_branch_and_short_circuit_decorators() -> None:
    with DAG("tbranch") as d:
        @task.branch
        def choose():
            return "left"

        @task.short_circuit
        def gate():
            return False

        left, right, after = (EmptyOperator(task_id=i) for i in ("left", "right", "after"))
        choose() >> [left, right]
        gate() >> after
    ti = FakeTI()
    run(d.get_task("choose"), ti)
    run(d.get_task("gate"), ti)
    assert ti.skipped == ["right", "after"]


def test_task_python_alias() -> None:
    with DAG("alias") as d:
        @task.python(task_id="aliased")
        def f():
            return 1

        f()
    assert d.has_task("aliased")
