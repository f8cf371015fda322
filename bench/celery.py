"""Tradewind Celery benchmark: two Celery workers on loopback beside the local executor, on PostgreSQL.

Run with ``.venv/bin/python bench/celery.py [--repeat 3]``. Never part of the test suite. Needs the
PostgreSQL server binaries (as the tests do), ``redis-server`` and the ``celery`` extra.

One PostgreSQL server and one ``redis-server`` (both throwaway, on free loopback ports) serve every
repeat. Each repeat measures, on a fresh database each:

* **celery** — ``tradewind api-server`` (the execution API), ``tradewind scheduler --executor
  celery`` and two ``tradewind celery worker --concurrency 8`` processes. The workers get only the
  broker URL, the execution API URL and the DAGs folder, as in a real deployment (no database URL);
* **local** — ``tradewind scheduler --executor local`` on the same PostgreSQL server.

and in each:

* ``chain_e2e_s`` — ``bench_chain`` (20 no-op Python tasks in a line): run created -> run success;
* ``chain_gap_ms`` — median gap between one chain task ending and the next one starting;
* ``fanout_e2e_s`` — ``bench_fanout200`` (start -> 200 parallel no-op tasks -> end), same measure;
* ``fanout_tasks_per_s`` — the fan-out's 202 tries divided by its run time;
* breakdowns (medians, ms): for the chain the scheduler's reaction, queued -> try running (for
  Celery: broker, worker, fork, snapshot check, claim over HTTP) and claim -> outcome; the same two
  over the fan-out's tries;
* ``cpu_s`` — CPU seconds each process tree (PostgreSQL and Redis too) spent during the two runs,
  to see which part a two-core machine runs out of.

It prints the medians side by side and writes every sample to ``bench/results/celery.json``.

(This file is called ``celery.py``: it must never ``import celery`` itself — its own directory is
first on ``sys.path`` — and every process it starts runs with another working directory.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psutil

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(REPO / "tests"))

from run import (  # noqa: E402  (bench/run.py: the local benchmark's helpers)
    BENCH_DAGS,
    CHAIN_DAG,
    BenchError,
    chain_breakdown_ms,
    chain_gaps_ms,
    fmt,
    free_port,
    parse_ts,
    start_postgres,
    tradewind_cmd,
)
from service_support import stop_process  # noqa: E402  (tests/service_support.py)

FANOUT_DAG = "bench_fanout200"
FANOUT_WIDTH = 200
WORKERS = 2
WORKER_CONCURRENCY = 8

#: (key, label, unit); the table shows each for both executors.
METRICS = [
    ("chain_e2e_s", "20-task chain, trigger -> success", "s"),
    ("chain_gap_ms", "gap between chained tasks (median)", "ms"),
    ("chain_react_ms", "chain: task ended -> next task queued", "ms"),
    ("chain_dispatch_ms", "chain: task queued -> try running", "ms"),
    ("chain_run_ms", "chain: one no-op try, claim -> outcome", "ms"),
    ("fanout_e2e_s", f"{FANOUT_WIDTH}-task fan-out, trigger -> success", "s"),
    ("fanout_tasks_per_s", "fan-out throughput", "tries/s"),
    ("fanout_dispatch_ms", "fan-out: task queued -> try running (median)", "ms"),
    ("fanout_run_ms", "fan-out: one no-op try, claim -> outcome (median)", "ms"),
]

FANOUT_SOURCE = f'''"""Benchmark: start -> {FANOUT_WIDTH} parallel no-op Python tasks -> end (written by bench/celery.py)."""

from __future__ import annotations

from tradewind import DAG, EmptyOperator, PythonOperator


def noop() -> None:
    return None


with DAG(
    dag_id="{FANOUT_DAG}",
    schedule=None,
    catchup=False,
    is_paused_upon_creation=False,
    max_active_tasks={FANOUT_WIDTH},
    tags=["bench"],
) as dag:
    start = EmptyOperator(task_id="start")
    end = EmptyOperator(task_id="end")
    for i in range({FANOUT_WIDTH}):
        start >> PythonOperator(task_id=f"work_{{i:03d}}", python_callable=noop) >> end
'''


# --------------------------------------------------------------------------- services
class Redis:
    """A throwaway ``redis-server`` on a free loopback port, nothing persisted."""

    def __init__(self, root: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise BenchError("redis-server is not installed (Debian package 'redis-server')")
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        self.popen = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(root), "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BenchError(f"redis-server did not answer on port {self.port}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(16)

    def stop(self) -> None:
        stop_process(self.popen)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system, reaped children included) of a process and its descendants."""
    try:
        root = psutil.Process(pid)
        members = [root] + root.children(recursive=True)
    except psutil.Error:
        return float("nan")
    total = 0.0
    for member in members:
        try:
            t = member.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def postgres_pid(pg) -> int:
    """The postmaster's pid (first line of postmaster.pid in the data directory)."""
    return int((pg.datadir / "postmaster.pid").read_text().split()[0])


