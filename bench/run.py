"""Tradewind benchmarks: the real CLI, the real scheduler and the local executor, on SQLite.

Run with ``.venv/bin/python bench/run.py [--repeat 5]``. Never part of the test suite.

Each repeat uses a fresh ``TRADEWIND_HOME`` and measures:

* ``standalone_healthy_s`` — ``tradewind standalone`` start until ``GET /api/v1/health`` answers 200;
* ``chain_e2e_s`` — ``bench_chain`` (20 no-op Python tasks in a line): run created -> run success,
  from the run row (``end_date - queued_at``);
* ``chain_gap_ms`` — median gap between one chain task ending and the next one starting;
* ``fanout_e2e_s`` — ``bench_fanout`` (start -> 100 parallel no-op tasks -> end), same measure;
* ``dags_test_fanout_s`` — wall time of the ``tradewind dags test bench_fanout`` subprocess;
* ``peak_rss_mb`` / ``idle_rss_mb`` — RSS summed over standalone and all its children, sampled
  every 50 ms during the runs, and after they finished.

It prints the medians next to the targets and to Apache Airflow 3.3.2's figures measured on the
same machine, and writes every sample to ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psutil

BENCH_DIR = Path(__file__).resolve().parent
BENCH_DAGS = BENCH_DIR / "dags"
RESULTS = BENCH_DIR / "results"
CHAIN_DAG, FANOUT_DAG = "bench_chain", "bench_fanout"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    target: float
    airflow: float  # Apache Airflow 3.3.2, same machine, same DAGs


METRICS = [
    Metric("chain_e2e_s", "20-task chain, trigger -> success", "s", 1.0, 21.8),
    Metric("chain_gap_ms", "gap between chained tasks (median)", "ms", 20.0, 980.0),
    Metric("fanout_e2e_s", "100-task fan-out, trigger -> success", "s", 2.0, 22.9),
    Metric("dags_test_fanout_s", "`dags test` of the fan-out DAG", "s", 1.0, 15.5),
    Metric("standalone_healthy_s", "standalone start -> healthy", "s", 1.5, 11.5),
    Metric("idle_rss_mb", "idle RSS after the runs", "MB", 250.0, 2300.0),
    Metric("peak_rss_mb", "peak RSS during the runs", "MB", float("nan"), 2300.0),
]


#: Breakdowns printed under the table to show where the time goes (no target, no Airflow figure).
DETAILS = [
    ("chain_pickup_s", "chain: run created -> first task running", "s"),
    ("chain_react_ms", "chain: task ended -> next task queued", "ms"),
    ("chain_dispatch_ms", "chain: task queued -> try running", "ms"),
    ("chain_run_ms", "chain: one no-op try, claim -> outcome", "ms"),
    ("chain_wall_s", "chain: `dags trigger` call -> success seen", "s"),
    ("fanout_pickup_s", "fan-out: run created -> first task running", "s"),
    ("fanout_wall_s", "fan-out: `dags trigger` call -> success seen", "s"),
    ("peak_pss_mb", "peak PSS (shared pages split between sharers)", "MB"),
    ("idle_pss_mb", "idle PSS", "MB"),
    ("peak_processes", "most processes at once", ""),
    ("idle_processes", "processes left when idle", ""),
]


class BenchError(RuntimeError):
    """A benchmark step failed; the message says which and shows the process output."""


def start_postgres():
    """The tests' throwaway PostgreSQL server (tests/pg.py, which the caller put on ``sys.path``;
    it runs as ``postgres`` when we are root). BenchError when PostgreSQL is not installed."""
    from pg import PgServer, PgUnavailable, reap_stale_servers

    reap_stale_servers()
    try:
        server = PgServer.create()
    except PgUnavailable as exc:
        raise BenchError(str(exc)) from None
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


# --------------------------------------------------------------------------- helpers
def tradewind_cmd() -> list[str]:
    script = Path(sys.executable).parent / "tradewind"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "tradewind.observe.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_env(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND")}
    env.update(
        TRADEWIND_HOME=str(home),
        TRADEWIND__CORE__DAGS_FOLDER=str(BENCH_DAGS),
        TRADEWIND__CORE__LOAD_EXAMPLES="False",
        TRADEWIND__API__HOST="127.0.0.1",
        TRADEWIND__API__PORT=str(port),
    )
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[float, str]:
    """Run ``tradewind <args>``; return (wall seconds, output). Raise BenchError on failure."""
    start = time.perf_counter()
    proc = subprocess.run(tradewind_cmd() + args, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(f"`tradewind {' '.join(args)}` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return wall, proc.stdout + proc.stderr


def parse_ts(value: str | None) -> datetime | None:
    """Datetimes are stored as naive UTC text in SQLite."""
    if value is None:
        return None
    return datetime.fromisoformat(str(value)).replace(tzinfo=timezone.utc)


def query(db_path: Path, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    """Read-only query; returns [] while the schema does not exist yet."""
    if not db_path.exists():
        return []
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def tree_rss(proc: psutil.Process) -> int:
    """RSS in bytes of a process and all its descendants (processes that vanish count 0)."""
    return tree_memory(proc)[0]


def tree_memory(proc: psutil.Process) -> tuple[int, int, int]:
    """(RSS, PSS, process count) of a process tree. RSS counts pages shared by forked workers
    once per process; PSS splits them between the sharers, so it is what the tree really uses."""
    rss = pss = 0
    try:
        members = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0, 0, 0
    for member in members:
        try:
            info = member.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        except psutil.Error:
            pass
    return rss, pss, len(members)


@dataclass
class RssSampler:
    """Samples the RSS of a process tree every ``interval`` seconds in a thread."""

    proc: psutil.Process
    interval: float = 0.05
    samples: list[int] = field(default_factory=list)
    pss_samples: list[int] = field(default_factory=list)
    process_counts: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            rss, pss, count = tree_memory(self.proc)
            self.samples.append(rss)
            self.pss_samples.append(pss)
            self.process_counts.append(count)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# ----------------------------------------------------------------------- one repeat
class Standalone:
    """A ``tradewind standalone`` subprocess in its own session (so the whole group can be stopped)."""

    def __init__(self, home: Path, env: dict[str, str], port: int) -> None:
        self.home, self.env, self.port = home, env, port
        self.log_path = home / "standalone.out"
        self.db_path = home / "tradewind.db"
        home.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(tradewind_cmd() + ["standalone"], env=env, stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        self.ps = psutil.Process(self.popen.pid)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_healthy(self, timeout: float = 60) -> float:
        url = f"http://127.0.0.1:{self.port}/api/v1/health"
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.popen.poll() is not None:
                raise BenchError(f"standalone exited {self.popen.returncode} before healthy:\n{self.output()}")
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return time.perf_counter() - self.started
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.005)
        raise BenchError(f"standalone not healthy after {timeout}s:\n{self.output()}")

    def wait_dags(self, dag_ids: list[str], timeout: float = 60) -> None:
        deadline = time.perf_counter() + timeout
        marks = ",".join("?" * len(dag_ids))
        while time.perf_counter() < deadline:
            rows = query(self.db_path, f"SELECT dag_id FROM dag WHERE dag_id IN ({marks}) "
                                       "AND latest_version_id IS NOT NULL", tuple(dag_ids))
            if len(rows) == len(dag_ids):
                return
            time.sleep(0.02)
        errors = query(self.db_path, "SELECT filename, message FROM import_error")
        raise BenchError(f"DAGs {dag_ids} not parsed after {timeout}s; import errors: "
                         f"{[tuple(r) for r in errors]}\n{self.output()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._log.close()


def trigger_and_wait(sa: Standalone, dag_id: str, timeout: float = 120) -> dict:
    """Trigger a run with the CLI, wait for it to finish, return its timings from the DB."""
    before = {r["run_id"] for r in query(sa.db_path, "SELECT run_id FROM dag_run WHERE dag_id = ?", (dag_id,))}
    wall_start = time.perf_counter()
    run_cli(["dags", "trigger", dag_id], sa.env)
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        rows = [r for r in query(sa.db_path, "SELECT * FROM dag_run WHERE dag_id = ?", (dag_id,))
                if r["run_id"] not in before]
        if rows and rows[0]["state"] in ("success", "failed"):
            run = rows[0]
            break
        time.sleep(0.01)
    else:
        raise BenchError(f"{dag_id}: run not finished after {timeout}s\n{sa.output()}")
    wall = time.perf_counter() - wall_start
    if run["state"] != "success":
        tis = query(sa.db_path, "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ? "
                                "AND state != 'success'", (dag_id, run["run_id"]))
        raise BenchError(f"{dag_id}: run {run['run_id']} ended {run['state']}; not successful: "
                         f"{[tuple(t) for t in tis]}")
    created = parse_ts(run["queued_at"]) or parse_ts(run["start_date"])
    e2e = (parse_ts(run["end_date"]) - created).total_seconds()
    tis = query(sa.db_path, "SELECT task_id, queued_dttm, start_date, end_date FROM task_instance "
                            "WHERE dag_id = ? AND run_id = ? ORDER BY start_date", (dag_id, run["run_id"]))
    pickup = (parse_ts(run["start_date"]) - created).total_seconds() if run["start_date"] else float("nan")
    return {"run_id": run["run_id"], "e2e_s": e2e, "wall_s": wall, "pickup_s": pickup,
            "tis": [dict(t) for t in tis]}


def chain_gaps_ms(tis: list[dict]) -> list[float]:
    """Gaps between consecutive tasks of a chain (next start - previous end), in ms."""
    ordered = sorted(tis, key=lambda t: t["task_id"])
    gaps = []
    for prev, nxt in zip(ordered, ordered[1:]):
        end, start = parse_ts(prev["end_date"]), parse_ts(nxt["start_date"])
        if end and start:
            gaps.append((start - end).total_seconds() * 1000)
    return gaps


def chain_breakdown_ms(tis: list[dict]) -> dict[str, float]:
    """Where a chain's time goes, per task (medians, ms): the scheduler noticing the previous task
    ended and queueing the next (``react``), the executor starting the queued try (``dispatch``),
    and the try itself, claim to recorded outcome (``run``)."""
    ordered = sorted(tis, key=lambda t: t["task_id"])
    react, dispatch, run = [], [], []
    for prev, nxt in zip([None] + ordered, ordered):
        queued, start, end = (parse_ts(nxt[k]) for k in ("queued_dttm", "start_date", "end_date"))
        if prev is not None and queued and prev["end_date"]:
            react.append((queued - parse_ts(prev["end_date"])).total_seconds() * 1000)
        if queued and start:
            dispatch.append((start - queued).total_seconds() * 1000)
        if start and end:
            run.append((end - start).total_seconds() * 1000)
    med = lambda xs: statistics.median(xs) if xs else float("nan")  # noqa: E731
    return {"chain_react_ms": med(react), "chain_dispatch_ms": med(dispatch), "chain_run_ms": med(run)}


def bench_standalone(root: Path, idle_wait: float) -> dict:
    home = root / "standalone"
    port = free_port()
    sa = Standalone(home, make_env(home, port), port)
    sampler = None
    try:
        healthy = sa.wait_healthy()
        sampler = RssSampler(sa.ps)
        sa.wait_dags([CHAIN_DAG, FANOUT_DAG])
        run_cli(["dags", "unpause", CHAIN_DAG], sa.env)
        run_cli(["dags", "unpause", FANOUT_DAG], sa.env)
        chain = trigger_and_wait(sa, CHAIN_DAG)
        fanout = trigger_and_wait(sa, FANOUT_DAG)
        sampler.stop()
        peak = max(sampler.samples, default=tree_rss(sa.ps))
        time.sleep(idle_wait)  # let pools and caches settle, as an idle server would
        idle = []
        for _ in range(10):
            idle.append(tree_memory(sa.ps))
            time.sleep(0.1)
    finally:
        if sampler:
            sampler.stop()
        sa.stop()
    gaps = chain_gaps_ms(chain["tis"])
    return {
        "standalone_healthy_s": healthy,
        "chain_e2e_s": chain["e2e_s"],
        "chain_wall_s": chain["wall_s"],
        "chain_gap_ms": statistics.median(gaps) if gaps else float("nan"),
        "chain_gaps_ms": gaps,
        **chain_breakdown_ms(chain["tis"]),
        "chain_pickup_s": chain["pickup_s"],
        "fanout_e2e_s": fanout["e2e_s"],
        "fanout_wall_s": fanout["wall_s"],
        "fanout_pickup_s": fanout["pickup_s"],
        "peak_rss_mb": peak / 2**20,
        "idle_rss_mb": statistics.median(m[0] for m in idle) / 2**20,
        "peak_pss_mb": max(sampler.pss_samples, default=0) / 2**20,
        "idle_pss_mb": statistics.median(m[1] for m in idle) / 2**20,
        "peak_processes": float(max(sampler.process_counts, default=0)),
        "idle_processes": float(statistics.median(m[2] for m in idle)),
    }


def bench_dags_test(root: Path) -> dict:
    home = root / "dags_test"
    env = make_env(home, free_port())
    run_cli(["db", "migrate"], env)
    wall, _ = run_cli(["dags", "test", FANOUT_DAG], env)
    return {"dags_test_fanout_s": wall}


def one_repeat(idle_wait: float, keep: bool) -> dict:
    root = Path(tempfile.mkdtemp(prefix="tradewind-bench-"))
    try:
        result = bench_standalone(root, idle_wait)
        result.update(bench_dags_test(root))
        return result
    finally:
        if keep:
            print(f"  kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


# -------------------------------------------------------------------------- report
def fmt(value: float) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def summarise(samples: list[dict]) -> dict:
    summary = {}
    for m in METRICS:
        values = [s[m.key] for s in samples if m.key in s and s[m.key] == s[m.key]]
        median = statistics.median(values) if values else float("nan")
        summary[m.key] = {
            "label": m.label, "unit": m.unit, "median": median, "samples": values,
            "target": None if m.target != m.target else m.target,
            "meets_target": None if m.target != m.target or not values else median <= m.target,
            "airflow_3_3_2": m.airflow,
            "airflow_ratio": (m.airflow / median) if values and median > 0 else None,
        }
    for key, label, unit in DETAILS:
        values = [s[key] for s in samples if key in s and s[key] == s[key]]
        summary[key] = {"label": label, "unit": unit, "samples": values,
                        "median": statistics.median(values) if values else float("nan")}
    return summary


def print_table(summary: dict, repeat: int) -> None:
    head = f"{'metric':40} {'median':>9} {'target':>8} {'ok':>4} {'airflow':>9} {'x faster':>9}"
    print(f"\nTradewind benchmark — medians of {repeat} repeat(s), local executor, SQLite\n")
    print(head)
    print("-" * len(head))
    for m in METRICS:
        row = summary[m.key]
        ok = {True: "yes", False: "NO", None: ""}[row["meets_target"]]
        target = "" if row["target"] is None else f"≤{fmt(row['target'])}"
        ratio = "" if row["airflow_ratio"] is None else f"{row['airflow_ratio']:.1f}x"
        print(f"{m.label + ' (' + m.unit + ')':40} {fmt(row['median']):>9} {target:>8} {ok:>4} "
              f"{fmt(m.airflow):>9} {ratio:>9}")
    print("\nwhere the time goes (medians):")
    for key, label, unit in DETAILS:
        print(f"  {label + (' (' + unit + ')' if unit else ''):46} {fmt(summary[key]['median']):>9}")
    print()


def profile_dags_test(out: Path, top: int = 30) -> None:
    """Run ``dags test bench_fanout`` under cProfile; save the profile and print the top functions."""
    import pstats

    root = Path(tempfile.mkdtemp(prefix="tradewind-bench-prof-"))
    try:
        env = make_env(root / "home", free_port())
        run_cli(["db", "migrate"], env)
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "tradewind.observe.cli.main",
               "dags", "test", FANOUT_DAG]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise BenchError(f"profiled dags test exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nprofile of `tradewind dags test {FANOUT_DAG}` (saved to {out}):")
    pstats.Stats(str(out)).sort_stats("cumulative").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repeats; medians are reported (default 5)")
    parser.add_argument("--idle-wait", type=float, default=3.0, help="seconds to wait before sampling idle RSS")
    parser.add_argument("--keep", action="store_true", help="keep the temporary homes (logs, DB) for inspection")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json", help="where to write the JSON")
    parser.add_argument("--profile", action="store_true",
                        help="also profile `dags test` of the fan-out DAG (cProfile) and print the hot spots")
    args = parser.parse_args(argv)

    samples = []
    for i in range(args.repeat):
        print(f"repeat {i + 1}/{args.repeat} ...", file=sys.stderr, flush=True)
        try:
            sample = one_repeat(args.idle_wait, args.keep)
        except BenchError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
        print("  " + ", ".join(f"{k}={fmt(v)}" for k, v in sample.items() if isinstance(v, float)),
              file=sys.stderr, flush=True)
        samples.append(sample)

    summary = summarise(samples)
    print_table(summary, args.repeat)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
        "repeat": args.repeat,
        "summary": summary,
        "samples": samples,
    }
    args.output.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    print(f"results written to {args.output}")
    if args.profile:
        try:
            profile_dags_test(args.output.parent / "dags_test_fanout.prof")
        except BenchError as exc:
            print(f"profiling failed: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
