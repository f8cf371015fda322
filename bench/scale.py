"""Tradewind at scale: thousands of tasks, a thousand DAG files, hundreds of idle DAGs.

Run with ``.venv/bin/python bench/scale.py [--case NAME ...] [--repeat 3] [--scale 1]``. Never part
of the test suite. Each case runs in a fresh ``TRADEWIND_HOME`` under /tmp (real CLI processes,
SQLite, the local executor), removed afterwards unless ``--keep``. ``--scale 0.1`` divides the sizes
by ten (to check the harness quickly). Medians go to a table per case and, with every sample, to
``bench/results/scale.json`` (cases run now replace their earlier entry there). To measure another
checkout (say, the commit before an optimisation), put its ``src`` first on ``PYTHONPATH``: the
bench, the CLI and every process it starts import Tradewind from there.

Cases (DAG files from ``bench/scale_dags.py``):

* ``fanout_1000`` / ``fanout_10000`` / ``chains_100x100`` — one run on ``tradewind standalone``:
  run created -> success (``dag_run.end_date - queued_at``), tries per second, peak PSS of the whole
  standalone tree, peak RSS of the standalone process itself (scheduler, API and triggerer are
  threads of it), and the CPU seconds each part used during the run:

  - threads of the standalone process, from ``/proc/<pid>/task/<tid>/stat``, named through a
    ``sitecustomize`` this bench puts on ``PYTHONPATH`` (it gives each Python thread its name as
    the OS thread name): *scheduler* = the ``tradewind-scheduler`` loop, the local executor's
    listener, the wake-up listener and the SQLite write-lock waiter; *api* = uvicorn's thread and
    AnyIO's worker threads; *triggerer* = its runner and event-loop threads; *standalone other*
    = the rest of the process (main thread, DAG processor watcher, threads gone between samples);
  - the fork server (``...executors.forkserver``) and the DAG processor (``dag-processor``)
    children, each with its children: own time + time of reaped children (psutil's
    ``children_user``/``children_system``, i.e. cutime/cstime) + time of live children.

  Derived: CPU ms per try (fork-server tree / tries) and scheduler CPU ms per task. Afterwards
  the UI's grid and graph data of the finished run are timed (median of 7).
* ``chain_20`` — 20 chained no-op tasks: run created -> success and the median gap between tasks.
* ``parse_1000`` — 1,000 files of 10 tasks: ``tradewind dags reserialize`` on a fresh database;
  then, with ``tradewind dag-processor`` running, one file rewritten in place and another saved
  the way editors do (a new file renamed over it): seconds from the write until its new
  ``dag_version`` row, and how many other files were re-parsed meanwhile though not due
  (``parsed_file.last_parsed_at`` less than ``min_file_process_interval``, 30 s, before).
* ``big_parse_10000`` — one 10,000-task fan-out: ``dags reserialize`` wall time (parse + store);
  then one finished run of it is written into the tables and ``tradewind api-server`` is timed on
  the grid, graph and graph-states data of that run (median of 7 after one warm-up).
* ``idle_500`` — 500 ``@hourly`` DAGs on standalone: once parsed and their first runs finished,
  the CPU used over 60 s by the scheduler threads, the DAG processor (with its parse children) and
  the whole tree, as % of one core.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import psutil

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import scale_dags  # noqa: E402
from run import (  # noqa: E402
    RESULTS,
    BenchError,
    RssSampler,
    Standalone,
    chain_gaps_ms,
    free_port,
    make_env,
    parse_ts,
    query,
    run_cli,
    tradewind_cmd,
    trigger_and_wait,
)

USER, PASSWORD = "scalebench", "scale-bench-password"

# ------------------------------------------------------------------------- thread names
#: Put on PYTHONPATH of the processes under test: each Python thread gets its name (without the
#: ``tradewind-`` prefix, 15 bytes at most) as its OS thread name, so its CPU can be attributed.
SITECUSTOMIZE = '''"""Written by bench/scale.py: Python thread names become OS thread names (prctl PR_SET_NAME)."""
import threading as _threading

_original_bootstrap = _threading.Thread._bootstrap_inner
_prctl = []


def _bootstrap_named(self):
    try:
        if not _prctl:
            import ctypes
            _prctl.append(ctypes.CDLL(None).prctl)
        name = self.name[len("tradewind-"):] if self.name.startswith("tradewind-") else self.name
        _prctl[0](15, name.encode("utf-8", "replace")[:15], 0, 0, 0)
    except Exception:
        pass
    _original_bootstrap(self)


_threading.Thread._bootstrap_inner = _bootstrap_named
'''

#: OS thread name (as set above) -> part of the standalone process it belongs to.
THREAD_KINDS = {
    "scheduler": "scheduler", "local-executor": "scheduler", "wake-listener": "scheduler",
    "sqlite-write-lo": "scheduler",
    "api": "api", "AnyIO worker th": "api",
    "triggerer": "triggerer", "triggerer-loop": "triggerer",
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def thread_times(pid: int) -> dict[int, tuple[str, float]]:
    """tid -> (OS thread name, user+system CPU seconds) of every live thread of ``pid``."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the ")": state is field 3, utime 14 and stime 15 (1-based) -> indexes 11, 12
        out[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / CLK_TCK)
    return out


