"""Setup and teardown: make a scratch workspace, work in it, and always remove it afterwards."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from tradewind import DAG, get_current_context, setup, task, teardown
from tradewind.examples.support import run_folder

with DAG(
    dag_id="example_setup_teardown",
    description="A scratch workspace made by a setup task and removed by its teardown, even after a failure",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example"],
    default_args={"owner": "tradewind"},
    doc_md="""
### Setup and teardown

- `create_workspace` (`@setup`) makes a folder for this run and writes the input into it.
- `count_rows` and `summarize` work in that folder. They are created inside
  `with remove_workspace(...).as_teardown(setups=workspace):`, so they run after the setup
  and before the teardown without wiring them by hand.
- `remove_workspace` (`@teardown`) deletes the folder. It runs even when the work fails
  (trigger rule `all_done_setup_success`), is skipped if the setup was skipped, and its own
  failure does not fail the run: the work tasks decide the outcome.

Clearing `summarize` (`tradewind tasks clear example_setup_teardown -t summarize`) clears the
setup and the teardown too, so the workspace exists again when `summarize` re-runs.

Try it: `tradewind dags test example_setup_teardown`.
""",
) as dag:

    @setup
    def create_workspace() -> str:
        """Make this run's folder and put the input file in it; the folder is the XCom."""
        folder = run_folder("setup_teardown", get_current_context()["run_id"])
        (folder / "orders.csv").write_text("id,amount\n1,20\n2,35\n3,12\n")
        return str(folder)

    @task
    def count_rows(workspace: str) -> int:
        lines = (Path(workspace) / "orders.csv").read_text().splitlines()
        return len(lines) - 1

    @task
    def summarize(workspace: str, rows: int) -> str:
        summary = f"{rows} orders processed"
        (Path(workspace) / "summary.txt").write_text(summary + "\n")
        return summary

    @teardown
    def remove_workspace(workspace: str) -> None:
        """Delete the folder; nothing of the run's scratch data stays behind."""
        shutil.rmtree(workspace, ignore_errors=True)
        print(f"removed {workspace}")

    workspace = create_workspace()
    with remove_workspace(workspace).as_teardown(setups=workspace):
        summarize(workspace, count_rows(workspace))
