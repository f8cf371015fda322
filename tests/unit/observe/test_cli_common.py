from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import click
import pytest

from tradewind.observe.cli.common import DATETIME, JSON_OBJECT, parse_datetime, render, to_jsonable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01", datetime(2024, 1, 1, tzinfo=timezone.utc)),
        ("2024-01-01T08:00:00", datetime(2024, 1, 1, 8, tzinfo=timezone.utc)),
        ("2024-01-01 08:30", datetime(2024, 1, 1, 8, 30, tzinfo=timezone.utc)),
        ("2024-01-01T08:00:00Z", datetime(2024, 1, 1, 8, tzinfo=timezone.utc)),
        ("2024-01-01T10:00:00+02:00", datetime(2024, 1, 1, 8, tzinfo=timezone.utc)),
    ],
)
def test_parse_datetime_accepts_airflow_forms(text, expected):
    value = parse_datetime(text)
    assert value == expected
    assert value.tzinfo is not None


def test_parse_datetime_keeps_given_offset():
    value = parse_datetime("2024-01-01T10:00:00+02:00")
    assert value.utcoffset() == timedelta(hours=2)


def test_bad_date_names_the_value_and_forms():
    with pytest.raises(click.BadParameter) as info:
        DATETIME.convert("01/02/2024", None, None)
    assert "'01/02/2024'" in str(info.value.message)
    assert "YYYY-MM-DD" in str(info.value.message)


def test_json_object_type_rejects_bad_json_and_non_objects():
    assert JSON_OBJECT.convert('{"a": 1}', None, None) == {"a": 1}
    with pytest.raises(click.BadParameter, match="invalid JSON"):
        JSON_OBJECT.convert("{a: 1}", None, None)
    with pytest.raises(click.BadParameter, match="JSON object"):
        JSON_OBJECT.convert("[1, 2]", None, None)


def test_render_json_uses_exact_columns_and_iso_dates(capsys):
    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    render([{"a": 1, "b": when, "ignored": 3}], ["a", "b"], "json")
    data = json.loads(capsys.readouterr().out)
    assert data == [{"a": 1, "b": "2024-01-01T00:00:00+00:00"}]


def test_render_plain_is_tab_separated(capsys):
    render([{"a": 1, "b": None}], ["a", "b"], "plain")
    assert capsys.readouterr().out.splitlines() == ["a\tb", "1\t"]


def test_render_table_shows_values(capsys):
    render([{"name": "alpha", "n": 3}], ["name", "n"], "table")
    out = capsys.readouterr().out
    assert "alpha" in out and "name" in out


def test_to_jsonable_nested():
    assert to_jsonable({"t": (1, 2), "d": timedelta(seconds=3)}) == {"t": [1, 2], "d": 3.0}