def tree_cpu(proc: psutil.Process | None) -> float:
    """CPU seconds of a process, of its children it reaped (cutime/cstime) and of its live children."""
    if proc is None:
        return 0.0
    try:
        t = proc.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        children = proc.children()
    except psutil.Error:
        return 0.0
    for child in children:
        try:
            c = child.cpu_times()
            total += c.user + c.system
        except psutil.Error:
            pass
    return total


def find_child(parent: psutil.Process, marker: str, timeout: float = 60) -> psutil.Process:
    """The child of ``parent`` whose command line contains ``marker``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in parent.children():
            try:
                if marker in " ".join(child.cmdline()):
                    return child
            except psutil.Error:
                continue
        time.sleep(0.05)
    raise BenchError(f"no child process of pid {parent.pid} with {marker!r} in its command line")


@dataclass
class CpuSampler:
    """Samples the standalone process's threads and RSS every ``interval`` seconds (threads that
    end between two samples keep their last sampled time; the rest is in "standalone other")."""

    main: psutil.Process
    fork_server: psutil.Process
    dag_processor: psutil.Process
    interval: float = 0.5
    first: dict[int, tuple[str, float]] = field(default_factory=dict)
    last: dict[int, tuple[str, float]] = field(default_factory=dict)
    rss: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.start = self._totals()
        self.first = thread_times(self.main.pid)
        self.last = dict(self.first)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _totals(self) -> dict[str, float]:
        t = self.main.cpu_times()
        return {"standalone": t.user + t.system, "fork_server": tree_cpu(self.fork_server),
                "dag_processor": tree_cpu(self.dag_processor), "wall": time.monotonic()}

    def _sample(self) -> None:
        self.last.update(thread_times(self.main.pid))
        try:
            self.rss.append(self.main.memory_info().rss)
        except psutil.Error:
            pass

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def stop(self) -> dict[str, float]:
        """Stop sampling; CPU seconds per part since the start, and the wall seconds."""
        self._stop.set()
        self._thread.join()
        self._sample()
        end = self._totals()
        kinds = {"scheduler": 0.0, "api": 0.0, "triggerer": 0.0}
        threads: dict[str, float] = {}
        for tid, (name, cpu) in self.last.items():
            delta = cpu - self.first.get(tid, (name, 0.0))[1]
            threads[name] = threads.get(name, 0.0) + delta
            if name in THREAD_KINDS:
                kinds[THREAD_KINDS[name]] += delta
        standalone = end["standalone"] - self.start["standalone"]
        out = {f"cpu_{k}_s": v for k, v in kinds.items()}
        out["cpu_standalone_other_s"] = max(0.0, standalone - sum(kinds.values()))
        out["cpu_fork_server_tree_s"] = end["fork_server"] - self.start["fork_server"]
        out["cpu_dag_processor_tree_s"] = end["dag_processor"] - self.start["dag_processor"]
        out["cpu_total_s"] = standalone + out["cpu_fork_server_tree_s"] + out["cpu_dag_processor_tree_s"]
        out["window_s"] = end["wall"] - self.start["wall"]
        out["threads"] = {k: round(v, 3) for k, v in sorted(threads.items(), key=lambda kv: -kv[1])}
        return out


# ------------------------------------------------------------------------------- helpers
def case_env(home: Path, dags: Path, port: int) -> dict[str, str]:
    """run.py's environment with this case's DAG folder and the thread-naming sitecustomize."""
    env = make_env(home, port)
    hook = home / "bench-sitecustomize"
    hook.mkdir(parents=True, exist_ok=True)
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(hook), env.get("PYTHONPATH", "")) if p)
    env["TRADEWIND__CORE__DAGS_FOLDER"] = str(dags)
    return env


def start_standalone(root: Path, dags: Path) -> Standalone:
    home = root / "home"
    port = free_port()
    sa = Standalone(home, case_env(home, dags, port), port)
    sa.wait_healthy(timeout=120)
    return sa


def wait_run(sa: Standalone, dag_id: str, run_id: str | None, timeout: float, poll: float = 0.25) -> Any:
    """Poll the run row (every ``poll`` s) until it finished; return it (BenchError unless success,
    or when standalone exited meanwhile)."""
    sa_db, output = sa.db_path, sa.output
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sa.popen.poll() is not None:
            raise BenchError(f"standalone exited {sa.popen.returncode} during the run:\n{output()}")
        rows = query(sa_db, "SELECT * FROM dag_run WHERE dag_id = ? AND run_id = ?", (dag_id, run_id))
        if rows and rows[0]["state"] in ("success", "failed"):
            if rows[0]["state"] != "success":
                bad = query(sa_db, "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ? "
                                   "AND state != 'success' LIMIT 20", (dag_id, run_id))
                raise BenchError(f"{dag_id} {run_id} ended {rows[0]['state']}: {[tuple(b) for b in bad]}")
            return rows[0]
        time.sleep(poll)
    raise BenchError(f"{dag_id}: run {run_id} not finished after {timeout:.0f}s\n{output()}")


def trigger(sa: Standalone, dag_id: str) -> str:
    before = {r["run_id"] for r in query(sa.db_path, "SELECT run_id FROM dag_run WHERE dag_id = ?", (dag_id,))}
    run_cli(["dags", "trigger", dag_id], sa.env)
    for _ in range(200):
        new = [r["run_id"] for r in query(sa.db_path, "SELECT run_id FROM dag_run WHERE dag_id = ?", (dag_id,))
               if r["run_id"] not in before]
        if new:
            return new[0]
        time.sleep(0.05)
    raise BenchError(f"`dags trigger {dag_id}` made no run row")


def http(url: str, *, token: str | None = None, data: dict | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = None
    if data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def login(base: str, env: dict[str, str]) -> str:
    """Create a viewer with the CLI and return a bearer token for it."""
    run_cli(["users", "create", "-u", USER, "-r", "viewer", "-p", PASSWORD], env)
    status, body = http(f"{base}/api/v1/auth/token", data={"username": USER, "password": PASSWORD})
    if status not in (200, 201):
        raise BenchError(f"token request answered {status}: {body[:300]!r}")
    return json.loads(body)["access_token"]


def time_ui(base: str, token: str, dag_id: str, run_id: str, repeat: int = 7) -> dict[str, float]:
    """Median ms (after one warm-up) and size of the grid, graph and graph-states data of a run."""
    from urllib.parse import quote

    rid = quote(run_id, safe="")
    urls = {"grid": f"{base}/ui/data/dags/{dag_id}/grid",
            "graph": f"{base}/ui/data/dags/{dag_id}/graph?run_id={rid}",
            "graph_states": f"{base}/ui/data/dags/{dag_id}/graph/states?run_id={rid}"}
    out = {}
    for name, url in urls.items():
        status, body = http(url, token=token)
        if status != 200:
            raise BenchError(f"GET {url} answered {status}: {body[:300]!r}")
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            status, body = http(url, token=token)
            times.append((time.perf_counter() - t0) * 1000)
        out[f"ui_{name}_ms"] = statistics.median(times)
        out[f"ui_{name}_kib"] = len(body) / 1024
    return out


def db_now() -> datetime:
    return datetime.now(timezone.utc)


# ----------------------------------------------------------------------------- the cases
def run_workload(root: Path, dags: Path, dag_id: str, tasks: int, timeout: float) -> dict:
    """One run of ``dag_id`` on standalone with CPU and memory sampled; see the module docstring."""
    sa = start_standalone(root, dags)
    rss_sampler = cpu = None
    try:
        sa.wait_dags([dag_id], timeout=max(60, tasks * 0.05))
        run_cli(["dags", "unpause", dag_id], sa.env)
        fork_server = find_child(sa.ps, "executors.forkserver")
        processor = find_child(sa.ps, "dag-processor")
        time.sleep(1.0)  # let the first parse's stores and the app build settle
        rss_sampler = RssSampler(sa.ps, interval=0.5)
        cpu = CpuSampler(sa.ps, fork_server, processor)
        run_id = trigger(sa, dag_id)
        run = wait_run(sa, dag_id, run_id, timeout)
        used = cpu.stop()
        rss_sampler.stop()
        n = query(sa.db_path, "SELECT count(*) AS n, sum(try_number >= 1 AND pid IS NOT NULL) AS tries "
                              "FROM task_instance WHERE dag_id = ? AND run_id = ?", (dag_id, run_id))[0]
        e2e = (parse_ts(run["end_date"]) - (parse_ts(run["queued_at"]) or parse_ts(run["start_date"]))).total_seconds()
        tries = int(n["tries"] or 0)
        result = {
            "tasks": float(n["n"]), "tries": float(tries), "e2e_s": e2e,
            "tries_per_s": tries / e2e if e2e > 0 else float("nan"),
            "peak_pss_mb": max(rss_sampler.pss_samples, default=0) / 2**20,
            "standalone_peak_rss_mb": max(cpu.rss, default=0) / 2**20,
            **{k: v for k, v in used.items() if k != "threads"},
            "threads_cpu_s": used["threads"],
        }
        result["cpu_ms_per_try"] = 1000 * used["cpu_fork_server_tree_s"] / tries if tries else float("nan")
        result["scheduler_cpu_ms_per_task"] = 1000 * used["cpu_scheduler_s"] / n["n"]
        result.update(time_ui(f"http://127.0.0.1:{sa.port}", login(f"http://127.0.0.1:{sa.port}", sa.env),
                              dag_id, run_id))
        return result
    finally:
        if cpu is not None:
            cpu._stop.set()
        if rss_sampler is not None:
            rss_sampler.stop()
        sa.stop()


def case_fanout(root: Path, width: int) -> dict:
    dags = root / "dags"
    (dag_id,) = scale_dags.write_fanout(dags, width)
    return run_workload(root, dags, dag_id, width + 2, timeout=max(300, width * 0.3))


def case_chains(root: Path, chains: int, length: int) -> dict:
    dags = root / "dags"
    (dag_id,) = scale_dags.write_chains(dags, chains, length)
    return run_workload(root, dags, dag_id, chains * length, timeout=max(300, chains * length * 0.3))


def case_chain(root: Path, length: int) -> dict:
    dags = root / "dags"
    (dag_id,) = scale_dags.write_chain(dags, length)
    sa = start_standalone(root, dags)
    try:
        sa.wait_dags([dag_id])
        run_cli(["dags", "unpause", dag_id], sa.env)
        time.sleep(0.5)
        run = trigger_and_wait(sa, dag_id)
    finally:
        sa.stop()
    gaps = chain_gaps_ms(run["tis"])
    return {"e2e_s": run["e2e_s"], "gap_ms": statistics.median(gaps) if gaps else float("nan"),
            "gap_max_ms": max(gaps, default=float("nan")), "pickup_s": run["pickup_s"]}


def fresh_home(root: Path, dags: Path) -> dict[str, str]:
    home = root / "home"
    env = case_env(home, dags, free_port())
    run_cli(["db", "migrate"], env)
    return env


def case_parse_many(root: Path, files: int) -> dict:
    dags = root / "dags"
    ids = scale_dags.write_many(dags, files, tasks=10)
    env = fresh_home(root, dags)
    db = root / "home" / "tradewind.db"
    wall, _ = run_cli(["dags", "reserialize"], env, timeout=1200)
    stored = query(db, "SELECT count(*) AS n FROM dag WHERE latest_version_id IS NOT NULL")[0]["n"]
    if stored != files:
        raise BenchError(f"reserialize stored {stored} of {files} DAGs")
    result: dict[str, Any] = {"reserialize_s": wall}
    log_path = root / "dag-processor.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(tradewind_cmd() + ["dag-processor"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        settle_parsed_files(db, proc, log_path)
        for how, index in (("inplace", len(ids) // 2), ("replace", len(ids) // 2 + 1)):
            latency, reparsed, needless = touch_and_wait(db, dags, ids[index], how, proc, log_path)
            result[f"touch_{how}_s"] = latency
            result[f"touch_{how}_reparsed"] = float(len(reparsed))
            result[f"touch_{how}_needless"] = float(len(needless))
            if needless:
                result[f"touch_{how}_needless_files"] = [Path(p).name for p in needless[:20]]
    finally:
        stop_process(proc)
    return result


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def settle_parsed_files(db: Path, proc: subprocess.Popen, log_path: Path, timeout: float = 300) -> None:
    """Wait until the processor runs (its job row) and no file was parsed for 2 s (it re-parses
    files older than min_file_process_interval at start)."""
    deadline = time.monotonic() + timeout
    last, quiet_since = None, time.monotonic()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"dag-processor exited {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        job = query(db, "SELECT id FROM job WHERE job_type = 'dag_processor' AND state = 'running'")
        newest = query(db, "SELECT max(last_parsed_at) AS t FROM parsed_file")[0]["t"]
        if newest != last:
            last, quiet_since = newest, time.monotonic()
        elif job and time.monotonic() - quiet_since >= 2.0:
            return
        time.sleep(0.1)
    raise BenchError(f"the DAG processor kept parsing for {timeout}s")


def touch_and_wait(db: Path, dags: Path, dag_id: str, how: str, proc: subprocess.Popen,
                   log_path: Path, timeout: float = 60) -> tuple[float, list[str], list[str]]:
    """Change ``dag_id``'s file (its tags: a new snapshot); seconds until its new version is stored,
    the files parsed since the change, and those of them that were neither it nor due."""
    path = dags / f"{dag_id}.py"
    before = {r["fileloc"]: parse_ts(r["last_parsed_at"])
              for r in query(db, "SELECT fileloc, last_parsed_at FROM parsed_file")}
    version = query(db, "SELECT max(version_number) AS v FROM dag_version WHERE dag_id = ?", (dag_id,))[0]["v"]
    text = path.read_text(encoding="utf-8").replace('tags=["bench"]', f'tags=["bench", "touched_{how}"]')
    changed_at = db_now()
    if how == "inplace":
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        tmp = dags / f".{dag_id}.py.swp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = query(db, "SELECT created_at FROM dag_version WHERE dag_id = ? AND version_number > ?",
                    (dag_id, version))
        if row:
            latency = (parse_ts(row[0]["created_at"]) - changed_at).total_seconds()
            break
        if proc.poll() is not None:
            raise BenchError(f"dag-processor exited {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.01)
    else:
        raise BenchError(f"no new version of {dag_id} {timeout}s after its file changed ({how})")
    # re-parsed since the change: the changed file, and files due again anyway (last parsed
    # [scheduler] min_file_process_interval (30 s) before); any other one was re-parsed needlessly
    reparsed, needless = [], []
    for r in query(db, "SELECT fileloc, last_parsed_at FROM parsed_file"):
        at = parse_ts(r["last_parsed_at"])
        if at >= changed_at:
            reparsed.append(r["fileloc"])
            previous = before.get(r["fileloc"])
            if r["fileloc"] != str(path) and previous is not None and (at - previous).total_seconds() < 30:
                needless.append(r["fileloc"])
    return latency, reparsed, needless


def case_big_parse(root: Path, width: int) -> dict:
    dags = root / "dags"
    (dag_id,) = scale_dags.write_fanout(dags, width)
    env = fresh_home(root, dags)
    db = root / "home" / "tradewind.db"
    wall, _ = run_cli(["dags", "reserialize"], env, timeout=600)
    import_s = query(db, "SELECT parse_duration FROM parsed_file")[0]["parse_duration"]
    result: dict[str, Any] = {"reserialize_s": wall, "import_in_child_s": float(import_s or "nan")}
    run_id = populate_finished_run(root / "home", env, dag_id)
    port = int(env["TRADEWIND__API__PORT"])
    log_path = root / "api-server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(tradewind_cmd() + ["api-server", "--port", str(port)], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise BenchError(f"api-server exited {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if http(f"{base}/api/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("api-server not healthy after 120 s")
            time.sleep(0.1)
        result.update(time_ui(base, login(base, env), dag_id, run_id))
    finally:
        stop_process(proc)
    return result


def populate_finished_run(home: Path, env: dict[str, str], dag_id: str) -> str:
    """Write one successful manual run of the stored fan-out, every task run once, into the tables
    (as the scheduler would have left it: 32 tries at a time, 20 ms each)."""
    from sqlalchemy import insert, select

    from tradewind.config import Config
    from tradewind.persist.db import Database
    from tradewind.persist.models import DagModel, DagRun, DagVersion, TaskInstance

    db = Database.from_config(Config.load(home=home, environ=env))
    with db.session_scope() as session:
        version_id = session.get(DagModel, dag_id).latest_version_id
        snapshot = session.scalar(select(DagVersion.snapshot).where(DagVersion.id == version_id))
    tasks = snapshot.get("tasks") or snapshot.get("dag", {}).get("tasks") or []
    task_ids = sorted(t.get("task_id") or t.get("__var", {}).get("task_id") for t in tasks)
    if not task_ids:
        raise BenchError(f"no tasks found in the snapshot of {dag_id} (keys: {sorted(snapshot)[:10]})")
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    run_id = f"manual__{start.isoformat()}"
    tis, t = [], start + timedelta(seconds=0.2)
    for i, task_id in enumerate(task_ids):
        begin = t + timedelta(seconds=0.02 * (i // 32))
        operator = "EmptyOperator" if task_id in ("start", "end") else "PythonOperator"
        tis.append({"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": -1, "state": "success",
                    "try_number": 1, "max_tries": 0, "queued_dttm": begin - timedelta(seconds=0.01),
                    "scheduled_dttm": begin - timedelta(seconds=0.02), "start_date": begin,
                    "end_date": begin + timedelta(seconds=0.02), "duration": 0.02, "hostname": "bench",
                    "pid": 1000 + i, "operator": operator, "dag_version_id": version_id})
    end = max(ti["end_date"] for ti in tis)
    with db.session_scope() as session:
        session.execute(insert(DagRun), [{
            "dag_id": dag_id, "run_id": run_id, "run_type": "manual", "state": "success", "logical_date": start,
            "data_interval_start": start, "data_interval_end": start, "run_after": start, "queued_at": start,
            "start_date": start + timedelta(seconds=0.1), "end_date": end, "conf": {}, "external_trigger": True,
            "triggered_by": "cli", "dag_version_id": version_id}])
        for chunk in range(0, len(tis), 5000):
            session.execute(insert(TaskInstance), tis[chunk:chunk + 5000])
    db.engine.dispose()
    return run_id


def case_idle(root: Path, n_dags: int, window: float) -> dict:
    dags = root / "dags"
    ids = scale_dags.write_many(dags, n_dags, tasks=10, schedule="@hourly", prefix="scale_idle")
    sa = start_standalone(root, dags)
    cpu = None
    try:
        sa.wait_dags(ids, timeout=max(120, n_dags))
        fork_server = find_child(sa.ps, "executors.forkserver")
        processor = find_child(sa.ps, "dag-processor")
        # a new hour would start 500 runs in the window: begin after it instead
        now = datetime.now(timezone.utc)
        next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        if (next_hour - now).total_seconds() < window + 120:
            time.sleep((next_hour - now).total_seconds() + 5)
        ready = wait_first_runs(sa, ids, timeout=max(300, n_dags * 2))
        time.sleep(2.0)
        cpu = CpuSampler(sa.ps, fork_server, processor, interval=1.0)
        time.sleep(window)
        used = cpu.stop()
        cpu = None
    finally:
        if cpu is not None:
            cpu._stop.set()
        sa.stop()
    span = used["window_s"]
    pct = lambda key: 100 * used[key] / span  # noqa: E731
    return {"first_runs_done_s": ready, "window_s": span,
            "scheduler_cpu_pct": pct("cpu_scheduler_s"), "dag_processor_cpu_pct": pct("cpu_dag_processor_tree_s"),
            "api_cpu_pct": pct("cpu_api_s"), "triggerer_cpu_pct": pct("cpu_triggerer_s"),
            "standalone_other_cpu_pct": pct("cpu_standalone_other_s"),
            "fork_server_cpu_pct": pct("cpu_fork_server_tree_s"), "total_cpu_pct": pct("cpu_total_s"),
            "threads_cpu_s": used["threads"]}


def wait_first_runs(sa: Standalone, ids: list[str], timeout: float) -> float:
    """Seconds until every DAG has a finished run and no run is unfinished."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        rows = query(sa.db_path, "SELECT count(DISTINCT dag_id) AS done, "
                                 "(SELECT count(*) FROM dag_run WHERE state NOT IN ('success', 'failed')) AS open "
                                 "FROM dag_run WHERE state = 'success'")
        if rows and rows[0]["done"] >= len(ids) and rows[0]["open"] == 0:
            return time.monotonic() - started
        time.sleep(0.5)
    rows = query(sa.db_path, "SELECT state, count(*) AS n FROM dag_run GROUP BY state")
    raise BenchError(f"first runs of {len(ids)} hourly DAGs not done after {timeout:.0f}s: "
                     f"{[tuple(r) for r in rows]}\n{sa.output()}")


