"""Tradewind against Apache Airflow: the same generated DAG files, run by both on this machine.

Run with ``.venv/bin/python bench/compare_airflow.py [--repeat 3] [--scale 1] [--markdown]``.
Never part of the test suite or of CI: the first run installs Apache Airflow from PyPI into its own
virtualenv under ``~/.cache/tradewind-bench/airflow-<version>`` (reused afterwards), with the
official constraints file when it can be downloaded, else with pip's own resolution.

Both systems run with their default settings (local executor, parallelism 32, SQLite metadata DB
in a fresh temporary home for every repeat), started as ``tradewind standalone`` and
``airflow standalone``. The DAG files come from ``bench/scale_dags.py`` and import only
``airflow.sdk`` and ``airflow.providers.standard`` names, so both parse the very same bytes.

Cases (sizes times ``--scale``):

* ``chain`` — 20 no-op Python tasks in a line: run created -> success (``dag_run.end_date -
  queued_at``) and the median gap between one task ending and the next starting;
* ``fanout_small`` / ``fanout_big`` — start -> 100 (1,000) no-op Python tasks -> end: run created ->
  success, tries per second over that time, and the peak PSS of the standalone process tree
  sampled while the run was going;
* ``many_files`` — 200 DAG files of 10 tasks: wall time of ``dags reserialize`` (parse every file
  and store its DAG) on a freshly migrated database;
* ``big_dag`` — one DAG file of a 10,000-wide fan-out: wall time of ``dags reserialize``.

Every run figure is read from each system's own metadata database. Each repeat runs Tradewind's
cases, then Airflow's. The table shows medians and how many times better Tradewind is (Airflow /
Tradewind for times and memory, Tradewind / Airflow for tries per second); every sample goes to
``bench/results/compare_airflow.json``. The load average before and after is printed too: on a
shared machine it says how far to trust the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale_dags  # noqa: E402
from run import (  # noqa: E402
    RESULTS,
    BenchError,
    RssSampler,
    Standalone,
    chain_gaps_ms,
    fmt,
    free_port,
    make_env,
    parse_ts,
    query,
    run_cli,
)

AIRFLOW_VERSION = "3.3.2"
AIRFLOW_PACKAGES = ("apache-airflow=={version}", "apache-airflow-providers-standard")
CONSTRAINTS_URL = ("https://raw.githubusercontent.com/apache/airflow/constraints-{version}/"
                   "constraints-{python}.txt")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tradewind-bench"
INSTALLED_MARK = ".tradewind-bench-installed"
#: Both systems parse with this import timeout, so the 10,000-task file is not cut short.
IMPORT_TIMEOUT_S = 600
#: SQLite busy timeout for Airflow's connections: Tradewind's default ([database] sqlite_busy_timeout).
#: With Python's default of 5 s Airflow's scheduler died of "database is locked" during a 100-task
#: fan-out on a loaded 2-core machine.
SQLITE_BUSY_TIMEOUT_S = 30
#: PSS sampling interval: reading smaps of ~40 Airflow processes is not free on 2 cores.
SAMPLE_INTERVAL_S = 0.25
CASES = ("chain", "fanout_small", "fanout_big", "many_files", "big_dag")
SYSTEMS = ("tradewind", "airflow")


@dataclass(frozen=True)
class Sizes:
    chain: int
    fanout_small: int
    fanout_big: int
    files: int
    file_tasks: int
    big_dag: int

    @classmethod
    def scaled(cls, scale: float) -> Sizes:
        def size(full: int, least: int) -> int:
            return max(least, round(full * scale))

        return cls(chain=size(20, 2), fanout_small=size(100, 2), fanout_big=size(1000, 2),
                   files=size(200, 1), file_tasks=10, big_dag=size(10_000, 2))


@dataclass(frozen=True)
class Metric:
    case: str
    key: str
    label: str
    unit: str
    higher_is_better: bool = False


def metrics_for(sizes: Sizes) -> list[Metric]:
    return [
        Metric("chain", "chain_e2e_s", f"{sizes.chain}-task chain, run created -> success", "s"),
        Metric("chain", "chain_gap_ms", f"{sizes.chain}-task chain: gap between tasks (median)", "ms"),
        Metric("fanout_small", "fanout_small_e2e_s", f"{sizes.fanout_small:,}-task fan-out, run created -> success", "s"),
        Metric("fanout_small", "fanout_small_tries_per_s", f"{sizes.fanout_small:,}-task fan-out: throughput",
               "tries/s", higher_is_better=True),
        Metric("fanout_small", "fanout_small_peak_pss_mb", f"{sizes.fanout_small:,}-task fan-out: peak PSS", "MB"),
        Metric("fanout_big", "fanout_big_e2e_s", f"{sizes.fanout_big:,}-task fan-out, run created -> success", "s"),
        Metric("fanout_big", "fanout_big_tries_per_s", f"{sizes.fanout_big:,}-task fan-out: throughput",
               "tries/s", higher_is_better=True),
        Metric("fanout_big", "fanout_big_peak_pss_mb", f"{sizes.fanout_big:,}-task fan-out: peak PSS", "MB"),
        Metric("many_files", "many_files_s",
               f"`dags reserialize` of {sizes.files:,} files x {sizes.file_tasks} tasks", "s"),
        Metric("big_dag", "big_dag_s", f"`dags reserialize` of one {sizes.big_dag:,}-wide fan-out", "s"),
    ]


# ------------------------------------------------------------------ installing Airflow
def airflow_venv(version: str, python: str, cache: Path = CACHE) -> Path:
    """The virtualenv holding Apache Airflow ``version``; created and installed from PyPI when it is
    not there yet (a half-finished one is started over)."""
    venv = cache / f"airflow-{version}"
    airflow = venv / "bin" / "airflow"
    if (venv / INSTALLED_MARK).exists() and airflow.exists():
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    cache.mkdir(parents=True, exist_ok=True)
    print(f"installing Apache Airflow {version} into {venv} ...", file=sys.stderr, flush=True)
    _checked([python, "-m", "venv", str(venv)], "creating the Airflow virtualenv")
    vpython = str(venv / "bin" / "python")
    py_version = _checked([vpython, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
                          "asking the virtualenv's Python its version").strip()
    pip = [vpython, "-m", "pip", "install", "--quiet"]
    constraints = _download_constraints(version, py_version, venv / "constraints.txt")
    if constraints:
        pip += ["--constraint", str(constraints)]
    else:
        print("  constraints file not reachable; installing with pip's own resolution", file=sys.stderr)
    _checked(pip + [p.format(version=version) for p in AIRFLOW_PACKAGES], "pip install of Apache Airflow",
             timeout=1800)
    with tempfile.TemporaryDirectory(prefix="airflow-version-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        reported = _checked([str(airflow), "version"], "`airflow version`",
                            env={**env, "AIRFLOW_HOME": home}).strip().splitlines()[-1]
    if reported != version:
        raise BenchError(f"{venv}: `airflow version` says {reported!r}, expected {version!r}")
    (venv / INSTALLED_MARK).write_text(f"{version}\n", encoding="utf-8")
    return venv


def _download_constraints(version: str, py_version: str, dest: Path) -> Path | None:
    url = CONSTRAINTS_URL.format(version=version, python=py_version)
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            dest.write_bytes(resp.read())
        return dest
    except (urllib.error.URLError, OSError, TimeoutError):
        return None


def _checked(cmd: list[str], what: str, timeout: float = 300, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise BenchError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                         f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


# ----------------------------------------------------------------------- the systems
class AirflowStandalone:
    """An ``airflow standalone`` subprocess in its own session, like run.Standalone for Tradewind.
    Its children (scheduler, DAG processor, API server, triggerer) outlive a SIGTERM of the
    parent for a while, so stop() waits for the whole process group."""

    def __init__(self, venv: Path, home: Path, env: dict[str, str], port: int) -> None:
        self.home, self.env, self.port = home, env, port
        self.db_path = home / "airflow.db"
        self.log_path = home / "standalone.out"
        home.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen([str(venv / "bin" / "airflow"), "standalone"], cwd=home, env=env,
                                      stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.ps = psutil.Process(self.popen.pid)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def check(self) -> None:
        """BenchError when the scheduler is gone: standalone does not restart it, so a run would
        wait forever."""
        try:
            members = [self.ps] + self.ps.children(recursive=True)
        except psutil.Error:
            members = []
        for member in members:
            try:
                if member.status() != psutil.STATUS_ZOMBIE and "scheduler" in " ".join(member.cmdline()):
                    return
            except psutil.Error:
                pass
        raise BenchError(f"airflow standalone's scheduler is gone:\n{self.output()}")

    def wait_healthy(self, timeout: float = 600) -> None:
        """Until the API server answers and reports the scheduler and DAG processor healthy (tasks
        fail when they start before the API server listens)."""
        url = f"http://127.0.0.1:{self.port}/api/v2/monitor/health"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise BenchError(f"airflow standalone exited {self.popen.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    health = json.loads(resp.read())
                if all(health.get(part, {}).get("status") == "healthy" for part in ("scheduler", "dag_processor")):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError):
                pass
            time.sleep(0.5)
        raise BenchError(f"airflow standalone not healthy after {timeout}s:\n{self.output()}")

    def wait_dags(self, dag_ids: list[str], timeout: float = 600) -> None:
        _wait_stored(self.db_path, "SELECT DISTINCT dag_id FROM serialized_dag", dag_ids, timeout, self.output)

    def stop(self) -> None:
        _stop_group(self.popen)
        self._log.close()


class TradewindStandalone(Standalone):
    def check(self) -> None:
        if self.popen.poll() is not None:
            raise BenchError(f"tradewind standalone exited {self.popen.returncode}:\n{self.output()}")

    def wait_healthy(self, timeout: float = 120) -> float:
        return super().wait_healthy(timeout)

    def wait_dags(self, dag_ids: list[str], timeout: float = 300) -> None:
        _wait_stored(self.db_path, "SELECT dag_id FROM dag WHERE latest_version_id IS NOT NULL", dag_ids,
                     timeout, self.output)

    def stop(self) -> None:
        _stop_group(self.popen)
        self._log.close()


def _stop_group(popen: subprocess.Popen, grace: float = 60) -> None:
    """SIGTERM the process group, wait until every member is gone, SIGKILL what is left."""
    pgid = popen.pid
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        popen.poll()
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    popen.wait()


def _wait_stored(db_path: Path, sql: str, dag_ids: list[str], timeout: float, output) -> None:
    deadline = time.monotonic() + timeout
    missing = set(dag_ids)
    while time.monotonic() < deadline:
        missing = set(dag_ids) - {r[0] for r in query(db_path, sql)}
        if not missing:
            return
        time.sleep(0.1)
    errors = [tuple(r) for r in query(db_path, "SELECT * FROM import_error")]
    raise BenchError(f"DAGs {sorted(missing)} not stored after {timeout}s; import errors: {errors}\n{output()}")


@dataclass
class System:
    """How to drive one orchestrator: its environment, its CLI and its standalone server."""

    name: str
    venv: Path | None = None  # Airflow's; None for Tradewind (this interpreter's)

    @property
    def label(self) -> str:
        return "Tradewind" if self.venv is None else f"Airflow {self.version}"

    @property
    def version(self) -> str:
        return self.venv.name.removeprefix("airflow-") if self.venv else ""

    def env(self, home: Path, dags: Path, port: int) -> dict[str, str]:
        if self.venv is None:
            env = make_env(home, port)
            env.update(TRADEWIND__CORE__DAGS_FOLDER=str(dags),
                       TRADEWIND__CORE__DAGBAG_IMPORT_TIMEOUT=str(IMPORT_TIMEOUT_S))
            return env
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        settings = home / "bench_settings"  # a module Airflow imports its connect arguments from
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "compare_airflow_db.py").write_text(
            f"CONNECT_ARGS = {{'timeout': {SQLITE_BUSY_TIMEOUT_S}}}\n", encoding="utf-8")
        env.update(
            PYTHONPATH=str(settings),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS="compare_airflow_db.CONNECT_ARGS",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC="compare_airflow_db.CONNECT_ARGS",
            PATH=f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",  # standalone runs `airflow ...`
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(dags),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=str(IMPORT_TIMEOUT_S),
            AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT=str(IMPORT_TIMEOUT_S),
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(port),
            # tasks talk to the API server; its default URL assumes port 8080
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        )
        return env

    def db_path(self, home: Path) -> Path:
        return home / ("tradewind.db" if self.venv is None else "airflow.db")

    def cli(self, args: list[str], env: dict[str, str], timeout: float = 600) -> tuple[float, str]:
        if self.venv is None:
            return run_cli(args, env, timeout)
        start = time.perf_counter()
        proc = subprocess.run([str(self.venv / "bin" / "airflow"), *args], env=env, capture_output=True,
                              text=True, timeout=timeout)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise BenchError(f"`airflow {' '.join(args)}` exited {proc.returncode}:\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return wall, proc.stdout + proc.stderr

    def stored_sql(self) -> str:
        if self.venv is None:
            return "SELECT dag_id FROM dag WHERE latest_version_id IS NOT NULL"
        return "SELECT DISTINCT dag_id FROM serialized_dag"

    def start(self, home: Path, env: dict[str, str], port: int):
        if self.venv is None:
            return TradewindStandalone(home, env, port)
        return AirflowStandalone(self.venv, home, env, port)


# ------------------------------------------------------------------------- the cases
def trigger_and_wait(system: System, server, dag_id: str, timeout: float) -> dict:
    """Trigger with the system's CLI, wait for the run to finish, read its timings from the DB."""
    db = server.db_path
    before = {r["run_id"] for r in query(db, "SELECT run_id FROM dag_run WHERE dag_id = ?", (dag_id,))}
    system.cli(["dags", "trigger", dag_id], server.env)
    deadline = time.monotonic() + timeout
    checked = time.monotonic()
    while time.monotonic() < deadline:
        if time.monotonic() - checked > 5:
            server.check()
            checked = time.monotonic()
        rows = [r for r in query(db, "SELECT run_id, state, queued_at, start_date, end_date FROM dag_run "
                                     "WHERE dag_id = ?", (dag_id,)) if r["run_id"] not in before]
        if rows and rows[0]["state"] in ("success", "failed"):
            run = rows[0]
            break
        time.sleep(0.05)
    else:
        raise BenchError(f"{system.label}: {dag_id} not finished after {timeout}s\n{server.output()}")
    tis = [dict(r) for r in query(db, "SELECT task_id, state, start_date, end_date FROM task_instance "
                                      "WHERE dag_id = ? AND run_id = ?", (dag_id, run["run_id"]))]
    if run["state"] != "success":
        bad = [(t["task_id"], t["state"]) for t in tis if t["state"] != "success"][:20]
        raise BenchError(f"{system.label}: {dag_id} run {run['run_id']} ended {run['state']}; "
                         f"not successful: {bad}\n{server.output()}")
    created = parse_ts(run["queued_at"]) or parse_ts(run["start_date"])
    return {"e2e_s": (parse_ts(run["end_date"]) - created).total_seconds(), "tis": tis}


