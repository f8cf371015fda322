"""Timetables: alignment, catchup, end dates, DST, serialization (all with a fixed ``now``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tradewind.definition.exceptions import InvalidScheduleError
from tradewind.definition.timetables import (
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DagRunInfo,
    DataInterval,
    DeltaDataIntervalTimetable,
    NullTimetable,
    OnceTimetable,
    TimeRestriction,
    iter_dagrun_infos,
    timetable_from_dict,
    timetable_from_schedule,
)

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SEOUL = ZoneInfo("Asia/Seoul")


def U(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def intervals(tt, *, start, catchup=True, now=None, limit=5, end=None):
    return [
        (i.data_interval.start, i.data_interval.end)
        for i in iter_dagrun_infos(tt, start=start, end=end, catchup=catchup, now=now, limit=limit)
    ]


def run_afters(tt, *, start, catchup=True, now=None, limit=5, end=None):
    return [i.run_after for i in iter_dagrun_infos(tt, start=start, end=end, catchup=catchup, now=now, limit=limit)]


# --------------------------------------------------------------------------- factory / presets
@pytest.mark.parametrize(
    "preset, cron",
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@quarterly", "0 0 1 */3 *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@midnight", "0 0 * * *"),
    ],
)
def test_presets_behave_like_their_cron(preset, cron):
    start, now = U(2023, 12, 30, 5), U(2025, 1, 1)
    a = intervals(timetable_from_schedule(preset), start=start, now=now)
    b = intervals(timetable_from_schedule(cron), start=start, now=now)
    assert a == b
    assert timetable_from_schedule(preset).summary == preset


def test_factory_types():
    assert isinstance(timetable_from_schedule(None), NullTimetable)
    assert isinstance(timetable_from_schedule("@once"), OnceTimetable)
    assert isinstance(timetable_from_schedule("@daily"), CronDataIntervalTimetable)
    assert isinstance(timetable_from_schedule("5 4 * * *"), CronDataIntervalTimetable)
    assert isinstance(timetable_from_schedule(timedelta(hours=1)), DeltaDataIntervalTimetable)
    custom = CronTriggerTimetable("0 8 * * *", "Asia/Seoul")
    assert timetable_from_schedule(custom) is custom


def test_summaries():
    assert timetable_from_schedule(None).summary == "None"
    assert timetable_from_schedule("@once").summary == "@once"
    assert timetable_from_schedule("0 8 * * *").summary == "0 8 * * *"
    assert timetable_from_schedule(timedelta(days=1)).summary == "1 day, 0:00:00"
    assert CronTriggerTimetable("30 6 * * 1-5").summary == "30 6 * * 1-5"


def test_flags():
    assert NullTimetable().can_be_scheduled is False
    assert OnceTimetable().can_be_scheduled is True and OnceTimetable().periodic is False
    assert timetable_from_schedule("@daily").periodic is True
    assert timetable_from_schedule(timedelta(minutes=5)).periodic is True


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ("* * *", "expected 5 fields"),
        ("0 0 * * * *", "got 6"),
        ("61 * * * *", "61 * * * *"),
        ("0 25 * * *", "0 25 * * *"),
        ("@fortnightly", "unknown preset"),
        ("0 0 30 2 *", "0 0 30 2 *"),
        ("   ", "empty"),
        ("@continuous", "not supported"),
    ],
)
def test_bad_cron_strings_raise_invalid_schedule(bad, fragment):
    with pytest.raises(InvalidScheduleError) as err:
        timetable_from_schedule(bad)
    assert fragment in str(err.value)


def test_bad_cron_message_quotes_string_and_reason():
    with pytest.raises(InvalidScheduleError) as err:
        timetable_from_schedule("99 * * * *")
    msg = str(err.value)
    assert "'99 * * * *'" in msg and "range" in msg


def test_bad_schedule_type_and_delta():
    with pytest.raises(InvalidScheduleError, match="invalid schedule 42"):
        timetable_from_schedule(42)
    with pytest.raises(InvalidScheduleError, match="positive"):
        timetable_from_schedule(timedelta(0))


# --------------------------------------------------------------------------- cron data intervals
def test_daily_catchup_runs_every_interval_from_start_date():
    tt = timetable_from_schedule("@daily")
    got = intervals(tt, start=U(2024, 1, 1), now=U(2024, 6, 1), limit=3)
    assert got == [
        (U(2024, 1, 1), U(2024, 1, 2)),
        (U(2024, 1, 2), U(2024, 1, 3)),
        (U(2024, 1, 3), U(2024, 1, 4)),
    ]


def test_data_interval_run_fires_at_interval_end_and_logical_date_is_start():
    tt = timetable_from_schedule("@daily")
    info = tt.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(U(2024, 1, 1), None, True),
        now=U(2024, 6, 1),
    )
    assert info == DagRunInfo(run_after=U(2024, 1, 2), data_interval=DataInterval(U(2024, 1, 1), U(2024, 1, 2)),
                              logical_date=U(2024, 1, 1))


def test_unaligned_start_date_aligns_to_next_cron_time():
    tt = timetable_from_schedule("@daily")
    assert intervals(tt, start=U(2024, 1, 1, 10, 30), now=U(2024, 6, 1), limit=1) == [(U(2024, 1, 2), U(2024, 1, 3))]


def test_hourly_and_weekly_and_monthly_and_quarterly_sequences():
    now = U(2030, 1, 1)
    assert intervals(timetable_from_schedule("@hourly"), start=U(2024, 1, 1, 22, 15), now=now, limit=3) == [
        (U(2024, 1, 1, 23), U(2024, 1, 2, 0)),
        (U(2024, 1, 2, 0), U(2024, 1, 2, 1)),
        (U(2024, 1, 2, 1), U(2024, 1, 2, 2)),
    ]
    # 2024-01-03 is a Wednesday; weekly runs start on Sunday midnight.
    assert intervals(timetable_from_schedule("@weekly"), start=U(2024, 1, 3), now=now, limit=2) == [
        (U(2024, 1, 7), U(2024, 1, 14)),
        (U(2024, 1, 14), U(2024, 1, 21)),
    ]
    assert intervals(timetable_from_schedule("@monthly"), start=U(2024, 1, 15), now=now, limit=2) == [
        (U(2024, 2, 1), U(2024, 3, 1)),
        (U(2024, 3, 1), U(2024, 4, 1)),
    ]
    assert intervals(timetable_from_schedule("@quarterly"), start=U(2024, 2, 10), now=now, limit=3) == [
        (U(2024, 4, 1), U(2024, 7, 1)),
        (U(2024, 7, 1), U(2024, 10, 1)),
        (U(2024, 10, 1), U(2025, 1, 1)),
    ]


def test_catchup_false_first_run_is_latest_complete_interval():
    tt = timetable_from_schedule("@daily")
    now = U(2024, 3, 10, 15, 30)
    assert intervals(tt, start=U(2024, 1, 1), catchup=False, now=now, limit=2) == [
        (U(2024, 3, 9), U(2024, 3, 10)),
        (U(2024, 3, 10), U(2024, 3, 11)),
    ]


def test_catchup_false_when_now_is_exactly_on_a_boundary():
    tt = timetable_from_schedule("@daily")
    got = intervals(tt, start=U(2024, 1, 1), catchup=False, now=U(2024, 3, 10), limit=1)
    assert got == [(U(2024, 3, 9), U(2024, 3, 10))]


def test_catchup_false_skips_gap_after_last_run():
    tt = timetable_from_schedule("@daily")
    info = tt.next_dagrun_info(
        last_automated_data_interval=DataInterval(U(2024, 1, 1), U(2024, 1, 2)),
        restriction=TimeRestriction(U(2024, 1, 1), None, False),
        now=U(2024, 3, 10, 15),
    )
    assert info.data_interval == DataInterval(U(2024, 3, 9), U(2024, 3, 10))


def test_catchup_true_continues_after_last_run_without_skipping():
    tt = timetable_from_schedule("@daily")
    info = tt.next_dagrun_info(
        last_automated_data_interval=DataInterval(U(2024, 1, 1), U(2024, 1, 2)),
        restriction=TimeRestriction(U(2024, 1, 1), None, True),
        now=U(2024, 3, 10, 15),
    )
    assert info.data_interval == DataInterval(U(2024, 1, 2), U(2024, 1, 3))


def test_catchup_false_with_recent_last_run_waits_for_next_interval():
    tt = timetable_from_schedule("@daily")
    info = tt.next_dagrun_info(
        last_automated_data_interval=DataInterval(U(2024, 3, 9), U(2024, 3, 10)),
        restriction=TimeRestriction(U(2024, 1, 1), None, False),
        now=U(2024, 3, 10, 15),
    )
    assert info.data_interval == DataInterval(U(2024, 3, 10), U(2024, 3, 11))
    assert info.run_after == U(2024, 3, 11)  # in the future: the scheduler waits


def test_start_date_in_future_without_catchup_starts_at_start_date():
    tt = timetable_from_schedule("@daily")
    got = intervals(tt, start=U(2024, 5, 1), catchup=False, now=U(2024, 3, 10), limit=1)
    assert got == [(U(2024, 5, 1), U(2024, 5, 2))]


def test_catchup_without_start_date_has_no_runs():
    tt = timetable_from_schedule("@daily")
    assert list(iter_dagrun_infos(tt, start=None, catchup=True, now=U(2024, 1, 1), limit=3)) == []


def test_end_date_stops_runs():
    tt = timetable_from_schedule("@daily")
    got = intervals(tt, start=U(2024, 1, 1), end=U(2024, 1, 3), now=U(2024, 6, 1), limit=10)
    # Airflow semantics: an interval whose start is at or before end_date still runs.
    assert got == [(U(2024, 1, 1), U(2024, 1, 2)), (U(2024, 1, 2), U(2024, 1, 3)), (U(2024, 1, 3), U(2024, 1, 4))]
    past_end = tt.next_dagrun_info(
        last_automated_data_interval=DataInterval(U(2024, 1, 3), U(2024, 1, 4)),
        restriction=TimeRestriction(U(2024, 1, 1), U(2024, 1, 3), True),
        now=U(2024, 6, 1),
    )
    assert past_end is None


def test_returned_datetimes_are_aware_utc():
    tt = timetable_from_schedule("0 8 * * *", "Asia/Seoul")
    info = tt.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(datetime(2024, 1, 1, tzinfo=SEOUL), None, True),
        now=U(2024, 2, 1),
    )
    for dt in (info.run_after, info.logical_date, info.data_interval.start, info.data_interval.end):
        assert dt.utcoffset() == timedelta(0)
    assert info.logical_date == U(2023, 12, 31, 23)  # 08:00 KST on Jan 1 = 23:00 UTC on Dec 31


def test_naive_restriction_values_are_read_as_utc():
    tt = timetable_from_schedule("@daily")
    info = tt.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(datetime(2024, 1, 1), None, True),
        now=U(2024, 2, 1),
    )
    assert info.logical_date == U(2024, 1, 1)


def test_infer_manual_data_interval_for_cron_is_last_complete_interval():
    tt = timetable_from_schedule("@daily")
    assert tt.infer_manual_data_interval(run_after=U(2024, 1, 25, 1)) == DataInterval(U(2024, 1, 24), U(2024, 1, 25))
    assert tt.infer_manual_data_interval(run_after=U(2024, 1, 25)) == DataInterval(U(2024, 1, 24), U(2024, 1, 25))


def test_infer_manual_data_interval_other_timetables():
    at = U(2024, 1, 25, 1, 2, 3)
    assert NullTimetable().infer_manual_data_interval(run_after=at) == DataInterval(at, at)
    assert OnceTimetable().infer_manual_data_interval(run_after=at) == DataInterval(at, at)
    assert CronTriggerTimetable("@daily").infer_manual_data_interval(run_after=at) == DataInterval(at, at)
    hourly = CronTriggerTimetable("@daily", interval=timedelta(hours=1))
    assert hourly.infer_manual_data_interval(run_after=at) == DataInterval(at - timedelta(hours=1), at)
    delta = DeltaDataIntervalTimetable(timedelta(hours=2))
    assert delta.infer_manual_data_interval(run_after=at) == DataInterval(at - timedelta(hours=2), at)


# --------------------------------------------------------------------------- DST
def test_daily_local_time_stays_at_8am_across_spring_forward_new_york():
    tt = timetable_from_schedule("0 8 * * *", "America/New_York")
    starts = [s for s, _ in intervals(tt, start=datetime(2024, 3, 8, tzinfo=NY), now=U(2025, 1, 1), limit=4)]
    local = [s.astimezone(NY) for s in starts]
    assert [(d.day, d.hour, d.minute) for d in local] == [(8, 8, 0), (9, 8, 0), (10, 8, 0), (11, 8, 0)]
    assert starts[1] == U(2024, 3, 9, 13) and starts[2] == U(2024, 3, 10, 12)
    # The interval that spans the change is 23 hours long.
    assert starts[2] - starts[1] == timedelta(hours=23)


def test_daily_local_time_stays_at_8am_across_fall_back_london():
    tt = timetable_from_schedule("0 8 * * *", "Europe/London")
    starts = [s for s, _ in intervals(tt, start=datetime(2024, 10, 26, tzinfo=LONDON), now=U(2025, 1, 1), limit=3)]
    assert starts == [U(2024, 10, 26, 7), U(2024, 10, 27, 8), U(2024, 10, 28, 8)]
    assert all(s.astimezone(LONDON).hour == 8 for s in starts)


def test_nonexistent_local_time_runs_once_shifted_forward():
    # 02:30 does not exist in New York on 2024-03-10; the run happens at 03:30 EDT, once.
    tt = timetable_from_schedule("30 2 * * *", "America/New_York")
    starts = [s for s, _ in intervals(tt, start=datetime(2024, 3, 9, tzinfo=NY), now=U(2025, 1, 1), limit=3)]
    local = [s.astimezone(NY).replace(tzinfo=None) for s in starts]
    assert local == [datetime(2024, 3, 9, 2, 30), datetime(2024, 3, 10, 3, 30), datetime(2024, 3, 11, 2, 30)]


def test_ambiguous_local_time_runs_once():
    # 01:30 happens twice in New York on 2024-11-03; a daily 01:30 job runs once (first occurrence).
    tt = timetable_from_schedule("30 1 * * *", "America/New_York")
    starts = [s for s, _ in intervals(tt, start=datetime(2024, 11, 2, tzinfo=NY), now=U(2025, 1, 1), limit=3)]
    assert starts == [U(2024, 11, 2, 5, 30), U(2024, 11, 3, 5, 30), U(2024, 11, 4, 6, 30)]


def test_hourly_covers_repeated_hour_on_fall_back():
    tt = timetable_from_schedule("0 * * * *", "America/New_York")
    got = run_afters(tt, start=datetime(2024, 11, 3, 0, tzinfo=NY), now=U(2025, 1, 1), limit=4)
    assert got == [U(2024, 11, 3, 5), U(2024, 11, 3, 6), U(2024, 11, 3, 7), U(2024, 11, 3, 8)]
    assert [d - c for c, d in zip(got, got[1:])] == [timedelta(hours=1)] * 3


def test_hourly_has_no_invented_hour_on_spring_forward_london():
    tt = timetable_from_schedule("0 * * * *", "Europe/London")
    got = run_afters(tt, start=datetime(2024, 3, 31, 0, tzinfo=LONDON), now=U(2025, 1, 1), limit=4)
    assert got == [U(2024, 3, 31, 1), U(2024, 3, 31, 2), U(2024, 3, 31, 3), U(2024, 3, 31, 4)]
    assert [g.astimezone(LONDON).hour for g in got] == [2, 3, 4, 5]


def test_quarter_hourly_on_fall_back_has_no_duplicates_or_gaps():
    tt = CronTriggerTimetable("*/15 * * * *", "America/New_York")
    got = run_afters(tt, start=datetime(2024, 11, 3, 0, 30, tzinfo=NY), now=U(2025, 1, 1), limit=12)
    assert len(set(got)) == 12
    assert all(b - a == timedelta(minutes=15) for a, b in zip(got, got[1:]))


def test_seoul_has_no_dst_and_fires_at_local_8():
    tt = CronTriggerTimetable("0 8 * * *", "Asia/Seoul")
    got = run_afters(tt, start=U(2024, 1, 1), now=U(2025, 1, 1), limit=2)
    assert got == [U(2024, 1, 1, 23), U(2024, 1, 2, 23)]


# --------------------------------------------------------------------------- cron trigger
def test_cron_trigger_logical_date_is_run_after():
    tt = CronTriggerTimetable("0 8 * * *", interval=timedelta(hours=2))
    info = tt.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(U(2024, 1, 1), None, True),
        now=U(2024, 6, 1),
    )
    assert info.run_after == info.logical_date == U(2024, 1, 1, 8)
    assert info.data_interval == DataInterval(U(2024, 1, 1, 6), U(2024, 1, 1, 8))


def test_cron_trigger_vs_data_interval_logical_dates_differ():
    restriction = TimeRestriction(U(2024, 1, 1), None, True)
    trig = CronTriggerTimetable("@daily").next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction, now=U(2024, 6, 1))
    data = CronDataIntervalTimetable("@daily").next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction, now=U(2024, 6, 1))
    assert trig.logical_date == U(2024, 1, 1) and trig.run_after == U(2024, 1, 1)
    assert data.logical_date == U(2024, 1, 1) and data.run_after == U(2024, 1, 2)


def test_cron_trigger_catchup_sequence():
    tt = CronTriggerTimetable("0 */6 * * *")
    got = run_afters(tt, start=U(2024, 1, 1, 1), now=U(2024, 6, 1), limit=3)
    assert got == [U(2024, 1, 1, 6), U(2024, 1, 1, 12), U(2024, 1, 1, 18)]


def test_cron_trigger_without_catchup_waits_for_next_time_by_default():
    tt = CronTriggerTimetable("0 8 * * *")
    got = run_afters(tt, start=U(2024, 1, 1), catchup=False, now=U(2024, 3, 10, 9), limit=2)
    assert got == [U(2024, 3, 11, 8), U(2024, 3, 12, 8)]


def test_cron_trigger_run_immediately():
    now = U(2024, 3, 10, 9)
    yes = CronTriggerTimetable("0 8 * * *", run_immediately=True)
    assert run_afters(yes, start=U(2024, 1, 1), catchup=False, now=now, limit=1) == [U(2024, 3, 10, 8)]
    within = CronTriggerTimetable("0 8 * * *", run_immediately=timedelta(hours=2))
    assert run_afters(within, start=U(2024, 1, 1), catchup=False, now=now, limit=1) == [U(2024, 3, 10, 8)]
    too_old = CronTriggerTimetable("0 8 * * *", run_immediately=timedelta(minutes=30))
    assert run_afters(too_old, start=U(2024, 1, 1), catchup=False, now=now, limit=1) == [U(2024, 3, 11, 8)]


def test_cron_trigger_without_catchup_after_gap_runs_latest_missed_only():
    tt = CronTriggerTimetable("0 8 * * *")
    info = tt.next_dagrun_info(
        last_automated_data_interval=DataInterval(U(2024, 1, 1, 8), U(2024, 1, 1, 8)),
        restriction=TimeRestriction(U(2024, 1, 1), None, False),
        now=U(2024, 3, 10, 9),
    )
    assert info.run_after == U(2024, 3, 10, 8)
    # ...and computing a little late does not skip the run that is due now.
    info = tt.next_dagrun_info(
        last_automated_data_interval=DataInterval(U(2024, 3, 9, 8), U(2024, 3, 9, 8)),
        restriction=TimeRestriction(U(2024, 1, 1), None, False),
        now=U(2024, 3, 10, 8, 0, 5),
    )
    assert info.run_after == U(2024, 3, 10, 8)


def test_cron_trigger_end_date():
    tt = CronTriggerTimetable("@daily")
    got = run_afters(tt, start=U(2024, 1, 1), end=U(2024, 1, 3), now=U(2024, 6, 1), limit=10)
    assert got == [U(2024, 1, 1), U(2024, 1, 2), U(2024, 1, 3)]


# --------------------------------------------------------------------------- once / null / delta
def test_once_runs_exactly_once_at_start_date_regardless_of_catchup():
    tt = OnceTimetable()
    for catchup in (True, False):
        got = list(iter_dagrun_infos(tt, start=U(2024, 1, 1, 3), catchup=catchup, now=U(2024, 6, 1), limit=5))
        assert got == [DagRunInfo.exact(U(2024, 1, 1, 3))]
    assert list(iter_dagrun_infos(tt, start=None, now=U(2024, 6, 1), limit=5)) == []
    assert list(iter_dagrun_infos(tt, start=U(2024, 2, 1), end=U(2024, 1, 1), now=U(2024, 6, 1))) == []


def test_null_timetable_never_schedules():
    assert list(iter_dagrun_infos(NullTimetable(), start=U(2024, 1, 1), now=U(2024, 6, 1), limit=5)) == []


def test_delta_catchup_sequence_from_start_date():
    tt = timetable_from_schedule(timedelta(hours=6))
    assert intervals(tt, start=U(2024, 1, 1, 1), now=U(2024, 6, 1), limit=3) == [
        (U(2024, 1, 1, 1), U(2024, 1, 1, 7)),
        (U(2024, 1, 1, 7), U(2024, 1, 1, 13)),
        (U(2024, 1, 1, 13), U(2024, 1, 1, 19)),
    ]


def test_delta_without_catchup_runs_latest_complete_interval_on_grid():
    tt = timetable_from_schedule(timedelta(hours=6))
    got = intervals(tt, start=U(2024, 1, 1, 1), catchup=False, now=U(2024, 1, 3, 14), limit=2)
    assert got == [(U(2024, 1, 3, 7), U(2024, 1, 3, 13)), (U(2024, 1, 3, 13), U(2024, 1, 3, 19))]
    # The next one is in the future relative to now and is not skipped.
    nxt = tt.next_dagrun_info(
        last_automated_data_interval=DataInterval(U(2024, 1, 3, 7), U(2024, 1, 3, 13)),
        restriction=TimeRestriction(U(2024, 1, 1, 1), None, False),
        now=U(2024, 1, 3, 14),
    )
    assert nxt.data_interval == DataInterval(U(2024, 1, 3, 13), U(2024, 1, 3, 19))


def test_relativedelta_schedule():
    relativedelta = pytest.importorskip("dateutil.relativedelta").relativedelta
    tt = timetable_from_schedule(relativedelta(months=1))
    assert intervals(tt, start=U(2024, 1, 15), now=U(2030, 1, 1), limit=2) == [
        (U(2024, 1, 15), U(2024, 2, 15)),
        (U(2024, 2, 15), U(2024, 3, 15)),
    ]
    assert intervals(tt, start=U(2024, 1, 15), catchup=False, now=U(2024, 6, 20), limit=1) == [
        (U(2024, 5, 15), U(2024, 6, 15))
    ]
    again = timetable_from_dict(tt.serialize())
    assert again == tt and again.delta == relativedelta(months=1)


# --------------------------------------------------------------------------- serialization
@pytest.mark.parametrize(
    "tt",
    [
        NullTimetable(),
        OnceTimetable(),
        CronDataIntervalTimetable("@daily"),
        CronDataIntervalTimetable("0 8 * * 1-5", "Europe/London"),
        CronTriggerTimetable("*/5 * * * *", "Asia/Seoul", interval=timedelta(minutes=5)),
        CronTriggerTimetable("@hourly", run_immediately=True),
        CronTriggerTimetable("@hourly", run_immediately=timedelta(minutes=10)),
        DeltaDataIntervalTimetable(timedelta(days=1, seconds=30)),
    ],
)
def test_serialize_round_trip(tt):
    import json

    data = json.loads(json.dumps(tt.serialize()))
    again = timetable_from_dict(data)
    assert type(again) is type(tt)
    assert again.serialize() == tt.serialize()
    assert again.summary == tt.summary
    start, now = U(2024, 1, 1), U(2024, 2, 1)
    assert list(iter_dagrun_infos(again, start=start, now=now, limit=3)) == list(
        iter_dagrun_infos(tt, start=start, now=now, limit=3))


def test_serialized_forms_are_stable():
    assert CronDataIntervalTimetable("@daily", "UTC").serialize() == {
        "__type": "cron_data_interval", "expression": "@daily", "timezone": "UTC"}
    assert DeltaDataIntervalTimetable(timedelta(hours=1)).serialize() == {
        "__type": "delta_data_interval", "delta": 3600.0}
    assert CronTriggerTimetable("0 8 * * *", ZoneInfo("Asia/Seoul")).serialize()["timezone"] == "Asia/Seoul"


def test_unknown_serialized_type():
    with pytest.raises(InvalidScheduleError, match="unknown serialized timetable type 'bogus'"):
        timetable_from_dict({"__type": "bogus"})


def test_unknown_timezone_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown timezone 'Mars/Olympus'"):
        timetable_from_schedule("@daily", "Mars/Olympus")


# --------------------------------------------------------------------------- timezone helpers
def test_coerce_datetime_accepts_the_usual_shapes():
    from datetime import date

    import pendulum

    from tradewind.definition.timezone import coerce_datetime, parse_timezone, to_utc

    assert coerce_datetime(datetime(2024, 1, 1, 8), "Asia/Seoul") == U(2023, 12, 31, 23)
    assert coerce_datetime(date(2024, 1, 1), NY) == U(2024, 1, 1, 5)
    assert coerce_datetime("2024-01-01T08:00:00Z") == U(2024, 1, 1, 8)
    assert coerce_datetime("2024-01-01", "Europe/London") == U(2024, 1, 1)
    p = coerce_datetime(pendulum.datetime(2024, 6, 1, 12, tz="Europe/London"))
    assert type(p) is datetime and p == U(2024, 6, 1, 11)
    assert to_utc(datetime(2024, 7, 1, 12, tzinfo=NY)) == U(2024, 7, 1, 16)
    assert to_utc(datetime(2024, 7, 1, 12, tzinfo=NY)).tzinfo is UTC
    assert parse_timezone(timezone(timedelta(hours=2))).utcoffset(datetime(2024, 1, 1)) == timedelta(hours=2)
    assert parse_timezone(pendulum.timezone("Asia/Seoul")).key == "Asia/Seoul"
    assert parse_timezone("utc").key == "UTC" and parse_timezone(None).key == "UTC"


def test_timezone_errors_are_clear():
    from tradewind.definition.timezone import TimezoneError, coerce_datetime, parse_timezone

    with pytest.raises(TimezoneError, match="unknown timezone 'Nowhere/City'"):
        parse_timezone("Nowhere/City")
    with pytest.raises(TimezoneError, match="cannot parse 'tomorrow'"):
        coerce_datetime("tomorrow")
    with pytest.raises(TimezoneError, match="expected a datetime"):
        coerce_datetime(12345)