# --------------------------------------------------------------------- cases and targets
@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    target: float | None = None  # None: shown without a target
    at_least: bool = False  # the target is a minimum


def workload_metrics(e2e_target: float | None) -> list[Metric]:
    return [
        Metric("e2e_s", "run created -> success (s)", e2e_target),
        Metric("tries_per_s", "tries per second"),
        Metric("peak_pss_mb", "peak PSS, whole tree (MB)"),
        Metric("standalone_peak_rss_mb", "peak RSS, standalone process (MB)", 300.0),
        Metric("cpu_scheduler_s", "CPU s: scheduler threads"),
        Metric("cpu_fork_server_tree_s", "CPU s: fork server + tries"),
        Metric("cpu_dag_processor_tree_s", "CPU s: DAG processor + children"),
        Metric("cpu_api_s", "CPU s: API threads"),
        Metric("cpu_triggerer_s", "CPU s: triggerer threads"),
        Metric("cpu_standalone_other_s", "CPU s: rest of standalone"),
        Metric("cpu_total_s", "CPU s: all"),
        Metric("cpu_ms_per_try", "CPU ms per try (fork-server tree)"),
        Metric("scheduler_cpu_ms_per_task", "scheduler CPU ms per task"),
        Metric("ui_grid_ms", "grid data of the run (ms)", 300.0),
        Metric("ui_graph_ms", "graph data of the run (ms)", 300.0),
        Metric("ui_graph_states_ms", "graph states of the run (ms)", 300.0),
    ]


