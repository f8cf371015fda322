# An unfinished airflow DAG the .airflowignore keeps out of the parser: importing it would fail.
from airflow import DAG

raise RuntimeError(f"{DAG.__name__} file not finished yet")
