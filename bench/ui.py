"""UI benchmark: every page of the web UI against a big metadata database, in headless chromium.

Run with ``.venv/bin/python bench/ui.py [--dags 500] [--runs 1000] [--tasks 50] [--repeat 5]``.
Never part of the test suite (it takes minutes and needs Debian's chromium and Playwright).

A fresh ``TRADEWIND_HOME`` gets a migrated SQLite database holding ``--dags`` small DAGs (five
tasks, two runs each) and ``bench_grid`` (bench/grid.py's DAG: 50 tasks in groups and a chain)
with ``--runs`` runs of one instance per task, all written straight into the tables. A real
``tradewind api-server`` serves it (no scheduler). Each page of the UI (the GET routes of
``ui_routers()`` that are not data endpoints, downloads or redirects, filled with bench_grid and
one of its failed runs) is opened ``--repeat`` times after one warm-up load, signed in as an
admin, and measured:

* ``data ms`` — for each request the page makes to ``/ui/data/*`` or ``/api/*`` (recorded by
  Playwright), its time from request start to response end; the page's figure is the median over
  the loads of its slowest data request (the one the user waits for). The slowest request is
  named in the table;
* ``http ms`` — that slowest request alone, repeated ``--repeat`` times over plain HTTP with a
  bearer token, one at a time (the server's own time, without the browser's queueing behind the
  page's other requests); median;
* ``first paint`` / ``FCP`` — the ``first-paint`` and ``first-contentful-paint`` entries of the
  Paint Timing API (ms from navigation start), medians over the loads.

Targets: data <= 150 ms (the ``data ms`` column), first paint <= 500 ms. The exit status is 1
when a median is over its target. Results go to ``bench/results/ui.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import grid as grid_bench  # noqa: E402  (bench/grid.py: the big DAG and its runs)

RESULTS = BENCH_DIR / "results"
USER, PASSWORD = "bench-admin", "bench-password-ui"
CHROMIUM = "/usr/bin/chromium"
DATA_TARGET_MS = 150
PAINT_TARGET_MS = 500
TRADEWIND = Path(sys.executable).parent / "tradewind"


def small_dag(dag_id: str) -> Any:
    from tradewind import DAG
    from tradewind.definition.operators.empty import EmptyOperator

    with DAG(dag_id, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), schedule="@daily",
             tags=[f"team_{hash(dag_id) % 7}"], description=f"bench DAG {dag_id}") as dag:
        previous = None
        for i in range(5):
            task = EmptyOperator(task_id=f"step_{i}")
            if previous is not None:
                previous >> task
            previous = task
    dag.fileloc = str(BENCH_DIR / "dags" / f"{dag_id}.py")
    return dag


def populate_many(db: Any, n_dags: int) -> None:
    """``n_dags`` five-task DAGs, each with a successful and a failed run."""
    from sqlalchemy import insert, select

    from tradewind.parse.dagbag import FileParseResult
    from tradewind.parse.snapshot import serialize_dag
    from tradewind.persist.models import DagModel, DagRun, TaskInstance
    from tradewind.persist.queries import dags as dag_queries

    now = datetime.now(timezone.utc)
    dags = [small_dag(f"bench_dag_{i:04d}") for i in range(n_dags)]
    with db.session_scope() as session:
        dag_queries.store_file_results(
            session, [FileParseResult(d.fileloc, dags=[serialize_dag(d)], errors=[]) for d in dags], now)
        versions = dict(session.execute(select(DagModel.dag_id, DagModel.latest_version_id)
                                        .where(DagModel.dag_id.like("bench_dag_%"))).all())
    runs, tis = [], []
    for d in dags:
        for r, state in enumerate(("success", "failed")):
            logical = datetime(2024, 6, 1, tzinfo=timezone.utc) + timedelta(days=r)
            run_id = f"scheduled__{logical.isoformat()}"
            runs.append({"dag_id": d.dag_id, "run_id": run_id, "run_type": "scheduled", "state": state,
                         "logical_date": logical, "data_interval_start": logical,
                         "data_interval_end": logical + timedelta(days=1), "run_after": logical + timedelta(days=1),
                         "queued_at": logical + timedelta(days=1), "start_date": logical + timedelta(days=1),
                         "end_date": logical + timedelta(days=1, minutes=3), "conf": {},
                         "dag_version_id": versions[d.dag_id]})
            for i, task in enumerate(d.tasks):
                tis.append({"dag_id": d.dag_id, "run_id": run_id, "task_id": task.task_id, "map_index": -1,
                            "state": "failed" if state == "failed" and i == 4 else "success",
                            "try_number": 1, "max_tries": 1, "dag_version_id": versions[d.dag_id]})
    with db.session_scope() as session:
        session.execute(insert(DagRun), runs)
        for chunk in range(0, len(tis), 10_000):
            session.execute(insert(TaskInstance), tis[chunk:chunk + 10_000])


def page_paths(ids: dict[str, str]) -> list[str]:
    """The UI's HTML pages, filled with ``ids`` (pages with other parameters are left out)."""
    from tradewind.observe.ui.routes import page_route_paths

    paths: list[str] = []
    for path in page_route_paths():
        names = re.findall(r"{(\w+)(?::[^}]*)?}", path)
        if any(n not in ids for n in names):
            print(f"skipped {path}: no value for {[n for n in names if n not in ids]}")
            continue
        filled = re.sub(r"{(\w+)(?::[^}]*)?}", lambda m: quote(ids[m.group(1)], safe=""), path)
        if filled not in paths:
            paths.append(filled)
    return paths


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND")}
    env.update({"TRADEWIND_HOME": str(home), "TRADEWIND__CORE__LOAD_EXAMPLES": "False"})
    log = open(home / "api-server.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen([str(TRADEWIND), "api-server", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        status, _, _ = grid_bench.http(f"http://127.0.0.1:{port}/api/v1/health") if _listening(port) else (0, b"", None)
        if status == 200:
            return process
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"api-server did not start (log: {home / 'api-server.log'})")
        time.sleep(0.1)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


