"""Dynamic task mapping, authoring side: partial/expand validation (import errors naming the
argument), the expand input spec in the snapshot, and building one map index's operator."""

from __future__ import annotations

from datetime import datetime

import pytest

from tradewind import DAG, BashOperator, PythonOperator, task, task_group
from tradewind.definition.mapped import (
    MappedOperator,
    MappingDefinitionError,
    UnmappableInputError,
    spec_length,
    unmap_for_try,
)
from tradewind.parse.snapshot import DagSnapshot, serialize_dag

START = datetime(2024, 1, 1)


class FakeTI:
    """The part of the runtime task instance mapping uses: map_index and xcom_pull."""

    def __init__(self, map_index: int, xcoms: dict | None = None) -> None:
        self.map_index = map_index
        self.xcoms = xcoms or {}

    def xcom_pull(self, task_ids=None, key="return_value", map_indexes=None, **_):
        value = self.xcoms[task_ids]
        return value if map_indexes is None else value[map_indexes]


def tasks_of(dag) -> dict:
    return {t["task_id"]: t for t in serialize_dag(dag)["tasks"]}


def test_classic_operator_partial_expand_is_one_mapped_task():
    with DAG("d", start_date=START, schedule=None) as dag:
        out = BashOperator.partial(task_id="echo", retries=2).expand(bash_command=["echo 1", "echo 2"])
    task = dag.task_dict["echo"]
    assert isinstance(task, MappedOperator) and out.operator is task
    assert task.retries == 2 and task.operator_name == "BashOperator"
    snap = tasks_of(dag)["echo"]
    assert snap["operator"] == "BashOperator"
    assert snap["extra"]["is_mapped"] is True
    assert snap["extra"]["expand_input"] == {"kind": "product", "args": {"bash_command": {"literal": 2}}}
    assert snap["extra"]["operator_class"].endswith("BashOperator")


def test_taskflow_expand_over_an_upstream_output_wires_the_edge():
    with DAG("d", start_date=START, schedule=None) as dag:
        @task
        def make():
            return [1, 2]

        @task
        def add(x, y):
            return x + y

        @task
        def total(values):
            return sum(values)

        total(add.partial(y=1).expand(x=make()))
    tasks = tasks_of(dag)
    assert tasks["add"]["upstream"] == ["make"] and tasks["total"]["upstream"] == ["add"]
    assert tasks["add"]["extra"]["expand_input"]["args"]["x"] == {"xcom": "make", "key": "return_value"}
    assert "is_mapped" not in tasks["total"]["extra"]


def test_map_zip_concat_specs_and_lengths():
    with DAG("d", start_date=START, schedule=None) as dag:
        @task
        def a():
            return [1, 2, 3]

        @task
        def b():
            return ["x", "y"]

        @task
        def use(v):
            return v

        first, second = a(), b()
        use.override(task_id="mapped")(first.map(lambda v: v * 2))
        use.expand(v=first.map(str))
        use.expand(v=first.zip(second))
        use.expand(v=first.zip(second, fillvalue=None))
        use.expand(v=first.concat(second))
    tasks = tasks_of(dag)
    values = {"a": [1, 2, 3], "b": ["x", "y"]}
    lengths = [spec_length(tasks[t]["extra"]["expand_input"], lambda tid, key: values[tid], t)
               for t in ("use", "use__1", "use__2", "use__3")]
    assert lengths == [3, 2, 3, 5]
    assert sorted(tasks["use__3"]["upstream"]) == ["a", "b"]


def test_spec_length_of_a_product_and_of_a_bad_value():
    spec = {"kind": "product", "args": {"a": {"literal": 2}, "b": {"xcom": "t", "key": "return_value"}}}
    assert spec_length(spec, lambda tid, key: [1, 2, 3], "task") == 6
    with pytest.raises(UnmappableInputError, match=r"argument 'b' \(from 't'\): can only map over a list or a dict, "
                                                    r"got str 'abc'"):
        spec_length(spec, lambda tid, key: "abc", "task")


@pytest.mark.parametrize(("build", "message"), [
    (lambda: BashOperator.partial(task_id="t").expand(bash_command=5),
     "unexpected type 'int'"),
    (lambda: BashOperator.partial(task_id="t").expand(bash_command="echo"),
     "unexpected type 'str'"),
    (lambda: BashOperator.partial(task_id="t").expand(nope=[1]),
     "unexpected keyword argument 'nope'"),
    (lambda: BashOperator.partial(task_id="t", bash_command="x").expand(bash_command=["a"]),
     "already specified argument: 'bash_command'"),
    (lambda: BashOperator.partial(task_id="t").expand(task_id=["a"]),
     "already specified argument: 'task_id'"),
    (lambda: BashOperator.partial(task_id="t").expand(retries=[1, 2]),
     "cannot map 'retries'"),
    (lambda: BashOperator.partial(bash_command="x").expand(env=[{}]),
     "missing required argument: 'task_id'"),
    (lambda: BashOperator.partial(task_id="t", bogus=1),
     "unexpected keyword argument 'bogus'"),
    (lambda: BashOperator.partial(task_id="t").expand(),
     "no arguments to expand against"),
    (lambda: BashOperator.partial(task_id="t").expand_kwargs([{"bash_command": "a"}, 3]),
     "item 1 is int"),
    (lambda: PythonOperator.partial(task_id="t", python_callable=print).expand_kwargs(7),
     "unexpected type 'int'"),
])
def test_bad_partial_expand_calls_name_the_argument(build, message):
    with DAG("d", start_date=START, schedule=None):
        with pytest.raises(MappingDefinitionError, match=message):
            build()