def run_cases(system: System, sizes: Sizes, cases: list[str], root: Path, run_timeout: float,
              result: dict) -> None:
    """The run cases, in one standalone server of ``system``; each case's figures go into
    ``result`` as soon as it finished, so a later failure keeps them."""
    dags = root / "dags"
    ids = {}
    if "chain" in cases:
        ids["chain"] = scale_dags.write_chain(dags, sizes.chain)[0]
    if "fanout_small" in cases:
        ids["fanout_small"] = scale_dags.write_fanout(dags, sizes.fanout_small)[0]
    if "fanout_big" in cases:
        ids["fanout_big"] = scale_dags.write_fanout(dags, sizes.fanout_big)[0]
    if not ids:
        return
    home, port = root / "home", free_port()
    server = system.start(home, system.env(home, dags, port), port)
    try:
        server.wait_healthy()
        server.wait_dags(list(ids.values()))
        for dag_id in ids.values():
            system.cli(["dags", "unpause", dag_id], server.env)
        for case, dag_id in ids.items():
            print(f"  {system.label}: {dag_id} ...", file=sys.stderr, flush=True)
            sampler = RssSampler(server.ps, interval=SAMPLE_INTERVAL_S)
            try:
                run = trigger_and_wait(system, server, dag_id, run_timeout)
            finally:
                sampler.stop()
            result[f"{case}_e2e_s"] = run["e2e_s"]
            if case == "chain":
                gaps = chain_gaps_ms(run["tis"])
                result["chain_gap_ms"] = statistics.median(gaps) if gaps else float("nan")
                result["chain_gaps_ms"] = gaps
            else:
                result[f"{case}_tries_per_s"] = len(run["tis"]) / run["e2e_s"]
                result[f"{case}_peak_pss_mb"] = max(sampler.pss_samples, default=0) / 2**20
                result[f"{case}_peak_processes"] = float(max(sampler.process_counts, default=0))
    finally:
        server.stop()