PAINT_JS = """() => {
    const paint = Object.fromEntries(performance.getEntriesByType("paint").map((e) => [e.name, e.startTime]));
    return {fp: paint["first-paint"] ?? null, fcp: paint["first-contentful-paint"] ?? null};
}"""


def measure(base: str, paths: list[str], repeat: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = browser.new_context(base_url=base, viewport={"width": 1440, "height": 900})
            page = context.new_page()
            page.goto("/login")
            page.get_by_label("Username").fill(USER)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)
            for path in paths:
                loads: list[dict[str, Any]] = []
                for i in range(repeat + 1):
                    tab = context.new_page()
                    data: list[tuple[str, float, int]] = []

                    def finished(request: Any, data: list = data) -> None:
                        where = urlsplit(request.url)
                        if where.path.startswith(("/ui/data/", "/api/")):
                            response = request.response()
                            data.append((f"{where.path}{'?' + where.query if where.query else ''}",
                                         request.timing["responseEnd"], response.status if response else 0))

                    tab.on("requestfinished", finished)
                    tab.goto(path)
                    try:
                        tab.wait_for_load_state("networkidle", timeout=5_000)
                    except Exception:  # noqa: BLE001 - a page that keeps polling
                        pass
                    paint = tab.evaluate(PAINT_JS)
                    tab.close()
                    if i:  # the first load warms caches (server snapshot cache, browser static files)
                        loads.append({"data": data, **paint})
                slowest = [max(load["data"], key=lambda d: d[1]) if load["data"] else None for load in loads]
                results[path] = {
                    "data_ms": statistics.median([s[1] for s in slowest]) if all(slowest) else None,
                    "slowest": slowest[0][0] if slowest and slowest[0] else None,
                    "requests": sorted({d[0] for load in loads for d in load["data"]}),
                    "errors": sorted({f"{d[0]} -> {d[2]}" for load in loads for d in load["data"] if d[2] >= 400}),
                    "fp_ms": statistics.median([load["fp"] for load in loads if load["fp"] is not None] or [0]),
                    "fcp_ms": statistics.median([load["fcp"] for load in loads if load["fcp"] is not None] or [0]),
                    "samples": loads,
                }
                print(f"  {path}: done", flush=True)
        finally:
            browser.close()
    return results


