"""The classic first DAG, in today's style: a shell task, a Python task, a TaskFlow task."""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG, BashOperator, PythonOperator, task


def print_hello() -> str:
    # The return value becomes the task's XCom ("return_value"), as in Airflow.
    return "Hello Tradewind"


with DAG(
    dag_id="example_hello",
    description="Hello Tradewind: print the date, say hello, read the greeting back",
    schedule="*/5 0 * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example"],
    default_args={"owner": "tradewind"},
    doc_md="""
### Hello Tradewind

The first DAG of most Airflow tutorials, written the modern way:

1. `print_date` runs the shell command `date` (BashOperator).
2. `python_operator` calls a Python function that returns `"Hello Tradewind"`;
   the return value is stored as an XCom.
3. `greet` is a TaskFlow `@task` that receives that XCom as an argument.

Try it without the scheduler: `tradewind dags test example_hello`.
""",
) as dag:
    print_date = BashOperator(task_id="print_date", bash_command="date")

    python_task = PythonOperator(task_id="python_operator", python_callable=print_hello)

    @task
    def greet(message: str) -> str:
        """Print the greeting the previous task returned, and pass it on shouted."""
        print(f"python_operator said: {message}")
        return message.upper()

    print_date >> python_task
    greet(python_task.output)