@dataclass
class Proc:
    """A ``tradewind`` subprocess in its own session, output to a file."""

    name: str
    args: list[str]
    env: dict[str, str]
    root: Path
    popen: subprocess.Popen = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.root / f"{self.name}.out"
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(tradewind_cmd() + self.args, env=self.env, stdout=self._log,
                                      stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise BenchError(f"{self.name} exited {self.popen.returncode}:\n{self.output()}")

    def stop(self) -> None:
        """SIGTERM to the process itself (it stops its own children in order, as under systemd's
        KillMode=mixed), then SIGKILL to whatever is left of its session."""
        stop_process(self.popen, timeout=30)
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()


# ------------------------------------------------------------------------- one setup
class Deployment:
    """One database, one DAGs folder, the processes of one executor; measured through the DB."""

    def __init__(self, root: Path, pg, redis: Redis, executor: str, parallelism: int) -> None:
        self.root, self.pg, self.redis, self.executor = root, pg, redis, executor
        self.procs: list[Proc] = []
        self.dags = root / "dags"
        self.dags.mkdir(parents=True)
        shutil.copy(BENCH_DAGS / f"{CHAIN_DAG}.py", self.dags / f"{CHAIN_DAG}.py")
        (self.dags / f"{FANOUT_DAG}.py").write_text(FANOUT_SOURCE, encoding="utf-8")
        self.dbname = pg.new_database_name(f"bench_{executor}")
        pg.execute_autocommit(f'CREATE DATABASE "{self.dbname}"')
        self.api_port = free_port()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND", "AIRFLOW"))}
        common = {
            **base,
            "TRADEWIND__CORE__DAGS_FOLDER": str(self.dags),
            "TRADEWIND__CORE__LOAD_EXAMPLES": "False",
            "TRADEWIND__CELERY__BROKER_URL": redis.url,
        }
        # The controller processes (API server, scheduler, CLI): database, keys, executor.
        self.env = {
            **common,
            "TRADEWIND_HOME": str(root / "controller"),
            "TRADEWIND__DATABASE__URL": pg.url(self.dbname),
            "TRADEWIND__API__SECRET_KEY": secrets.token_urlsafe(32),
            "TRADEWIND__API__HOST": "127.0.0.1",
            "TRADEWIND__API__PORT": str(self.api_port),
            "TRADEWIND__CORE__EXECUTOR": executor,
            "TRADEWIND__CORE__PARALLELISM": str(parallelism),
        }
        # The workers: broker, execution API and DAGs only.
        self.worker_env = {
            **common,
            "TRADEWIND__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
        }

    def cli(self, args: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> str:
        proc = subprocess.run(tradewind_cmd() + args, env=env or self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=self.root)
        if proc.returncode != 0:
            raise BenchError(f"`tradewind {' '.join(args)}` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def query(self, sql: str, params: tuple = ()) -> list[dict]:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(host="127.0.0.1", port=self.pg.port, user="postgres", dbname=self.dbname,
                             row_factory=dict_row) as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except psycopg.errors.UndefinedTable:
                return []

    def start(self) -> None:
        self.cli(["db", "migrate"])
        if self.executor == "celery":
            self.procs.append(Proc("api-server", ["api-server"], self.env, self.root))
            self.wait_healthy()
            for n in range(1, WORKERS + 1):
                env = {**self.worker_env, "TRADEWIND_HOME": str(self.root / f"worker{n}")}
                self.procs.append(Proc(f"worker{n}", ["celery", "worker", "--queues", "default", "--concurrency",
                                                      str(WORKER_CONCURRENCY), "--hostname", f"bench-w{n}"],
                                       env, self.root))
            self.wait_workers()
        self.procs.append(Proc("scheduler", ["scheduler", "--executor", self.executor], self.env, self.root))
        self.wait_dags([CHAIN_DAG, FANOUT_DAG])
        for dag_id in (CHAIN_DAG, FANOUT_DAG):
            self.cli(["dags", "unpause", dag_id])

    def alive(self) -> None:
        for proc in self.procs:
            proc.check_alive()

    def wait_healthy(self, timeout: float = 60) -> None:
        url = f"http://127.0.0.1:{self.api_port}/api/v1/health"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise BenchError(f"api-server not healthy after {timeout}s")

    def wait_workers(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            status = json.loads(self.cli(["celery", "status", "-o", "json"], env=self.worker_env) or "[]")
            if len(status) >= WORKERS:
                return
            time.sleep(0.2)
        raise BenchError(f"{WORKERS} celery workers not registered after {timeout}s")

    def wait_dags(self, dag_ids: list[str], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            rows = self.query("SELECT dag_id FROM dag WHERE dag_id = ANY(%s) AND latest_version_id IS NOT NULL",
                              (dag_ids,))
            if len(rows) == len(dag_ids):
                return
            time.sleep(0.05)
        errors = self.query("SELECT filename, message FROM import_error")
        raise BenchError(f"DAGs {dag_ids} not parsed after {timeout}s; import errors: {errors}")

    def trigger_and_wait(self, dag_id: str, timeout: float = 300) -> dict:
        before = {r["run_id"] for r in self.query("SELECT run_id FROM dag_run WHERE dag_id = %s", (dag_id,))}
        self.cli(["dags", "trigger", dag_id])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = [r for r in self.query("SELECT * FROM dag_run WHERE dag_id = %s", (dag_id,))
                    if r["run_id"] not in before]
            if runs and runs[0]["state"] in ("success", "failed"):
                run = runs[0]
                break
            self.alive()
            time.sleep(0.05)
        else:
            raise BenchError(f"{self.executor}: {dag_id} not finished after {timeout}s")
        tis = self.query("SELECT task_id, state, hostname, queued_dttm, start_date, end_date FROM task_instance "
                         "WHERE dag_id = %s AND run_id = %s", (dag_id, run["run_id"]))
        if run["state"] != "success":
            bad = [(t["task_id"], t["state"]) for t in tis if t["state"] != "success"]
            raise BenchError(f"{self.executor}: {dag_id} run ended {run['state']}; not successful: {bad[:10]}")
        created = parse_ts(run["queued_at"]) or parse_ts(run["start_date"])
        return {"e2e_s": (parse_ts(run["end_date"]) - created).total_seconds(), "tis": tis}

    def stop(self) -> None:
        for proc in reversed(self.procs):  # scheduler first, then workers, then the API server
            proc.stop()


def measure(root: Path, pg, redis: Redis, executor: str, parallelism: int) -> dict:
    redis.flush()
    dep = Deployment(root / executor, pg, redis, executor, parallelism)
    services = {"postgres": postgres_pid(pg), "redis": redis.popen.pid}
    try:
        dep.start()
        # Where the machine's cores go during the two runs (start-up and parsing excluded).
        before = {name: tree_cpu_seconds(pid) for name, pid in services.items()}
        before.update({p.name: tree_cpu_seconds(p.popen.pid) for p in dep.procs})
        chain = dep.trigger_and_wait(CHAIN_DAG)
        fanout = dep.trigger_and_wait(FANOUT_DAG)
        after = {name: tree_cpu_seconds(pid) for name, pid in services.items()}
        after.update({p.name: tree_cpu_seconds(p.popen.pid) for p in dep.procs})
        cpu = {name: after[name] - before[name] for name in after}
    except BenchError as exc:
        logs = "\n".join(f"--- {p.name}:\n{p.output()}" for p in dep.procs)
        raise BenchError(f"{exc}\n{logs}") from None
    finally:
        dep.stop()
    gaps = chain_gaps_ms(chain["tis"])
    hosts: dict[str, int] = {}
    for ti in fanout["tis"]:
        hosts[ti["hostname"] or "?"] = hosts.get(ti["hostname"] or "?", 0) + 1
    worker_dbs = sorted(str(p) for p in root.glob(f"{executor}/worker*/tradewind.db"))
    return {
        "chain_e2e_s": chain["e2e_s"],
        "chain_gap_ms": statistics.median(gaps) if gaps else float("nan"),
        "chain_gaps_ms": gaps,
        **chain_breakdown_ms(chain["tis"]),
        "fanout_e2e_s": fanout["e2e_s"],
        "fanout_tasks_per_s": len(fanout["tis"]) / fanout["e2e_s"],
        **fanout_breakdown_ms(fanout["tis"]),
        "fanout_tries_by_host": hosts,
        "cpu_s": cpu,
        # A worker never opens a database; a file here would mean it tried.
        "worker_database_files": worker_dbs,
    }


def fanout_breakdown_ms(tis: list[dict]) -> dict[str, float]:
    """Medians over the fan-out's tries of queued -> running and claim -> outcome, in ms."""
    dispatch, run = [], []
    for ti in tis:
        queued, start, end = (parse_ts(ti[k]) for k in ("queued_dttm", "start_date", "end_date"))
        if queued and start:
            dispatch.append((start - queued).total_seconds() * 1000)
        if start and end:
            run.append((end - start).total_seconds() * 1000)
    med = lambda xs: statistics.median(xs) if xs else float("nan")  # noqa: E731
    return {"fanout_dispatch_ms": med(dispatch), "fanout_run_ms": med(run)}


def one_repeat(pg, redis: Redis, executors: list[str], parallelism: int, keep: bool) -> dict[str, dict]:
    root = Path(tempfile.mkdtemp(prefix="tradewind-bench-celery-"))
    try:
        return {executor: measure(root, pg, redis, executor, parallelism) for executor in executors}
    finally:
        if keep:
            print(f"  kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


# -------------------------------------------------------------------------- report
def summarise(samples: list[dict[str, dict]]) -> dict:
    summary = {}
    for key, label, unit in METRICS:
        row: dict = {"label": label, "unit": unit}
        for executor in ("celery", "local"):
            values = [s[executor][key] for s in samples if executor in s and s[executor][key] == s[executor][key]]
            row[executor] = {"median": statistics.median(values) if values else float("nan"), "samples": values}
        summary[key] = row
    return summary


def print_table(summary: dict, samples: list[dict[str, dict]], repeat: int, parallelism: int) -> None:
    print(f"\nTradewind Celery benchmark — medians of {repeat} repeat(s), PostgreSQL + redis-server on loopback,"
          f"\n{WORKERS} celery workers x concurrency {WORKER_CONCURRENCY} vs the local executor; "
          f"[core] parallelism {parallelism}\n")
    head = f"{'metric':46} {'celery':>9} {'local':>9} {'celery/local':>13}"
    print(head)
    print("-" * len(head))
    for key, label, unit in METRICS:
        celery_v, local_v = summary[key]["celery"]["median"], summary[key]["local"]["median"]
        known = celery_v == celery_v and local_v == local_v and local_v != 0  # neither is NaN
        ratio = f"{celery_v / local_v:.2f}x" if known else "-"
        print(f"{label + ' (' + unit + ')':46} {fmt(celery_v):>9} {fmt(local_v):>9} {ratio:>13}")
    for executor in ("celery", "local"):
        if executor in samples[-1]:
            cpu = samples[-1][executor]["cpu_s"]
            print(f"CPU seconds during the chain + fan-out runs, {executor} (last repeat): "
                  + ", ".join(f"{name}={fmt(v)}" for name, v in cpu.items()))
    if "celery" in samples[-1]:
        split = samples[-1]["celery"]["fanout_tries_by_host"]
        print(f"\nfan-out tries per worker (last repeat): {', '.join(f'{h}={n}' for h, n in sorted(split.items()))}")
        stray = [f for s in samples for f in s["celery"]["worker_database_files"]]
        print("worker database files: " + (", ".join(stray) if stray else "none (workers never opened a database)"))
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="repeats; medians are reported (default 3)")
    parser.add_argument("--parallelism", type=int, default=32,
                        help="[core] parallelism of the scheduler in both setups (default 32, the default)")
    parser.add_argument("--executors", default="celery,local",
                        help="which setups to measure, comma-separated (default celery,local)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary homes (logs) for inspection")
    parser.add_argument("--output", type=Path, default=RESULTS / "celery.json", help="where to write the JSON")
    args = parser.parse_args(argv)
    executors = [e.strip() for e in args.executors.split(",") if e.strip()]
    unknown = sorted(set(executors) - {"celery", "local"})
    if unknown or not executors:
        parser.error(f"--executors takes celery and/or local, not {', '.join(unknown) or 'nothing'}")

    services_root = Path(tempfile.mkdtemp(prefix="tradewind-bench-services-"))
    pg = redis = None
    samples: list[dict[str, dict]] = []
    try:
        pg = start_postgres()
        redis = Redis(services_root / "redis")
        for i in range(args.repeat):
            print(f"repeat {i + 1}/{args.repeat} ...", file=sys.stderr, flush=True)
            sample = one_repeat(pg, redis, executors, args.parallelism, args.keep)
            for executor, values in sample.items():
                print(f"  {executor}: " + ", ".join(f"{k}={fmt(v)}" for k, v in values.items() if isinstance(v, float)),
                      file=sys.stderr, flush=True)
            samples.append(sample)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if redis is not None:
            redis.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(services_root, ignore_errors=True)

    summary = summarise(samples)
    print_table(summary, samples, args.repeat, args.parallelism)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
        "repeat": args.repeat,
        "parallelism": args.parallelism,
        "workers": WORKERS,
        "worker_concurrency": WORKER_CONCURRENCY,
        "summary": summary,
        "samples": samples,
    }
    args.output.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
