"""Definition-layer gaps found by the conformance corpus: Airflow's UI-only Param keywords (and
mixed-type keys in them), a classic operator's ``expand()`` result used like Airflow's
MappedOperator (``.output``, ``.task_id``)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tradewind import DAG, Param
from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.params import InvalidParamsError, params_from_serialized, resolve_run_params
from tradewind.definition.xcom_arg import XComArg
from tradewind.parse.snapshot import serialize_dag


def _ui_params() -> dict[str, Param]:
    """The keywords Airflow's trigger form reads, none of which changes validation."""
    return {
        "pick": Param(3, type=["null", "integer"], enum=[*range(1, 10), None], minimum=1,
                      values_display={1: "one", 3: "three", None: "nothing"}, section="Choices",
                      title="Pick one", description_md="**bold**"),
        "day": Param("2024-05-01", type="string", format="date", examples=["2024-05-01"]),
        "at": Param("12:30:00", type="string", format="time"),
        "text": Param("a\nb", type="string", format="multiline"),
        "fixed": Param("x", type="string", const="x"),
        "hidden": Param("h", type="string", const="h", description="hidden in the form"),
    }


def test_ui_keywords_and_mixed_type_keys_parse_serialise_and_validate() -> None:
    with DAG("ui_params", start_date=datetime(2024, 1, 1), schedule=None, params=_ui_params()) as dag:
        pass
    dag.validate()
    serialized = json.loads(json.dumps(serialize_dag(dag)))["params"]
    params = params_from_serialized(serialized)
    display = params.get_param("pick").schema["values_display"]  # display only: keys become strings
    assert display["1"] == "one" and display["3"] == "three" and "nothing" in display.values()
    assert resolve_run_params(serialized, {"pick": None}, dag_id="ui_params")["pick"] is None
    assert resolve_run_params(serialized, {"pick": 9}, dag_id="ui_params")["pick"] == 9
    with pytest.raises(InvalidParamsError, match="pick"):
        resolve_run_params(serialized, {"pick": 12}, dag_id="ui_params")
    with pytest.raises(InvalidParamsError, match="fixed"):
        resolve_run_params(serialized, {"fixed": "y"}, dag_id="ui_params")
    with pytest.raises(InvalidParamsError, match="day"):
        resolve_run_params(serialized, {"day": "2024-13-01"}, dag_id="ui_params")


class _AddOne(BaseOperator):
    def __init__(self, value: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.value = value


class _Sum(BaseOperator):
    template_fields = ("values",)

    def __init__(self, values: object, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.values = values


def test_classic_expand_result_has_output_and_task_id() -> None:
    with DAG("mapped_output", start_date=datetime(2024, 1, 1), schedule=None) as dag:
        mapped = _AddOne.partial(task_id="add_one").expand(value=[1, 2, 3])
        total = _Sum(task_id="sum_it", values=mapped.output)
    assert isinstance(mapped.output, XComArg) and mapped.output.key == "return_value"
    assert mapped.task_id == "add_one"
    assert total.upstream_task_ids == {"add_one"}
    assert dag.task_dict["add_one"] is mapped.operator
