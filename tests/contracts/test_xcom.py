"""XCom storage: upsert, get, get_many, clear, list, JSON edge values."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tradewind.persist.db import Database
from tradewind.persist.queries import xcom as q

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "value",
    [None, 0, -1.5, "", "ünï©ødé ☃ 日本", [1, [2, [3, None]]], {"a": {"b": {"c": [True, False, None]}}}, {}, [],
     "null", 2**53],
    ids=lambda v: repr(v)[:20],
)
def test_json_values_round_trip(any_db: Database, value: object) -> None:
    with any_db.session_scope() as s:
        q.xcom_set(s, "d", "r", "t", -1, "return_value", value, NOW)
    with any_db.session_scope() as s:
        assert q.xcom_get(s, "d", "r", "t", default="MISSING") == value


def test_missing_gives_default(any_db: Database) -> None:
    with any_db.session_scope() as s:
        assert q.xcom_get(s, "d", "r", "t") is None
        assert q.xcom_get(s, "d", "r", "t", 3, "k", default=42) == 42


def test_set_replaces_existing_value(any_db: Database) -> None:
    with any_db.session_scope() as s:
        q.xcom_set(s, "d", "r", "t", -1, "k", 1, NOW)
    with any_db.session_scope() as s:
        q.xcom_set(s, "d", "r", "t", -1, "k", {"v": 2}, NOW + timedelta(seconds=5))
    with any_db.session_scope() as s:
        rows = q.xcom_list(s, dag_id="d")
        assert len(rows) == 1
        assert q.decode_value(rows[0].value) == {"v": 2}
        assert rows[0].timestamp == NOW + timedelta(seconds=5)


def test_unserialisable_value_names_task_and_key(any_db: Database) -> None:
    with any_db.session_scope() as s:
        with pytest.raises(q.XComValueError, match="'k' of task 't'.*set"):
            q.xcom_set(s, "d", "r", "t", -1, "k", {1, 2}, NOW)


def test_get_many_orders_by_task_ids_then_map_index(any_db: Database) -> None:
    with any_db.session_scope() as s:
        for mi in (2, 0, 1):
            q.xcom_set(s, "d", "r", "mapped", mi, "return_value", f"m{mi}", NOW)
        q.xcom_set(s, "d", "r", "plain", -1, "return_value", "p", NOW)
        q.xcom_set(s, "d", "r", "plain", -1, "other", "o", NOW)
        q.xcom_set(s, "d", "other_run", "plain", -1, "return_value", "x", NOW)
    with any_db.session_scope() as s:
        got = q.xcom_get_many(s, "d", "r", ["plain", "mapped", "absent"])
        assert list(got.items()) == [(("plain", -1), "p"), (("mapped", 0), "m0"), (("mapped", 1), "m1"),
                                     (("mapped", 2), "m2")]
        assert q.xcom_get_many(s, "d", "r", ["mapped"], map_indexes=1) == {("mapped", 1): "m1"}
        assert list(q.xcom_get_many(s, "d", "r", ["mapped"], map_indexes=[2, 0])) == [("mapped", 0), ("mapped", 2)]
        assert q.xcom_get_many(s, "d", "r", ["plain"], key="other") == {("plain", -1): "o"}
        assert q.xcom_get_many(s, "d", "r", []) == {}


def test_clear_whole_task_or_one_map_index(any_db: Database) -> None:
    with any_db.session_scope() as s:
        for mi in (0, 1, 2):
            q.xcom_set(s, "d", "r", "t", mi, "return_value", mi, NOW)
            q.xcom_set(s, "d", "r", "t", mi, "extra", mi, NOW)
        q.xcom_set(s, "d", "r", "keep", -1, "return_value", "kept", NOW)
    with any_db.session_scope() as s:
        assert q.xcom_clear(s, "d", "r", "t", map_index=1) == 2
    with any_db.session_scope() as s:
        assert sorted(q.xcom_get_many(s, "d", "r", ["t"])) == [("t", 0), ("t", 2)]
        assert q.xcom_clear(s, "d", "r", "t") == 4
    with any_db.session_scope() as s:
        assert [(x.task_id, x.key) for x in q.xcom_list(s)] == [("keep", "return_value")]


def test_list_filters_and_limit(any_db: Database) -> None:
    with any_db.session_scope() as s:
        for task in ("b", "a", "c"):
            q.xcom_set(s, "d", "r", task, -1, "return_value", task, NOW)
        q.xcom_set(s, "e", "r", "a", -1, "k2", 1, NOW)
    with any_db.session_scope() as s:
        assert [x.task_id for x in q.xcom_list(s, dag_id="d")] == ["a", "b", "c"]
        assert [x.task_id for x in q.xcom_list(s, dag_id="d", limit=2, offset=1)] == ["b", "c"]
        assert [(x.dag_id, x.key) for x in q.xcom_list(s, task_id="a")] == [("d", "return_value"), ("e", "k2")]
        assert [x.dag_id for x in q.xcom_list(s, key="k2")] == ["e"]


def test_swapped_arguments_are_rejected(any_db: Database) -> None:
    with any_db.session_scope() as s:
        with pytest.raises(TypeError, match="map_index must be an int"):
            q.xcom_get(s, "d", "r", "t", "return_value")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="map_index must be an int"):
            q.xcom_set(s, "d", "r", "t", "k", -1, 1, NOW)  # type: ignore[arg-type]


def test_map_index_selects_the_value(any_db: Database) -> None:
    with any_db.session_scope() as s:
        q.xcom_set(s, "d", "r", "t", 0, "return_value", "zero", NOW)
        q.xcom_set(s, "d", "r", "t", 1, "return_value", "one", NOW)
    with any_db.session_scope() as s:
        assert q.xcom_get(s, "d", "r", "t", 1) == "one"
        assert q.xcom_get(s, "d", "r", "t", 0) == "zero"
        assert q.xcom_get(s, "d", "r", "t") is None  # -1 (unmapped) has nothing