def test_taskflow_expand_validates_function_arguments():
    with DAG("d", start_date=START, schedule=None):
        @task
        def add(x, y):
            return x + y

        with pytest.raises(MappingDefinitionError, match="unexpected keyword argument 'z'"):
            add.expand(z=[1])
        with pytest.raises(MappingDefinitionError, match="already specified argument: 'y'"):
            add.partial(y=1).expand(y=[2])


def test_bad_mapping_in_a_dag_file_is_an_import_error_naming_the_argument(tmp_path):
    from tradewind.parse.dagbag import parse_file

    path = tmp_path / "bad_map_dag.py"
    path.write_text(
        "from datetime import datetime\n"
        "from tradewind import DAG, BashOperator\n"
        "with DAG('bad_map', start_date=datetime(2024, 1, 1), schedule=None):\n"
        "    BashOperator.partial(task_id='t').expand(bash_command=3)\n"
    )
    result = parse_file(path, timeout=30, sys_path=[str(tmp_path)])
    assert result.dags == []
    assert len(result.errors) == 1 and "bash_command" in result.errors[0].message


def test_unmap_builds_the_operator_of_one_map_index():
    with DAG("d", start_date=START, schedule=None, default_args={"env": {"A": "1"}}) as dag:
        @task
        def make():
            return ["echo from xcom {{ ds }}", "second"]

        BashOperator.partial(task_id="echo", cwd="/tmp").expand(bash_command=make())
        BashOperator.partial(task_id="lit").expand(bash_command=["a", "b"], env=[{"X": "1"}, {"X": "2"}])
    ti = FakeTI(0, {"make": ["echo from xcom {{ ds }}", "second"]})
    context = {"ti": ti, "task": dag.task_dict["echo"]}
    op = unmap_for_try(dag.task_dict["echo"], context)
    assert type(op) is BashOperator and op.task_id == "echo" and op.cwd == "/tmp" and op.env == {"A": "1"}
    assert context["task"] is op and op.dag is dag and op.upstream_task_ids == {"make"}
    rendered = op.render_template_fields({"ds": "2024-01-01", "ti": ti})
    assert op.bash_command == "echo from xcom {{ ds }}"  # a value from XCom is data, not a template
    assert rendered["bash_command"] == "echo from xcom {{ ds }}"
    # Two literal arguments: the cross product, the last argument varying fastest.
    combos = []
    for index in range(4):
        lit = unmap_for_try(dag.task_dict["lit"], {"ti": FakeTI(index)})
        combos.append((lit.bash_command, lit.env))
    assert combos == [("a", {"X": "1"}), ("a", {"X": "2"}), ("b", {"X": "1"}), ("b", {"X": "2"})]
    with pytest.raises(UnmappableInputError, match="map index 4 is out of range"):
        unmap_for_try(dag.task_dict["lit"], {"ti": FakeTI(4)})


def test_taskflow_unmap_puts_mapped_values_into_the_function_arguments():
    with DAG("d", start_date=START, schedule=None) as dag:
        @task
        def add(x, y):
            return x + y

        add.partial(y=100).expand_kwargs([{"x": 1}, {"x": 2}])
    op = unmap_for_try(dag.task_dict["add"], {"ti": FakeTI(1)})
    assert op.op_kwargs == {"y": 100, "x": 2}
    assert op.execute({"ti": FakeTI(1)}) == 102


def test_mapped_task_group_maps_every_task_and_pulls_same_index_values():
    with DAG("d", start_date=START, schedule=None) as dag:
        @task
        def make():
            return [1, 2]

        @task
        def one(v):
            return v * 10

        @task
        def two(w):
            return w + 1

        @task_group
        def grp(v):
            return two(one(v))

        grp.expand(v=make())
    tasks = tasks_of(dag)
    for tid in ("grp.one", "grp.two"):
        assert tasks[tid]["extra"]["mapped_group"] == "grp"
        assert tasks[tid]["extra"]["expand_input"]["args"]["v"] == {"xcom": "make", "key": "return_value"}
    assert tasks["grp.one"]["upstream"] == ["make"]
    snap = DagSnapshot.from_dict(serialize_dag(dag))
    assert snap.mapped_task_ids == {"grp.one", "grp.two"}
    # At run time, two[1] receives one[1]'s value, not the list.
    two_task = dag.task_dict["grp.two"]
    ti = FakeTI(1, {"grp.one": [10, 20], "make": [1, 2]})
    two_task.render_template_fields({"ti": ti, "task": two_task})
    assert two_task.op_args == [20]


def test_a_mapped_task_inside_a_mapped_group_is_refused():
    with DAG("d", start_date=START, schedule=None):
        @task
        def one(v):
            return v

        @task_group
        def grp(v):
            one.expand(v=[1, 2])

        with pytest.raises(MappingDefinitionError, match="inside the mapped task group 'grp'"):
            grp.expand(v=[1])