def reserialize_case(system: System, root: Path, write, expected: int) -> float:
    """Wall time of ``dags reserialize`` over the files ``write(folder)`` puts in a fresh folder,
    on a freshly migrated database (the migration is not timed)."""
    dags, home = root / "dags", root / "home"
    ids = write(dags)
    env = system.env(home, dags, free_port())
    home.mkdir(parents=True, exist_ok=True)
    system.cli(["db", "migrate"], env)
    wall, _ = system.cli(["dags", "reserialize"], env, timeout=3600)
    stored = {r[0] for r in query(system.db_path(home), system.stored_sql())} & set(ids)
    if len(stored) != expected:
        errors = [tuple(r) for r in query(system.db_path(home), "SELECT * FROM import_error")]
        raise BenchError(f"{system.label}: `dags reserialize` stored {len(stored)} of {expected} DAGs; "
                         f"import errors: {errors}")
    return wall


def one_repeat(system: System, sizes: Sizes, cases: list[str], run_timeout: float, keep: bool) -> dict:
    """One repeat of ``system``. A phase that fails (the run cases share one server) is recorded
    under ``errors`` and the others still run."""
    root = Path(tempfile.mkdtemp(prefix=f"compare-{system.name}-"))
    result: dict = {"errors": []}

    def phase(name: str, action) -> None:
        try:
            action()
        except BenchError as exc:
            print(f"  {system.label}: {name} failed: {str(exc)[:2000]}", file=sys.stderr, flush=True)
            result["errors"].append(f"{name}: {exc}")

    def many() -> None:
        print(f"  {system.label}: reserialize {sizes.files} files ...", file=sys.stderr, flush=True)
        result["many_files_s"] = reserialize_case(
            system, root / "many", lambda d: scale_dags.write_many(d, sizes.files, sizes.file_tasks), sizes.files)

    def big() -> None:
        print(f"  {system.label}: reserialize a {sizes.big_dag}-task DAG ...", file=sys.stderr, flush=True)
        result["big_dag_s"] = reserialize_case(
            system, root / "big", lambda d: scale_dags.write_fanout(d, sizes.big_dag), 1)

    try:
        phase("runs", lambda: run_cases(system, sizes, cases, root / "runs", run_timeout, result))
        if "many_files" in cases:
            phase("many_files", many)
        if "big_dag" in cases:
            phase("big_dag", big)
        return result
    finally:
        if keep:
            print(f"  kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- report
def summarise(samples: dict[str, list[dict]], metrics: list[Metric]) -> list[dict]:
    rows = []
    for m in metrics:
        row = {"case": m.case, "key": m.key, "metric": m.label, "unit": m.unit,
               "higher_is_better": m.higher_is_better}
        for name in SYSTEMS:
            values = [s[m.key] for s in samples.get(name, []) if m.key in s and s[m.key] == s[m.key]]
            row[name] = {"median": statistics.median(values) if values else None, "samples": values}
        tw, af = row["tradewind"]["median"], row["airflow"]["median"]
        ratio = None
        if tw and af:
            ratio = tw / af if m.higher_is_better else af / tw
        row["ratio"] = ratio
        if row["tradewind"]["median"] is not None or row["airflow"]["median"] is not None:
            rows.append(row)
    return rows


def _cell(value: float | None) -> str:
    return "-" if value is None else fmt(value)


def _ratio(row: dict) -> str:
    if row["ratio"] is None:
        return "-"
    better, worse = (("more", "fewer") if row["higher_is_better"] else
                     ("less", "more") if row["unit"] == "MB" else ("faster", "slower"))
    if row["ratio"] >= 1:
        return f"{row['ratio']:.1f}× {better}"
    return f"{1 / row['ratio']:.1f}× {worse}"


def print_table(rows: list[dict], airflow_label: str, repeat: int) -> None:
    head = f"{'metric':62} {'Tradewind':>10} {airflow_label:>14} {'Tradewind is':>14}"
    print(f"\nTradewind vs {airflow_label} — medians of {repeat} repeat(s), local executor, SQLite\n")
    print(head)
    print("-" * len(head))
    for row in rows:
        print(f"{row['metric'] + ' (' + row['unit'] + ')':62} {_cell(row['tradewind']['median']):>10} "
              f"{_cell(row['airflow']['median']):>14} {_ratio(row):>14}")
    print()


def print_markdown(rows: list[dict], airflow_label: str) -> None:
    print(f"| | Tradewind | {airflow_label} | Tradewind is |")
    print("|---|---|---|---|")
    for row in rows:
        unit = f" {row['unit']}"
        tw, af = row["tradewind"]["median"], row["airflow"]["median"]
        print(f"| {row['metric']} | {_cell(tw)}{unit if tw is not None else ''} | "
              f"{_cell(af)}{unit if af is not None else ''} | {_ratio(row)} |")
    print()


def load() -> dict:
    one, five, fifteen = os.getloadavg()
    return {"load_1m": one, "load_5m": five, "load_15m": fifteen, "cpus": os.cpu_count()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="repeats per system; medians are reported (3)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every case's size (e.g. 0.1 while developing; default 1)")
    parser.add_argument("--airflow-version", default=AIRFLOW_VERSION, help=f"default {AIRFLOW_VERSION}")
    parser.add_argument("--python", default=sys.executable, help="interpreter for Airflow's virtualenv")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="tradewind,airflow or one of them")
    parser.add_argument("--run-timeout", type=float, default=1800, help="seconds one DAG run may take (1800)")
    parser.add_argument("--markdown", action="store_true", help="also print a README-ready Markdown table")
    parser.add_argument("--keep", action="store_true", help="keep the temporary homes (logs, DBs)")
    parser.add_argument("--output", type=Path, default=RESULTS / "compare_airflow.json")
    args = parser.parse_args(argv)

    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    bad = [c for c in cases if c not in CASES] + [s for s in systems if s not in SYSTEMS]
    if bad or not cases or not systems:
        parser.error(f"unknown --cases/--systems entries {bad}; cases are {', '.join(CASES)}, "
                     f"systems are {', '.join(SYSTEMS)}")
    if args.repeat < 1 or args.scale <= 0:
        parser.error("--repeat must be at least 1 and --scale above 0")

    # a SIGTERM unwinds like Ctrl-C, so the servers' process groups are stopped on the way out
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sizes = Sizes.scaled(args.scale)
    load_before = load()
    print(f"load average before: {load_before['load_1m']:.2f} {load_before['load_5m']:.2f} "
          f"{load_before['load_15m']:.2f} on {load_before['cpus']} CPUs", file=sys.stderr)
    by_name = {"tradewind": System("tradewind")}
    try:
        if "airflow" in systems:
            by_name["airflow"] = System("airflow", airflow_venv(args.airflow_version, args.python))
        samples: dict[str, list[dict]] = {name: [] for name in systems}
        for i in range(args.repeat):
            for name in systems:
                print(f"repeat {i + 1}/{args.repeat}, {by_name[name].label} ...", file=sys.stderr, flush=True)
                started = time.monotonic()
                sample = one_repeat(by_name[name], sizes, cases, args.run_timeout, args.keep)
                sample["repeat_wall_s"] = time.monotonic() - started
                print("  " + ", ".join(f"{k}={fmt(v)}" for k, v in sample.items() if isinstance(v, float)),
                      file=sys.stderr, flush=True)
                samples[name].append(sample)
    except BenchError as exc:
        print(f"comparison failed: {exc}", file=sys.stderr)
        return 1
    load_after = load()
    failures = [f"{by_name[name].label}, repeat {i + 1}: {err.splitlines()[0]}"
                for name in systems for i, sample in enumerate(samples[name]) for err in sample["errors"]]

    airflow_label = f"Airflow {args.airflow_version}"
    rows = summarise(samples, [m for m in metrics_for(sizes) if m.case in cases])
    print_table(rows, airflow_label, args.repeat)
    print(f"load average before {load_before['load_1m']:.2f}, after {load_after['load_1m']:.2f} "
          f"(1 min) on {load_before['cpus']} CPUs\n")
    if args.markdown:
        print_markdown(rows, airflow_label)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
        "load_before": load_before, "load_after": load_after,
        "airflow_version": args.airflow_version, "repeat": args.repeat, "scale": args.scale,
        "sizes": sizes.__dict__, "cases": cases, "systems": systems,
        "summary": rows, "samples": samples,
    }
    args.output.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    print(f"results written to {args.output}")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
