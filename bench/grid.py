"""Grid benchmark: a DAG with 1,000 runs x 50 tasks on SQLite, the grid's data endpoint and its paint.

Run with ``.venv/bin/python bench/grid.py [--runs 1000] [--tasks 50] [--repeat 7]``. Never part of
the test suite.

A fresh ``TRADEWIND_HOME`` gets a migrated SQLite database, one DAG (``bench_grid``: 50 tasks,
two task groups of 10 and a chain) stored as the DAG processor stores it, and the runs and task
instances written straight into the tables (mixed states, like a DAG with a history). The real
app is served by uvicorn on a free localhost port and measured over HTTP:

* ``grid_endpoint_ms`` — median wall time of ``GET /ui/data/dags/bench_grid/grid?limit=1000``
  (full answer, 200) over ``--repeat`` requests after one warm-up, with a bearer token;
* ``grid_304_ms`` — the same request with ``If-None-Match`` (what live polling costs when
  nothing changed);
* ``grid_paint_ms`` — in headless Debian chromium through Playwright (when both are installed):
  signed in through the login form, ``/dags/bench_grid/grid?num_runs=1000`` opened; the time
  from the grid data's response end (Resource Timing) to the first frame painted after the grid
  was inserted (``data-painted-at`` set by grid.js). Median over ``--repeat`` page loads.
  ``grid_build_ms`` is the part spent building the DOM.

Targets (issue 4): data <= 300 ms, paint <= 1 s. Results go to ``bench/results/grid.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"
DAG_ID = "bench_grid"
USER, PASSWORD = "bench", "bench-password-grid"
CHROMIUM = "/usr/bin/chromium"

#: How the runs' task states are mixed (most succeed, as in a real history).
STATE_CYCLE = ["success"] * 17 + ["failed", "upstream_failed", "skipped"]


def build_dag(n_tasks: int) -> Any:
    """``bench_grid``: two groups of 10 tasks and a chain for the rest (``n_tasks`` in all)."""
    from tradewind import DAG, TaskGroup
    from tradewind.definition.operators.empty import EmptyOperator

    with DAG(DAG_ID, start_date=datetime(2020, 1, 1, tzinfo=timezone.utc), schedule="@daily") as dag:
        previous = None
        made = 0
        for g in range(2):
            if n_tasks - made < 10:
                break
            with TaskGroup(f"group_{g}") as group:
                for i in range(10):
                    EmptyOperator(task_id=f"t{i}")
            made += 10
            if previous is not None:
                previous >> group
            previous = group
        while made < n_tasks:
            task = EmptyOperator(task_id=f"task_{made}")
            if previous is not None:
                previous >> task
            previous = task
            made += 1
    dag.fileloc = str(BENCH_DIR / "grid.py")
    return dag


def populate(db: Any, dag: Any, n_runs: int) -> None:
    """Store the DAG and write ``n_runs`` runs with one instance per task each, straight into the tables."""
    from sqlalchemy import insert

    from tradewind.parse.dagbag import FileParseResult
    from tradewind.parse.snapshot import serialize_dag
    from tradewind.persist.models import DagModel, DagRun, TaskInstance
    from tradewind.persist.queries import dags as dag_queries

    now = datetime.now(timezone.utc)
    with db.session_scope() as session:
        dag_queries.store_file_results(session, [FileParseResult(dag.fileloc, dags=[serialize_dag(dag)], errors=[])], now)
        version_id = session.get(DagModel, DAG_ID).latest_version_id
    task_ids = [t.task_id for t in dag.tasks]
    start = datetime(2021, 1, 1, tzinfo=timezone.utc)
    runs, tis = [], []
    for r in range(n_runs):
        logical = start + timedelta(days=r)
        run_id = f"scheduled__{logical.isoformat()}"
        began = logical + timedelta(days=1)
        finished = r < n_runs - 1
        runs.append({"dag_id": DAG_ID, "run_id": run_id, "run_type": "scheduled",
                     "state": ("failed" if r % 20 == 7 else "success") if finished else "running",
                     "logical_date": logical, "data_interval_start": logical, "data_interval_end": began,
                     "run_after": began, "queued_at": began, "start_date": began,
                     "end_date": began + timedelta(seconds=30 + r % 90) if finished else None,
                     "conf": {}, "dag_version_id": version_id})
        for i, task_id in enumerate(task_ids):
            state = STATE_CYCLE[(r + i) % len(STATE_CYCLE)] if finished else ("running" if i == 0 else "none")
            tis.append({"dag_id": DAG_ID, "run_id": run_id, "task_id": task_id, "map_index": -1, "state": state,
                        "try_number": 1, "max_tries": 1, "dag_version_id": version_id})
    with db.session_scope() as session:
        session.execute(insert(DagRun), runs)
        for chunk in range(0, len(tis), 10_000):
            session.execute(insert(TaskInstance), tis[chunk:chunk + 10_000])


def fresh_home(prefix: str) -> tuple[Path, Any, Any]:
    """A temporary TRADEWIND_HOME with an empty DAG folder and a migrated SQLite database:
    (home, config, db). The caller removes ``home``."""
    from tradewind.config import Config
    from tradewind.persist.db import Database
    from tradewind.persist.migrate import upgrade

    home = Path(tempfile.mkdtemp(prefix=prefix))
    (home / "dags").mkdir()
    config = Config.load(home=home, environ={}, overrides={"core": {"load_examples": "False"}})
    config.ensure_home()
    db = Database.from_config(config)
    upgrade(db, default_pool_slots=config.getint("core", "default_pool_slots"))
    return home, config, db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app: Any, port: int) -> Any:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start in 30 s")
        time.sleep(0.05)
    return server


def http(url: str, *, token: str | None = None, data: dict | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
    request = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None,
                                     headers={**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {}),
                                              **({"Content-Type": "application/json"} if data is not None else {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


def time_endpoint(base: str, token: str, n_runs: int, repeat: int) -> dict[str, Any]:
    url = f"{base}/ui/data/dags/{DAG_ID}/grid?limit={n_runs}"
    status, body, headers = http(url, token=token)  # warm-up (snapshot cache, connection pool)
    assert status == 200, body[:300]
    grid = json.loads(body)
    assert len(grid["runs"]["run_id"]) == n_runs, len(grid["runs"]["run_id"])
    full, cached = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        status, body, _ = http(url, token=token)
        full.append((time.perf_counter() - t0) * 1000)
        assert status == 200
        t0 = time.perf_counter()
        status, _, _ = http(url, token=token, headers={"If-None-Match": headers["etag"]})
        cached.append((time.perf_counter() - t0) * 1000)
        assert status == 304, status
    return {"grid_endpoint_ms": full, "grid_304_ms": cached, "grid_bytes": len(body)}


def time_paint(base: str, n_runs: int, repeat: int) -> dict[str, Any] | str:
    """Paint timings in headless chromium, or the reason they could not be taken."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (sudo scripts/install-services.sh installs Debian's chromium)"
    paint, build = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
            page.goto(f"{base}/login")
            page.fill("#username", USER)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)  # the home page or the DAG list
            for i in range(repeat + 1):
                page.goto(f"{base}/dags/{DAG_ID}/grid?num_runs={n_runs}")
                page.wait_for_selector("#grid[data-painted-at]", state="attached", timeout=60_000)
                cells = page.evaluate("document.querySelectorAll('#grid .grid-row i').length")
                assert cells >= n_runs * 50 or cells > 0, cells
                result = page.evaluate("""() => {
                    const entry = performance.getEntriesByType('resource').find((e) => e.name.includes('/ui/data/dags/'));
                    const root = document.getElementById('grid');
                    return {paint: Number(root.dataset.paintedAt) - entry.responseEnd, build: Number(root.dataset.buildMs)};
                }""")
                if i:  # the first load warms the browser's caches
                    paint.append(result["paint"])
                    build.append(result["build"])
        finally:
            browser.close()
    return {"grid_paint_ms": paint, "grid_build_ms": build}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary TRADEWIND_HOME")
    args = parser.parse_args(argv)

    from tradewind.observe.api.app import create_app
    from tradewind.persist.queries import users

    home, config, db = fresh_home("tw-bench-grid-")
    server = None
    try:
        t0 = time.perf_counter()
        populate(db, build_dag(args.tasks), args.runs)
        print(f"populated {args.runs} runs x {args.tasks} tasks in {time.perf_counter() - t0:.1f} s")
        with db.session_scope() as session:
            users.create_user(session, username=USER, password=PASSWORD, role="viewer", now=datetime.now(timezone.utc))
        port = free_port()
        server = serve(create_app(config, db), port)
        base = f"http://127.0.0.1:{port}"
        status, body, _ = http(f"{base}/api/v1/auth/token", data={"username": USER, "password": PASSWORD})
        assert status == 201, body
        token = json.loads(body)["access_token"]
        results: dict[str, Any] = time_endpoint(base, token, args.runs, args.repeat)
        paint = time_paint(base, args.runs, args.repeat)
        if isinstance(paint, str):
            print(f"paint not measured: {paint}")
            results["paint_skipped"] = paint
        else:
            results.update(paint)
    finally:
        if server is not None:
            server.should_exit = True
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)

    targets = {"grid_endpoint_ms": 300, "grid_304_ms": 300, "grid_paint_ms": 1000, "grid_build_ms": 1000}
    print(f"\n{'metric':<20}{'median':>10}{'min':>10}{'max':>10}{'target':>10}")
    summary = {}
    for key in ("grid_endpoint_ms", "grid_304_ms", "grid_paint_ms", "grid_build_ms"):
        samples = results.get(key)
        if not samples:
            continue
        summary[key] = statistics.median(samples)
        print(f"{key:<20}{summary[key]:>10.0f}{min(samples):>10.0f}{max(samples):>10.0f}{targets[key]:>10}")
    print(f"grid answer: {results['grid_bytes'] / 1024:.0f} KiB for {args.runs} runs x {args.tasks} tasks")
    RESULTS.mkdir(exist_ok=True)
    out = {"when": datetime.now(timezone.utc).isoformat(), "runs": args.runs, "tasks": args.tasks,
           "python": sys.version.split()[0], "medians": summary, "samples": results}
    (RESULTS / "grid.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
