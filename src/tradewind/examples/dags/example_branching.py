"""Branching, short-circuiting and trigger rules, all decided from the run's logical date."""

from __future__ import annotations

from datetime import datetime

from tradewind import (
    DAG,
    BranchPythonOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
    TriggerRule,
)


def pick_by_weekday(logical_date=None) -> str:
    # Weekend runs take the light path; weekdays do the full refresh.
    return "weekend_light_refresh" if logical_date.weekday() >= 5 else "weekday_full_refresh"


def is_month_start(ds=None) -> bool:
    # Falsy: the task right after the short-circuit is skipped (see ignore_downstream_trigger_rules).
    return ds.endswith("-01")


def say(message: str) -> str:
    print(message)
    return message


with DAG(
    dag_id="example_branching",
    description="BranchPythonOperator, ShortCircuitOperator and trigger rules",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example"],
    default_args={"owner": "tradewind"},
    doc_md="""
### Branching and trigger rules

* `choose_path` (BranchPythonOperator) returns the task id to follow:
  `weekday_full_refresh` on weekdays, `weekend_light_refresh` on weekends; the other
  branch is **skipped**.
* `join` uses `trigger_rule="none_failed_min_one_success"`, so it runs after whichever
  branch ran although the other was skipped (the default `all_success` would skip it).
* `only_on_month_start` (ShortCircuitOperator) returns False except on the 1st of the
  month, which skips `monthly_report`. With `ignore_downstream_trigger_rules=False` only
  the direct downstream task is skipped and tasks further down follow their own trigger
  rules (the default, True, would skip everything downstream).
* `cleanup` uses `trigger_rule="all_done"`: it runs whatever happened upstream.
""",
) as dag:
    start = EmptyOperator(task_id="start")
    choose_path = BranchPythonOperator(task_id="choose_path", python_callable=pick_by_weekday)
    full = PythonOperator(task_id="weekday_full_refresh", python_callable=say,
                          op_kwargs={"message": "full refresh for {{ ds }}"})
    light = PythonOperator(task_id="weekend_light_refresh", python_callable=say,
                           op_kwargs={"message": "light refresh for {{ ds }}"})
    join = EmptyOperator(task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    month_start = ShortCircuitOperator(task_id="only_on_month_start", python_callable=is_month_start,
                                       ignore_downstream_trigger_rules=False)
    monthly_report = PythonOperator(task_id="monthly_report", python_callable=say,
                                    op_args=["monthly report for {{ logical_date.strftime('%B %Y') }}"])
    cleanup = EmptyOperator(task_id="cleanup", trigger_rule=TriggerRule.ALL_DONE)

    start >> choose_path >> [full, light] >> join >> month_start >> monthly_report >> cleanup
