"""The ``macros`` module exposed in the template context."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tradewind.definition import macros
from tradewind.definition.templating import make_jinja_env, render_value


def test_ds_add():
    assert macros.ds_add("2015-01-01", 5) == "2015-01-06"
    assert macros.ds_add("2015-01-06", -5) == "2015-01-01"
    assert macros.ds_add("2024-02-28", 1) == "2024-02-29"
    assert macros.ds_add("2024-03-01", 0) == "2024-03-01"


def test_ds_format():
    assert macros.ds_format("2015-01-01", "%Y-%m-%d", "%m-%d-%y") == "01-01-15"
    assert macros.ds_format("1/5/2015", "%m/%d/%Y", "%Y-%m-%d") == "2015-01-05"


def test_bad_ds_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot read 'yesterday' as a date"):
        macros.ds_add("yesterday", 1)


def test_modules_are_exposed():
    assert macros.datetime is datetime and macros.timedelta is timedelta
    assert macros.json.loads("[1]") == [1]
    assert len(str(macros.uuid.uuid4())) == 36
    assert 0 <= macros.random.random() < 1
    assert macros.time.time() > 0
    assert macros.dateutil.relativedelta.relativedelta(months=1).months == 1


def test_datetime_diff_for_humans():
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert macros.datetime_diff_for_humans(base - timedelta(hours=3), base) == "3 hours ago"
    assert macros.datetime_diff_for_humans(base + timedelta(days=2), base) == "in 2 days"
    assert macros.datetime_diff_for_humans(base + timedelta(minutes=1), base) == "in 1 minute"
    assert macros.datetime_diff_for_humans(base, base) == "just now"


def test_macros_usable_from_templates():
    env = make_jinja_env(None)
    ctx = {"ds": "2024-01-31", "macros": macros}
    assert render_value("{{ macros.ds_add(ds, 1) }}", ctx, env) == "2024-02-01"
    assert render_value("{{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%Y') }}", ctx, env) == "31/01/2024"
    assert render_value("{{ (macros.datetime(2024, 1, 1) + macros.timedelta(days=1)).day }}", ctx, env) == "2"