@dataclass(frozen=True)
class Case:
    name: str
    run: Callable[[Path, float], dict]
    metrics: list[Metric]


def _n(value: int, scale: float) -> int:
    return max(2, round(value * scale))


CASES = [
    Case("fanout_1000", lambda root, s: case_fanout(root, _n(1000, s)), workload_metrics(None)),
    Case("fanout_10000", lambda root, s: case_fanout(root, _n(10_000, s)), workload_metrics(60.0)),
    Case("chains_100x100", lambda root, s: case_chains(root, _n(100, math.sqrt(s)), _n(100, math.sqrt(s))),
         workload_metrics(60.0)),
    Case("chain_20", lambda root, s: case_chain(root, 20), [
        Metric("e2e_s", "run created -> success (s)", 0.25),
        Metric("gap_ms", "median gap between tasks (ms)", 5.0),
        Metric("gap_max_ms", "largest gap (ms)"),
        Metric("pickup_s", "run created -> running (s)")]),
    Case("parse_1000", lambda root, s: case_parse_many(root, _n(1000, s)), [
        Metric("reserialize_s", "`dags reserialize`, fresh DB (s)", 10.0),
        Metric("touch_inplace_s", "file rewritten in place -> new version (s)", 1.0),
        Metric("touch_inplace_needless", "other files re-parsed, not due", 0.0),
        Metric("touch_inplace_reparsed", "files re-parsed meanwhile (incl. due)"),
        Metric("touch_replace_s", "file replaced (rename) -> new version (s)", 1.0),
        Metric("touch_replace_needless", "other files re-parsed, not due", 0.0),
        Metric("touch_replace_reparsed", "files re-parsed meanwhile (incl. due)")]),
    Case("big_parse_10000", lambda root, s: case_big_parse(root, _n(10_000, s)), [
        Metric("reserialize_s", "`dags reserialize` parse + store (s)", 2.0),
        Metric("import_in_child_s", "of which importing the file (s)"),
        Metric("ui_grid_ms", "grid data (ms)", 300.0),
        Metric("ui_graph_ms", "graph data (ms)", 300.0),
        Metric("ui_graph_states_ms", "graph states (ms)", 300.0),
        Metric("ui_grid_kib", "grid answer (KiB)"),
        Metric("ui_graph_kib", "graph answer (KiB)")]),
    Case("idle_500", lambda root, s: case_idle(root, _n(500, s), max(5.0, 60 * s)), [
        Metric("scheduler_cpu_pct", "scheduler threads, % of a core", 1.0),
        Metric("dag_processor_cpu_pct", "DAG processor + children, %"),
        Metric("api_cpu_pct", "API threads, %"),
        Metric("triggerer_cpu_pct", "triggerer threads, %"),
        Metric("standalone_other_cpu_pct", "rest of standalone, %"),
        Metric("fork_server_cpu_pct", "fork server + tries, %"),
        Metric("total_cpu_pct", "whole tree, %"),
        Metric("first_runs_done_s", "parsed -> first runs done (s)")]),
]
CASE_NAMES = [c.name for c in CASES]