def time_direct(base: str, results: dict[str, Any], repeat: int) -> None:
    """Add ``http_ms`` to each page: its slowest data request timed alone over HTTP."""
    status, body, _ = grid_bench.http(f"{base}/api/v1/auth/token", data={"username": USER, "password": PASSWORD})
    assert status == 201, body
    token = json.loads(body)["access_token"]
    for r in results.values():
        if not r["slowest"]:
            r["http_ms"] = None
            continue
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            grid_bench.http(f"{base}{r['slowest']}", token=token)
            samples.append((time.perf_counter() - t0) * 1000)
        r["http_ms"] = statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dags", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary TRADEWIND_HOME")
    args = parser.parse_args(argv)

    try:
        import playwright  # noqa: F401
    except ImportError:
        print("the playwright package is not installed (pip install -e '.[dev]')")
        return 2
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing (sudo scripts/install-services.sh installs Debian's chromium)")
        return 2

    from tradewind.persist.queries import users

    home, config, db = grid_bench.fresh_home("tw-bench-ui-")
    process = None
    try:
        t0 = time.perf_counter()
        populate_many(db, args.dags)
        dag = grid_bench.build_dag(args.tasks)
        grid_bench.populate(db, dag, args.runs)
        with db.session_scope() as session:
            users.create_user(session, username=USER, password=PASSWORD, role="admin", now=datetime.now(timezone.utc))
        db.dispose()
        print(f"populated {args.dags} DAGs and {args.runs} runs x {args.tasks} tasks in {time.perf_counter() - t0:.1f} s")

        # A failed run of bench_grid (grid.py fails every 20th from the 8th) and one of its tasks.
        failed_day = ((args.runs - 9) // 20) * 20 + 7
        failed_run = f"scheduled__{(datetime(2021, 1, 1, tzinfo=timezone.utc) + timedelta(days=failed_day)).isoformat()}"
        ids = {"dag_id": grid_bench.DAG_ID, "run_id": failed_run, "dag_run_id": failed_run,
               "task_id": dag.tasks[0].task_id}
        paths = page_paths(ids)
        port = grid_bench.free_port()
        process = start_server(home, port)
        base = f"http://127.0.0.1:{port}"
        print(f"api-server on {base}; measuring {len(paths)} pages x {args.repeat} loads")
        results = measure(base, paths, args.repeat)
        time_direct(base, results, args.repeat)
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)

    over = []
    print(f"\n{'page':<58}{'data ms':>9}{'http ms':>9}{'FP ms':>8}{'FCP ms':>8}  slowest data request")
    for path, r in results.items():
        data = r["data_ms"]
        flags = ""
        if data is not None and data > DATA_TARGET_MS:
            flags += " DATA>target"
            over.append(f"{path}: data {data:.0f} ms")
        if r["fp_ms"] > PAINT_TARGET_MS:
            flags += " FP>target"
            over.append(f"{path}: first paint {r['fp_ms']:.0f} ms")
        shown = f"{data:>9.0f}" if data is not None else f"{'-':>9}"
        shown += f"{r['http_ms']:>9.0f}" if r.get("http_ms") is not None else f"{'-':>9}"
        print(f"{path[:57]:<58}{shown}{r['fp_ms']:>8.0f}{r['fcp_ms']:>8.0f}  {(r['slowest'] or '')[:70]}{flags}")
        for error in r["errors"]:
            print(f"{'':<58}  error: {error}")
    load = os.getloadavg()[0]
    print(f"load average while measuring ended at {load:.1f} on {os.cpu_count()} CPUs")
    print(f"targets: data <= {DATA_TARGET_MS} ms, first paint <= {PAINT_TARGET_MS} ms "
          f"(medians of {args.repeat} loads; {args.dags} DAGs, {args.runs} runs x {args.tasks} tasks)")
    RESULTS.mkdir(exist_ok=True)
    out = {"when": datetime.now(timezone.utc).isoformat(), "dags": args.dags, "runs": args.runs, "tasks": args.tasks,
           "repeat": args.repeat, "targets": {"data_ms": DATA_TARGET_MS, "first_paint_ms": PAINT_TARGET_MS},
           "pages": results, "over": over, "load_average": os.getloadavg()}
    (RESULTS / "ui.json").write_text(json.dumps(out, indent=2) + "\n")
    if over:
        print("over target:\n  " + "\n  ".join(over))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
