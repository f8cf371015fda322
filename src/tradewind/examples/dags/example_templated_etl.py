"""Extract -> transform -> load with templates, params, XCom, retries and a task group."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from tradewind import DAG, BashOperator, Param, TaskGroup, task
from tradewind.examples.support import data_folder

TEMPLATES = Path(__file__).parent / "templates"

with DAG(
    dag_id="example_templated_etl",
    description="A small daily ETL showing templates, params, XCom and a task group",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example"],
    template_searchpath=[str(TEMPLATES)],
    # Called while rendering, in the task process, never while parsing.
    user_defined_macros={"data_folder": data_folder},
    params={
        "region": Param("eu", type="string", description="Region whose sales are processed"),
        "rows": Param(24, type="integer", minimum=1, maximum=1000, description="Rows to extract"),
        "fail_first_try": Param(False, type="boolean", description="Fail extract once to show retries"),
    },
    default_args={"owner": "tradewind", "retries": 0},
    doc_md="""
### Templated ETL

One run per day, writing under `<data folder>/templated_etl/<region>/<ds>/`
(the data folder is the Variable `data_folder`, else `[core] data_folder`,
which defaults to `$TRADEWIND_HOME/data`).

* `prepare_workspace` — a BashOperator whose command is the template file
  `templates/prepare_workspace.sh`, found through `template_searchpath`. It uses
  `{{ ds }}`, `{{ data_interval_start }}`, `{{ params.region }}` and a user macro,
  and pushes the workspace folder (its last stdout line) as XCom.
* `extract` — TaskFlow task with `retries=2`; set the param `fail_first_try` to
  see the first try fail and the second succeed.
* `transform` — a task group: `clean` then `summarize`, passing values by XCom.
* `load` — writes `summary.json`; `report` prints it with a templated XCom pull.
""",
) as dag:
    prepare = BashOperator(task_id="prepare_workspace", bash_command="prepare_workspace.sh")

    @task(retries=2, retry_delay=timedelta(seconds=1))
    def extract(workspace: str, ds=None, params=None, ti=None) -> dict:
        """Write deterministic raw sales rows for the day to ``raw.csv``."""
        if params["fail_first_try"] and ti.try_number == 1:
            raise RuntimeError("simulated flaky source (param fail_first_try); the retry will succeed")
        day = int(ds.replace("-", ""))
        lines = ["hour,units,unit_price"]
        for hour in range(int(params["rows"])):
            units = (day * 31 + hour * 17) % 50
            price = 5 + (day + hour) % 7
            lines.append(f"{hour % 24},{units},{price}")
        raw = Path(workspace) / "raw.csv"
        raw.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return {"workspace": workspace, "raw": str(raw), "rows": len(lines) - 1}

    extracted = extract(prepare.output)

    with TaskGroup(group_id="transform", tooltip="Clean the raw rows, then summarise them") as transform:

        @task
        def clean(extracted: dict) -> dict:
            """Drop rows without sales; write ``clean.csv``."""
            rows = Path(extracted["raw"]).read_text(encoding="utf-8").splitlines()
            kept = [rows[0]] + [r for r in rows[1:] if int(r.split(",")[1]) > 0]
            out = Path(extracted["workspace"]) / "clean.csv"
            out.write_text("\n".join(kept) + "\n", encoding="utf-8")
            return {"workspace": extracted["workspace"], "clean": str(out), "dropped": len(rows) - len(kept)}

        @task
        def summarize(cleaned: dict) -> dict:
            """Total units and revenue of the day."""
            rows = Path(cleaned["clean"]).read_text(encoding="utf-8").splitlines()[1:]
            units = sum(int(r.split(",")[1]) for r in rows)
            revenue = sum(int(r.split(",")[1]) * int(r.split(",")[2]) for r in rows)
            return {"workspace": cleaned["workspace"], "rows": len(rows), "units": units, "revenue": revenue,
                    "dropped": cleaned["dropped"]}

        summary = summarize(clean(extracted))

    @task
    def load(summary: dict, ds=None, data_interval_start=None, data_interval_end=None, params=None) -> str:
        """Write ``summary.json`` for the day and return its path."""
        record = dict(summary, ds=ds, region=params["region"],
                      data_interval_start=str(data_interval_start), data_interval_end=str(data_interval_end))
        out = Path(summary["workspace"]) / "summary.json"
        out.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
        return str(out)

    report = BashOperator(
        task_id="report",
        bash_command="echo 'summary for {{ ds }}:' && cat \"{{ ti.xcom_pull(task_ids='load') }}\"",
    )

    load(summary) >> report