# ----------------------------------------------------------------------------- reporting
def fmt(value: Any) -> str:
    if not isinstance(value, (int, float)) or value != value:
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def summarise(case: Case, samples: list[dict], baseline: float | None) -> dict:
    out = {}
    for m in case.metrics:
        values = [s[m.key] for s in samples if isinstance(s.get(m.key), (int, float)) and s[m.key] == s[m.key]]
        median = statistics.median(values) if values else float("nan")
        target = m.target
        if m.key == "scheduler_cpu_ms_per_task" and case.name != "fanout_1000" and baseline:
            target = baseline * 1.25  # "not growing": within 25 % of fanout_1000's
        ok = None
        if target is not None and values:
            ok = median >= target if m.at_least else median <= target
        out[m.key] = {"label": m.label, "median": median, "samples": values, "target": target, "ok": ok}
    return out


def print_table(name: str, summary: dict, repeat: int, scale: float) -> None:
    head = f"{'metric':44} {'median':>9} {'target':>9} {'ok':>4}"
    print(f"\n{name} — median of {repeat}, scale {scale:g}\n{head}\n{'-' * len(head)}")
    for row in summary.values():
        target = "" if row["target"] is None else f"≤{fmt(row['target'])}"
        ok = {True: "yes", False: "NO", None: ""}[row["ok"]]
        print(f"{row['label']:44} {fmt(row['median']):>9} {target:>9} {ok:>4}")


