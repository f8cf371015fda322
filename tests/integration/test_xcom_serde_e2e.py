"""XCom values Airflow's serde carries round-trip here too, in our JSON envelope.

Real DAG files, the real parser, scheduler and in-process executor on the test's SQLite
database: a producer task returns each kind of value, a consumer pulls it and checks the type
that comes back, and the stored rows are read as the UI and the API read them.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from dagrun_support import run_dag
from tradewind.definition.exceptions import XComNotSerializable
from tradewind.definition.xcom_serde import TYPE_KEY, decode_xcom, encode_xcom, serialize_xcom


def _log(config: Any, dag_id: str, task_id: str) -> str:
    return "".join(p.read_text() for p in config.logs_folder.rglob(f"dag_id={dag_id}/**/task_id={task_id}/*.log"))


RICH_DAG = """
import dataclasses, uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import attr
import numpy as np
import pandas as pd
import pendulum
import pydantic
from airflow import DAG
from airflow.decorators import task


@dataclasses.dataclass
class Point:
    x: int
    when: date


@attr.define
class Box:
    size: int
    tags: set


class Order(pydantic.BaseModel):
    id: int
    at: datetime


with DAG("rich_xcom", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    @task
    def produce():
        return {
            "df": pd.DataFrame({"n": [1, 2, 3], "s": ["a", "b", "c"], "f": [0.5, None, 2.0]}),
            "i64": np.int64(7), "f32": np.float32(1.5), "flag": np.bool_(True), "arr": np.arange(6).reshape(2, 3),
            "when": datetime(2024, 3, 5, 6, 7, 8, 9, tzinfo=timezone.utc), "naive": datetime(2024, 3, 5),
            "day": date(2024, 3, 5), "gap": timedelta(hours=1, microseconds=5),
            "pdt": pendulum.datetime(2024, 3, 31, 1, 30, tz="Europe/Paris"),
            "money": Decimal("10.10"), "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "path": Path("/data/in.csv"), "pair": (1, "two"), "uniq": {3, 1, 2}, "frozen": frozenset({"x"}),
            "point": Point(1, date(2024, 1, 2)), "box": Box(2, {"a"}), "order": Order(id=5, at=datetime(2024, 1, 1, tzinfo=timezone.utc)),
        }

    @task
    def check(v):
        import dataclasses as dc
        assert isinstance(v["df"], pd.DataFrame) and v["df"]["n"].tolist() == [1, 2, 3], v["df"]
        assert str(v["df"]["n"].dtype) == "int64" and v["df"]["s"].tolist() == ["a", "b", "c"]
        assert type(v["i64"]) is np.int64 and v["i64"] == 7
        assert type(v["f32"]) is np.float32 and type(v["flag"]) is np.bool_
        assert isinstance(v["arr"], np.ndarray) and v["arr"].shape == (2, 3) and v["arr"][1, 2] == 5
        assert v["when"] == datetime(2024, 3, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
        assert v["naive"] == datetime(2024, 3, 5) and v["naive"].tzinfo is None
        assert type(v["day"]) is date and v["gap"] == timedelta(hours=1, microseconds=5)
        assert isinstance(v["pdt"], pendulum.DateTime) and v["pdt"].timezone_name == "Europe/Paris"
        assert v["money"] == Decimal("10.10") and str(v["money"]) == "10.10"
        assert isinstance(v["id"], uuid.UUID) and isinstance(v["path"], Path)
        assert v["pair"] == (1, "two") and isinstance(v["pair"], tuple)
        assert v["uniq"] == {1, 2, 3} and isinstance(v["uniq"], set) and isinstance(v["frozen"], frozenset)
        assert dc.is_dataclass(v["point"]) and v["point"].when == date(2024, 1, 2)
        assert type(v["box"]).__name__ == "Box" and v["box"].tags == {"a"}
        assert type(v["order"]).__name__ == "Order" and v["order"].id == 5
        return "all round-tripped"

    check(produce())
"""


def test_airflow_serde_types_round_trip_between_tasks(config, db) -> None:
    result = run_dag(config, db, "rich_xcom", RICH_DAG)
    state, states, rows = result.state, result.states, result.raw_xcoms
    assert states == {"produce": "success", "check": "success"}, _log(config, "rich_xcom", "check")
    assert state == "success"
    stored = json.loads(rows[("produce", -1)])
    # What the UI and the API show: readable JSON naming each type.
    assert stored["pair"] == {TYPE_KEY: "tuple", "__version__": 1, "value": [1, "two"]}
    assert stored["money"][TYPE_KEY] == "decimal.Decimal" and stored["money"]["value"] == "10.10"
    assert stored["df"][TYPE_KEY] == "pandas.DataFrame"
    assert [r["n"] for r in stored["df"]["value"]["table"]["data"]] == [1, 2, 3]
    assert stored["point"]["value"]["class"].endswith(":Point")


PLAIN_DAG = """
from datetime import datetime
from airflow import DAG
from airflow.decorators import task

with DAG("plain_xcom", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    @task
    def produce():
        return {"rows": [1, 2.5, None, True], "name": "데이터", "nested": {"k": []}}

    @task
    def tup():
        return (10, 20, 30)

    @task
    def each(x):
        return x * 2

    produce()
    each.expand(x=tup())
"""


def test_plain_json_is_stored_as_before_and_a_returned_tuple_still_maps(config, db) -> None:
    result = run_dag(config, db, "plain_xcom", PLAIN_DAG)
    state, states, rows = result.state, result.states, result.raw_xcoms
    assert state == "success", states
    value = {"rows": [1, 2.5, None, True], "name": "데이터", "nested": {"k": []}}
    assert rows[("produce", -1)] == json.dumps(value, ensure_ascii=False)  # byte for byte as before
    assert json.loads(rows[("tup", -1)])[TYPE_KEY] == "tuple"
    assert [json.loads(rows[("each", i)]) for i in range(3)] == [20, 40, 60]


BAD_DAG = """
from datetime import datetime
from airflow import DAG
from airflow.decorators import task

class Opaque:
    pass

with DAG("bad_xcom", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    @task
    def produce():
        return {"rows": [1, Opaque()]}

    produce()
"""


def test_an_unsupported_type_fails_the_task_naming_type_task_and_key(config, db) -> None:
    result = run_dag(config, db, "bad_xcom", BAD_DAG)
    state, states, _ = result.state, result.states, result.raw_xcoms
    assert states["produce"] == "failed" and state == "failed"
    log = _log(config, "bad_xcom", "produce")
    assert "bad_xcom.produce" in log and "'return_value'" in log and "Opaque" in log and "['rows'][1]" in log


@pytest.mark.parametrize("value", [
    None, 1, 2.5, "text", True, [1, [2, {"a": None}]], {"a": {"b": [1]}}, {1: "int keys become strings, as in json"},
])
def test_plain_json_values_encode_to_themselves(value: Any) -> None:
    assert json.dumps(encode_xcom(value)) == json.dumps(value)
    assert decode_xcom(json.loads(json.dumps(value))) == json.loads(json.dumps(value))


def test_a_dict_using_the_reserved_key_and_nan_are_refused() -> None:
    with pytest.raises(XComNotSerializable, match="reserved"):
        serialize_xcom({TYPE_KEY: "tuple", "value": []}, dag_id="d", task_id="t", key="k")
    with pytest.raises(XComNotSerializable, match="task d.t: XCom 'k'"):
        serialize_xcom(float("nan"), dag_id="d", task_id="t", key="k")


def test_int_and_str_enums_are_stored_as_their_values_like_airflow() -> None:
    import enum

    class Color(enum.IntEnum):
        RED = 1

    class Mode(str, enum.Enum):
        FAST = "fast"

    assert json.loads(serialize_xcom([Color.RED, Mode.FAST], dag_id="d", task_id="t", key="k")) == [1, "fast"]


def test_custom_serialize_deserialize_protocol_round_trips() -> None:
    text = serialize_xcom(Money(5, "EUR"), dag_id="d", task_id="t", key="k")
    back = decode_xcom(json.loads(text))
    assert isinstance(back, Money) and (back.amount, back.currency, back.version_seen) == (5, "EUR", 2)


class Money:
    """Airflow's own protocol: ``serialize()`` and a classmethod ``deserialize(data, version)``."""

    __version__ = 2

    def __init__(self, amount: int, currency: str, version_seen: int | None = None) -> None:
        self.amount, self.currency, self.version_seen = amount, currency, version_seen

    def serialize(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency}

    @classmethod
    def deserialize(cls, data: dict[str, Any], version: int) -> "Money":
        return cls(data["amount"], data["currency"], version)


def test_the_plain_json_fast_path_hands_typed_values_to_the_envelope_path() -> None:
    import numpy as np

    # A top-level numpy scalar keeps its type; one nested in plain JSON is the float it is.
    assert decode_xcom(json.loads(serialize_xcom(np.float64(1.5), dag_id="d", task_id="t", key="k"))).dtype == "float64"
    assert json.loads(serialize_xcom({"x": np.float64(1.5)}, dag_id="d", task_id="t", key="k")) == {"x": 1.5}
    # A tuple nested deep inside plain JSON is noticed (it would read back as a list).
    nested = {"a": [{"b": (1, 2)}]}
    assert decode_xcom(json.loads(serialize_xcom(nested, dag_id="d", task_id="t", key="k"))) == nested
    # The reserved key is refused even inside otherwise plain JSON.
    with pytest.raises(XComNotSerializable, match=r"at \['a'\]\[0\]"):
        serialize_xcom({"a": [{TYPE_KEY: "x", "value": 1}]}, dag_id="d", task_id="t", key="k")


def test_the_dag_test_fixture_reads_typed_xcoms_as_downstream_tasks_do(tradewind_sim, tmp_path) -> None:
    dag_file = tmp_path / "typed_dag.py"
    dag_file.write_text(textwrap.dedent("""
        from datetime import date, datetime
        from airflow import DAG
        from airflow.decorators import task

        with DAG("typed_sim", start_date=datetime(2024, 1, 1), schedule=None) as dag:
            @task
            def pair():
                return ("a", date(2024, 3, 5))

            pair()
    """))
    result = tradewind_sim.run(str(dag_file), logical_date="2024-03-05")
    from datetime import date

    assert result.xcom("pair") == ("a", date(2024, 3, 5))
