# Seed: /work/shared/seeds/004_ce38e5284964a702.txt, section "3.4.1 DAG 개발": the callbacks the
# tutorial says to add to the `support` package used by my_first_airflow_dag.py and data_extract_pipeline.py.
def success_callback(context):
    print("success_callback!")
    print(f"context: {context}")

def failure_callback(context):
    print("failure_callback!")
    print(f"context: {context}")
