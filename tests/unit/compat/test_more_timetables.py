"""``DeltaTriggerTimetable``, ``MultipleCronTriggerTimetable`` and ``EventsTimetable`` as DAG files import them.

The scheduling tests let the real scheduler create runs on a simulated clock (``tradewind_sim``),
so the stored, serialised timetable is what decides; the rest checks Airflow's documented rules
(manual runs, catchup, duplicates, summaries) on the objects themselves.
"""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone

import pytest
from dateutil.relativedelta import relativedelta

from tradewind import compat
from tradewind.definition.exceptions import InvalidScheduleError
from tradewind.definition.timetables import TimeRestriction, iter_dagrun_infos, timetable_from_dict

UTC = timezone.utc


def at(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def shims():
    assert compat.install() is True


def _write(tmp_path, source: str):
    path = tmp_path / "scheduled.py"
    path.write_text(textwrap.dedent(source))
    return path


# ----------------------------------------------------------------------------- on the scheduler
@pytest.mark.tradewind_sim(start="2024-03-05T12:30")
def test_delta_trigger_runs_at_the_start_of_each_period(tradewind_sim, tmp_path):
    path = _write(tmp_path, """
        from datetime import datetime, timedelta
        from airflow.sdk import DAG, DeltaTriggerTimetable
        from airflow.providers.standard.operators.empty import EmptyOperator

        with DAG("every_six_hours", start_date=datetime(2024, 3, 5), catchup=True,
                 schedule=DeltaTriggerTimetable(timedelta(hours=6), interval=timedelta(hours=1))):
            EmptyOperator(task_id="tick")
    """)
    runs = tradewind_sim.run_schedule(path, until="2024-03-05T13:00")
    assert [r.logical_date for r in runs] == [at(5, 0), at(5, 6), at(5, 12)]
    assert [r.data_interval for r in runs] == [(at(4, 23), at(5, 0)), (at(5, 5), at(5, 6)), (at(5, 11), at(5, 12))]
    assert all(r.states() == {"tick": "success"} for r in runs)


@pytest.mark.tradewind_sim(start="2024-03-05T12:00")
def test_events_timetable_runs_once_per_listed_event(tradewind_sim, tmp_path):
    path = _write(tmp_path, """
        from datetime import datetime
        from airflow import DAG
        from airflow.operators.empty import EmptyOperator
        from airflow.timetables.events import EventsTimetable

        events = [datetime(2024, 3, 5, 15), datetime(2024, 3, 5, 1), datetime(2024, 3, 5, 10),
                  datetime(2024, 3, 5, 10), datetime(2024, 3, 9)]
        with DAG("match_days", start_date=datetime(2024, 3, 1), catchup=True,
                 schedule=EventsTimetable(event_dates=events, description="home games")):
            EmptyOperator(task_id="kick_off")
    """)
    runs = tradewind_sim.run_schedule(path, until="2024-03-06T00:00")
    assert [r.logical_date for r in runs] == [at(5, 1), at(5, 10), at(5, 15)]
    assert [r.data_interval for r in runs] == [(at(5, 1), at(5, 1)), (at(5, 10), at(5, 10)), (at(5, 15), at(5, 15))]


@pytest.mark.tradewind_sim(start="2024-03-05T12:00")
def test_events_timetable_without_catchup_skips_past_events(tradewind_sim, tmp_path):
    path = _write(tmp_path, """
        from datetime import datetime
        from airflow.sdk import DAG, EventsTimetable
        from airflow.providers.standard.operators.empty import EmptyOperator

        with DAG("no_catchup_events", start_date=datetime(2024, 3, 1), catchup=False,
                 schedule=EventsTimetable([datetime(2024, 3, 5, 1), datetime(2024, 3, 5, 15)])):
            EmptyOperator(task_id="kick_off")
    """)
    runs = tradewind_sim.run_schedule(path, until="2024-03-06T00:00")
    assert [r.logical_date for r in runs] == [at(5, 15)]


@pytest.mark.tradewind_sim(start="2024-03-05T12:00")
def test_multiple_cron_trigger_fires_for_each_expression(tradewind_sim, tmp_path):
    path = _write(tmp_path, """
        from datetime import datetime
        from airflow.timetables.trigger import MultipleCronTriggerTimetable
        from airflow import DAG
        from airflow.operators.empty import EmptyOperator

        with DAG("twice_a_day", start_date=datetime(2024, 3, 4), catchup=True,
                 schedule=MultipleCronTriggerTimetable("0 1 * * *", "30 9 * * *", "0 1 * * *", timezone="UTC")):
            EmptyOperator(task_id="t")
    """)
    runs = tradewind_sim.run_schedule(path, until="2024-03-05T12:00")
    assert [r.logical_date for r in runs] == [at(4, 1), at(4, 9, 30), at(5, 1), at(5, 9, 30)]


# ----------------------------------------------------------------------------- the objects
def test_delta_trigger_without_catchup_starts_now_and_skips_missed_periods():
    from airflow.sdk import DeltaTriggerTimetable

    tt = DeltaTriggerTimetable(timedelta(hours=6))
    no_catchup = TimeRestriction(earliest=at(1), latest=None, catchup=False)
    first = tt.next_dagrun_info(last_automated_data_interval=None, restriction=no_catchup, now=at(5, 12, 10))
    assert first.logical_date == at(5, 12, 10) and first.data_interval.start == at(5, 12, 10)
    after_gap = tt.next_dagrun_info(last_automated_data_interval=first.data_interval, restriction=no_catchup,
                                    now=at(7, 3))
    assert after_gap.logical_date == at(7, 3)
    on_time = tt.next_dagrun_info(last_automated_data_interval=first.data_interval, restriction=no_catchup,
                                  now=at(5, 13))
    assert on_time.logical_date == at(5, 18, 10)


def test_delta_trigger_with_relativedelta_and_round_trip():
    from airflow.timetables.trigger import DeltaTriggerTimetable

    tt = DeltaTriggerTimetable(relativedelta(months=1), interval=relativedelta(days=1))
    infos = list(iter_dagrun_infos(tt, start=at(31, month=1), limit=3))
    assert [i.logical_date for i in infos] == [at(31, month=1), at(29, month=2), at(29, month=3)]
    assert infos[1].data_interval.start == at(28, month=2)
    assert timetable_from_dict(tt.serialize()) == tt
    assert tt.infer_manual_data_interval(run_after=at(5)).start == at(4)
    with pytest.raises(InvalidScheduleError, match="must be positive"):
        DeltaTriggerTimetable(timedelta(0))
    with pytest.raises(InvalidScheduleError, match="interval must be"):
        DeltaTriggerTimetable(timedelta(hours=1), interval="1h")


def test_events_timetable_manual_runs_and_description():
    from airflow.timetables.events import EventsTimetable

    events = [datetime(2024, 3, 10), datetime(2024, 3, 1), datetime(2024, 3, 20)]
    loose = EventsTimetable(events)
    strict = EventsTimetable(events, restrict_to_events=True)
    assert loose.infer_manual_data_interval(run_after=at(15, 6)).start == at(15, 6)
    assert strict.infer_manual_data_interval(run_after=at(15, 6)).start == at(10)
    assert strict.infer_manual_data_interval(run_after=at(10)).start == at(10)
    assert strict.infer_manual_data_interval(run_after=at(1, month=2)).start == at(1)  # all in the future
    assert loose.summary == "3 events"
    assert loose.description == "3 events between 2024-03-01T00:00:00+00:00 and 2024-03-20T00:00:00+00:00"
    named = EventsTimetable(events, description="race days")
    assert (named.summary, named.description) == ("race days", "race days")
    assert EventsTimetable([]).description == "No events"
    for tt in (loose, strict, named):
        assert timetable_from_dict(tt.serialize()) == tt
    presorted = EventsTimetable(sorted(events), presorted=True)
    assert presorted.event_dates == loose.event_dates
    with pytest.raises(InvalidScheduleError, match="event_dates must be datetimes"):
        EventsTimetable(["tomorrow"])


def test_events_timetable_respects_end_date():
    from airflow.timetables.events import EventsTimetable

    tt = EventsTimetable([at(1), at(2), at(3)])
    infos = list(iter_dagrun_infos(tt, start=at(1), end=at(2), catchup=True))
    assert [i.logical_date for i in infos] == [at(1), at(2)]


def test_multiple_cron_without_catchup_picks_the_latest_due_time():
    from airflow.sdk import MultipleCronTriggerTimetable

    tt = MultipleCronTriggerTimetable("0 1 * * *", "30 9 * * *", timezone="UTC")
    no_catchup = TimeRestriction(earliest=at(1), latest=None, catchup=False)
    last = tt.next_dagrun_info(last_automated_data_interval=None, restriction=no_catchup, now=at(5, 12))
    assert last.logical_date == at(6, 1)  # run_immediately=False: the next fire time
    after = tt.next_dagrun_info(last_automated_data_interval=last.data_interval, restriction=no_catchup, now=at(8, 10))
    assert after.logical_date == at(8, 9, 30)
    assert tt.summary == "0 1 * * *, 30 9 * * *"
    assert timetable_from_dict(tt.serialize()) == tt
    with pytest.raises(InvalidScheduleError, match="at least one cron"):
        MultipleCronTriggerTimetable(timezone="UTC")
