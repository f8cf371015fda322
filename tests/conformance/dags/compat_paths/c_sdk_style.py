"""Airflow 3 style through the newer names: common.compat re-exports, Context, literal, new timetables."""
from datetime import datetime, timedelta

from airflow.providers.common.compat.assets import Asset
from airflow.providers.common.compat.sdk import DAG, AirflowSkipException, Context, TriggerRule, get_current_context, task
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DeltaTriggerTimetable, EventsTimetable, get_parsing_context, literal
from airflow.timetables.trigger import MultipleCronTriggerTimetable

PARSING = get_parsing_context()

with DAG(
    "c_sdk_style",
    schedule=EventsTimetable([datetime(2024, 3, 5), datetime(2024, 6, 1)], restrict_to_events=True,
                             description="two match days"),
    start_date=datetime(2024, 1, 1),
    catchup=False,
):
    @task(outlets=[Asset("compat://match_report")])
    def produce():
        context: Context = get_current_context()
        return f"{context['ds']} parsed for {PARSING.dag_id}"

    @task
    def optional():
        raise AirflowSkipException("nothing to add today")

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def publish(text):
        return text.upper()

    braces = BashOperator(task_id="braces", bash_command=literal("echo '{{ kept as is }}'"))
    publish(produce()) << optional() << braces

with DAG("c_every_six_hours", schedule=DeltaTriggerTimetable(timedelta(hours=6), interval=timedelta(hours=1)),
         start_date=datetime(2024, 1, 1), catchup=False):
    BashOperator(task_id="tick", bash_command="echo {{ data_interval_start }}")

with DAG("c_twice_daily", schedule=MultipleCronTriggerTimetable("0 6 * * *", "30 18 * * *", timezone="UTC"),
         start_date=datetime(2024, 1, 1), catchup=False):
    BashOperator(task_id="tick", bash_command="echo tick")