def load_averages() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=CASE_NAMES,
                        help="a case to run (repeatable; default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats per case; medians are reported (default 3)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the sizes (0.1: a quick check)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary homes for inspection")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the JSON (default bench/results/scale.json, scale-<scale>.json "
                             "when --scale is not 1)")
    args = parser.parse_args(argv)
    # a SIGTERM stops the case's processes too (the finally blocks run)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))

    if args.repeat < 1 or args.scale <= 0:
        parser.error("--repeat must be at least 1 and --scale above 0")
    if args.output is None:
        args.output = RESULTS / ("scale.json" if args.scale == 1 else f"scale-{args.scale:g}.json")

    try:
        saved = json.loads(args.output.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        saved = {}
    cases_out = saved.get("cases", {}) if saved.get("scale") == args.scale else {}
    baseline = cases_out.get("fanout_1000", {}).get("summary", {}).get("scheduler_cpu_ms_per_task", {}).get("median")
    failed = False
    for case in [c for c in CASES if not args.case or c.name in args.case]:
        samples, loads = [], []
        for i in range(args.repeat):
            loads.append(load_averages())
            print(f"{case.name}: repeat {i + 1}/{args.repeat} (load {loads[-1]}) ...", file=sys.stderr, flush=True)
            root = Path(tempfile.mkdtemp(prefix=f"tradewind-scale-{case.name}-"))
            try:
                sample = case.run(root, args.scale)
            except BenchError as exc:
                print(f"{case.name} failed: {exc}", file=sys.stderr)
                failed = True
                break
            finally:
                if args.keep:
                    print(f"  kept {root}", file=sys.stderr)
                else:
                    shutil.rmtree(root, ignore_errors=True)
            print("  " + ", ".join(f"{k}={fmt(v)}" for k, v in sample.items() if isinstance(v, float)),
                  file=sys.stderr, flush=True)
            samples.append(sample)
        if not samples:
            continue
        summary = summarise(case, samples, baseline)
        if case.name == "fanout_1000":
            baseline = summary["scheduler_cpu_ms_per_task"]["median"]
        print_table(case.name, summary, len(samples), args.scale)
        cases_out[case.name] = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                "load_averages": loads, "summary": summary, "samples": samples}
        write_results(args.output, args.scale, args.repeat, cases_out)  # after each case: a later one may hang
    print(f"\nresults written to {args.output}")
    return 1 if failed else 0


def write_results(output: Path, scale: float, repeat: int, cases: dict) -> None:
    import tradewind

    output.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
        "tradewind_source": str(Path(tradewind.__file__).parent),
        "scale": scale, "repeat": repeat, "cases": cases,
    }
    output.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
