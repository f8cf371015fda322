"""Calendar-driven branching: LatestOnlyOperator, BranchDayOfWeekOperator, BranchDateTimeOperator,
labelled edges and display names."""

from __future__ import annotations

from datetime import datetime, time

from tradewind import (
    DAG,
    BranchDateTimeOperator,
    BranchDayOfWeekOperator,
    EmptyOperator,
    Label,
    LatestOnlyOperator,
    PythonOperator,
    TriggerRule,
    WeekDay,
)


def publish(kind: str, ds: str | None = None) -> str:
    message = f"{kind} report for {ds}"
    print(message)
    return message


with DAG(
    dag_id="example_calendar_branching",
    dag_display_name="Calendar branching (example)",
    description="LatestOnly, day-of-week and time-window branches, with labelled edges",
    schedule="0 6 * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example"],
    default_args={"owner": "tradewind"},
    doc_md="""
### Calendar branching

* `latest_only` skips everything after it unless the run is the most recent scheduled
  interval (a backfilled or caught-up run only loads data; it does not notify anyone).
  Manual runs are never skipped.
* `is_weekend` (BranchDayOfWeekOperator) follows `weekend_digest` on Saturdays and Sundays,
  `weekday_report` otherwise, judged on the run's logical date.
* `in_business_hours` (BranchDateTimeOperator) compares the logical date's time of day
  with 05:00-09:00: this DAG runs at 06:00, so scheduled runs take `morning_alert`.
* The edges out of the branches carry labels, shown in the graph view.
""",
) as dag:
    load = EmptyOperator(task_id="load", task_display_name="Load the day's data")
    latest_only = LatestOnlyOperator(task_id="latest_only")
    is_weekend = BranchDayOfWeekOperator(
        task_id="is_weekend",
        week_day={WeekDay.SATURDAY, WeekDay.SUNDAY},
        follow_task_ids_if_true="weekend_digest",
        follow_task_ids_if_false="weekday_report",
        use_task_logical_date=True,
    )
    weekend = PythonOperator(task_id="weekend_digest", python_callable=publish, op_args=["weekend digest"])
    weekday = PythonOperator(task_id="weekday_report", python_callable=publish, op_args=["weekday"])
    in_hours = BranchDateTimeOperator(
        task_id="in_business_hours",
        target_lower=time(5, 0),
        target_upper=time(9, 0),
        follow_task_ids_if_true="morning_alert",
        follow_task_ids_if_false="quiet",
        use_task_logical_date=True,
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    )
    alert = PythonOperator(task_id="morning_alert", python_callable=publish, op_args=["morning"],
                           task_display_name="Morning alert")
    quiet = EmptyOperator(task_id="quiet")

    load >> latest_only >> is_weekend
    is_weekend >> Label("Saturday or Sunday") >> weekend
    is_weekend >> Label("Monday to Friday") >> weekday
    [weekend, weekday] >> in_hours
    in_hours >> Label("05:00-09:00") >> alert
    in_hours >> Label("other hours") >> quiet
