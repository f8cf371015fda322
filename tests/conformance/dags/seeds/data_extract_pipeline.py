# Seed: /work/shared/seeds/004_ce38e5284964a702.txt — MLOps study notes, section "3.5.2 DAG 개발"
# ("DAG 생성" and "Task 개발": SQLExecuteQueryOperator on the MariaDB feature store, conn_id feature_store).
# Fixed for Python 3: the published `with DAG(...) as dag:` block has no body (a SyntaxError); the section
# says each SQL statement becomes a task added to the DAG, so the published task is that body (moved inside
# the block, unchanged).
import pendulum # 날짜 및 시간 관련 작업 python 라이브러리
from datetime import datetime
from airflow import DAG
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

from support.callback_functions import success_callback, failure_callback

local_timezone = pendulum.timezone('Asia/Seoul')

conn_id = "feature_store"

with DAG(dag_id="data_extract_pipeline",
         default_args={
             "owner": "mlops.study",
             "depends_on_past": False,
             "email": ["mlops.study@gmail.com"],
             "on_failure_callback": failure_callback,
             "on_success_callback": success_callback,
         },
         description='데이터추출_파이프라인',
         schedule=None, # 주기적으로 실행되지 않도록 None으로 설정
         start_date=datetime(2023, 5, 1, tzinfo=local_timezone),
         catchup=False,
        tags=["mlops", "study"],
        ) as dag:
    task = SQLExecuteQueryOperator(
        task_id="create_table_ineligible_loan_model_features_02",
        conn_id=conn_id,
        sql="drop table mlops.ineligible_loan_model_features"
    )
