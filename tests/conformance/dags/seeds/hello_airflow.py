# Seed: /work/shared/seeds/000_e5074a8c252552e6.txt — "데이타 워크플로우 관리를 위한 Apache Airflow #1 - 소개"
# (Terry Cho, 2017), section "Operator and Task" (the hello-airflow DAG).
# Fixed for Python 3: start_date=datetime(2017,07,01) -> datetime(2017,7,1) (leading-zero integer literals are
# a SyntaxError in Python 3). Everything else is as in the tutorial.
# ruff: noqa: F401  (the tutorial's unused imports are kept as published)
from airflow import DAG

from airflow.operators.bash_operator import BashOperator

from airflow.operators.dummy_operator import DummyOperator

from airflow.operators.python_operator import PythonOperator

from datetime import datetime,timedelta


dag = DAG('hello-airflow',description='Hello airflow DAG',

         schedule_interval = '*/5 0 * * *',

         start_date=datetime(2017,7,1),catchup=False)


def print_hello():

   return 'Hello Airflow'


python_task = PythonOperator(

                   task_id='python_operator',

                   python_callable = print_hello,

                   dag = dag)


bash_task = BashOperator(

       task_id='print_date',

       bash_command='date',

       dag=dag)


bash_task.set_downstream(python_task)
