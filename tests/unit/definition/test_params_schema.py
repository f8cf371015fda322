"""Param JSON-schema validation: per keyword, required params, parse-time checks, snapshot round trip."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tradewind import DAG, EmptyOperator, Param
from tradewind.definition.exceptions import DagDefinitionError, ParamValidationError
from tradewind.definition.params import (
    InvalidParamsError,
    ParamsDict,
    params_from_serialized,
    resolve_run_params,
)
from tradewind.parse.dagbag import collect_file
from tradewind.parse.snapshot import DagSnapshot, serialize_dag

CASES = [
    # (schema, valid value, invalid value, words expected in the reason)
    ({"type": "integer"}, 3, "3", "not of type 'integer'"),
    ({"type": "string"}, "x", 5, "not of type 'string'"),
    ({"type": "boolean"}, False, "false", "not of type 'boolean'"),
    ({"type": "number"}, 0.5, None, "not of type 'number'"),
    ({"type": "array"}, [1], {"a": 1}, "not of type 'array'"),
    ({"type": "object"}, {"a": 1}, [1], "not of type 'object'"),
    ({"type": ["null", "string"]}, None, 7, "not of type 'null', 'string'"),
    ({"enum": ["a", "b"]}, "b", "c", "is not one of ['a', 'b']"),
    ({"const": 42}, 42, 41, "42 was expected"),
    ({"type": "integer", "minimum": 1}, 1, 0, "less than the minimum of 1"),
    ({"type": "integer", "maximum": 10}, 10, 11, "greater than the maximum of 10"),
    ({"type": "number", "exclusiveMinimum": 0}, 0.1, 0, "less than or equal to the minimum of 0"),
    ({"type": "string", "minLength": 2}, "ab", "a", "is too short"),
    ({"type": "string", "maxLength": 2}, "ab", "abc", "is too long"),
    ({"type": "string", "pattern": "^[a-z]+$"}, "abc", "ab1", "does not match '^[a-z]+$'"),
    ({"type": "string", "format": "date"}, "2024-02-29", "2023-02-29", "is not a 'date'"),
    ({"type": "string", "format": "date-time"}, "2024-01-01T10:00:00+02:00", "2024-01-01 10:00", "is not a 'date-time'"),
    ({"type": "string", "format": "date-time"}, "2024-01-01T10:00:00Z", "2024-13-01T10:00:00Z", "is not a 'date-time'"),
    ({"type": "string", "format": "email"}, "a@example.com", "no-at-sign", "is not a 'email'"),
    ({"type": "array", "items": {"type": "integer"}}, [1, 2], [1, "x"], "(at 1)"),
    ({"type": "array", "minItems": 1}, [0], [], "should be non-empty"),
    ({"type": "array", "uniqueItems": True}, [1, 2], [1, 1], "non-unique"),
    ({"type": "object", "required": ["k"]}, {"k": 1}, {}, "'k' is a required property"),
    ({"type": "integer", "multipleOf": 5}, 10, 12, "not a multiple of 5"),
]


@pytest.mark.parametrize(("schema", "good", "bad", "reason"), CASES, ids=[json.dumps(c[0]) for c in CASES])
def test_resolve_checks_each_schema_keyword(schema: dict, good: object, bad: object, reason: str) -> None:
    param = Param(good, **schema)
    assert param.resolve() == good
    assert param.resolve(good) == good
    with pytest.raises(ParamValidationError) as info:
        param.resolve(bad)
    assert reason in str(info.value)
    assert param.resolve(bad, suppress_exception=True) is None


def test_examples_and_description_are_annotations_not_constraints() -> None:
    param = Param("z", description="a letter", type="string", examples=["a", "b"], title="Letter")
    assert param.resolve() == "z"
    assert param.schema == {"type": "string", "examples": ["a", "b"], "title": "Letter"}


def test_required_and_nullable_params() -> None:
    required = Param(type="string")
    assert required.is_required
    with pytest.raises(ParamValidationError, match="no default"):
        required.resolve()
    assert required.resolve("given") == "given"
    nullable = Param(type=["null", "string"])
    assert not nullable.is_required and nullable.resolve() is None
    assert not Param(None, type=["null", "integer"]).is_required
    assert not Param(0, type="integer").is_required


def test_invalid_schema_is_reported() -> None:
    with pytest.raises(ParamValidationError, match="invalid schema"):
        Param(1, type="integr").check_schema()


def test_params_dict_validate_names_the_bad_param() -> None:
    pd = ParamsDict({"ok": Param(1, type="integer"), "bad": Param("x", type="integer")})
    with pytest.raises(ParamValidationError, match="Invalid input for param bad: 'x' is not of type 'integer'"):
        pd.validate()
    with pytest.raises(ParamValidationError, match=r"param 'bad': default 'x' does not fit its schema"):
        pd.check_defaults()
    ParamsDict({"n": Param(2, type="integer", minimum=1), "r": Param(type="string")}).check_defaults()


# ---------------------------------------------------------------------- DAG parse time
def test_dag_validate_rejects_a_default_outside_its_schema() -> None:
    with DAG("bad_default", schedule=None, start_date=datetime(2024, 1, 1),
             params={"rows": Param(0, type="integer", minimum=1)}) as dag:
        EmptyOperator(task_id="t")
    with pytest.raises(DagDefinitionError, match=r"param 'rows'.*less than the minimum of 1"):
        dag.validate()


def test_dag_validate_rejects_a_bad_task_param_default() -> None:
    with DAG("bad_task_param", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        EmptyOperator(task_id="t", params={"x": Param("no", type="integer")})
    with pytest.raises(ParamValidationError, match=r"task 't': param 'x'"):
        dag.validate()


def test_required_params_need_schedule_none() -> None:
    with DAG("sched_required", schedule="@daily", start_date=datetime(2024, 1, 1),
             params={"who": Param(type="string")}) as dag:
        EmptyOperator(task_id="t")
    with pytest.raises(DagDefinitionError, match=r"\['who'\] have no default.*schedule must be None"):
        dag.validate()
    with DAG("manual_required", schedule=None, start_date=datetime(2024, 1, 1),
             params={"who": Param(type="string"), "opt": Param(type=["null", "string"])}) as ok:
        EmptyOperator(task_id="t")
    ok.validate()
    with DAG("sched_nullable", schedule="@daily", start_date=datetime(2024, 1, 1),
             params={"opt": Param(type=["null", "string"])}) as nullable:
        EmptyOperator(task_id="t")
    nullable.validate()


def test_parser_reports_import_error_naming_dag_and_param(tmp_path: Path) -> None:
    path = tmp_path / "bad_param.py"
    path.write_text(
        "from datetime import datetime\n"
        "from tradewind import DAG, Param\n"
        "from tradewind import EmptyOperator\n"
        "with DAG('good', schedule=None, start_date=datetime(2024, 1, 1), params={'n': Param(1, type='integer')}):\n"
        "    EmptyOperator(task_id='t')\n"
        "with DAG('broken', schedule=None, start_date=datetime(2024, 1, 1),\n"
        "         params={'mode': Param('fast', enum=['slow', 'safe'])}):\n"
        "    EmptyOperator(task_id='t')\n"
    )
    snapshots, errors = collect_file(str(path), [])
    assert [s["dag_id"] for s in snapshots] == ["good"]
    assert len(errors) == 1
    message = errors[0].message
    assert "'broken'" in message and "'mode'" in message and "is not one of ['slow', 'safe']" in message


# ---------------------------------------------------------------------- snapshot round trip
def _snapshot_params(dag: DAG) -> dict:
    return DagSnapshot.from_dict(json.loads(json.dumps(serialize_dag(dag)))).params


def test_schemas_survive_the_snapshot_and_validate_from_it() -> None:
    with DAG("round", schedule=None, start_date=datetime(2024, 1, 1), params={
        "n": Param(5, description="how many", type="integer", minimum=1, maximum=9),
        "day": Param("2024-01-01", type="string", format="date"),
        "tags": Param(["a"], type="array", items={"type": "string", "enum": ["a", "b"]}),
        "who": Param(type="string", minLength=1),
        "maybe": Param(type=["null", "integer"]),
        "plain": "x",
    }) as dag:
        EmptyOperator(task_id="t")
    stored = _snapshot_params(dag)
    rebuilt = params_from_serialized(stored)
    assert rebuilt.get_param("n").schema == {"type": "integer", "minimum": 1, "maximum": 9}
    assert rebuilt.get_param("n").description == "how many"
    assert rebuilt.get_param("tags").schema["items"] == {"type": "string", "enum": ["a", "b"]}
    assert rebuilt.get_param("who").is_required and not rebuilt.get_param("maybe").is_required

    assert resolve_run_params(stored, {"who": "me", "extra": 1}) == {
        "n": 5, "day": "2024-01-01", "tags": ["a"], "who": "me", "maybe": None, "plain": "x",
    }
    assert resolve_run_params(stored, {"who": "me", "n": 9, "maybe": 3})["n"] == 9
    with pytest.raises(InvalidParamsError) as info:
        resolve_run_params(stored, {"n": 10, "day": "01/02/2024", "tags": ["c"]}, dag_id="round")
    assert set(info.value.errors) == {"n", "day", "tags", "who"}
    assert "required" in info.value.errors["who"]
    assert "greater than the maximum of 9" in info.value.errors["n"]
    assert "is not a 'date'" in info.value.errors["day"]
    assert "'c' is not one of ['a', 'b'] (at 0)" in info.value.errors["tags"]
    assert str(info.value).startswith("Invalid params for DAG 'round': param 'n'")


def test_plain_params_accept_anything() -> None:
    stored = {"x": {"default": 1, "has_default": True, "schema": {}, "description": None}}
    assert resolve_run_params(stored, {"x": {"any": ["thing"]}}) == {"x": {"any": ["thing"]}}
    assert resolve_run_params(stored, None) == {"x": 1}
