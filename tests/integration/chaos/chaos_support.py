"""The chaos harness: seeded random ``kill -9`` of every kind of Tradewind process, then invariants.

One :class:`Chaos` drives one set-up (:data:`SETUPS`): a TRADEWIND_HOME with a small workload of
our own DAGs (chains and fan-outs with retries), one or two top-level processes (``tradewind
scheduler`` or ``tradewind standalone``) started as systemd would (each in its own session), and
runs triggered through the CLI so tries are always in flight. ``random.Random(seed)`` picks the
moment of each kill, the kind of victim and which one; the kill is a real ``SIGKILL`` (or
``killpg`` for a whole process group). Like an operator or systemd, the harness restarts only a
top-level process that died; every helper (DAG processor, fork server, parse children) must come
back by itself.

Each task writes marker files under ``<markers>/<dag>/<run>/``: ``<task>.<try>`` gets one line
with its pid when the work starts, ``<task>.<try>.done`` one line when it ends. The invariants are
then checked from those files and from the database (SQLAlchemy Core, plain SQL):

``run_stuck``
    after the drain period every run is ``success`` or ``failed`` (none queued/running).
``try_twice``
    each try's work started at most once and completed at most once, and no try of a task
    instance started after a try of it succeeded (we never clear anything).
``success_without_work``
    every successful task instance and every successful try row has its ``.done`` marker.
``failure_with_retries_left``
    a task instance is ``failed`` only with ``try_number > retries``.
``failed_try_not_killed``
    every failed try (try row, or failed instance) is one whose process the harness killed
    (identity read from the try's marker file before the kill).
``helper_not_back``
    after each kill of a helper, a new one of that kind (new pid) runs under the *same* live
    top-level process within the deadline; the time it took is recorded per kind.

A failure message carries the seed, the set-up and the event log, so a run can be replayed
(``TRADEWIND_CHAOS_SEED=<seed>``); the timing of a replay differs, the sequence of choices not.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from cli_support import TRADEWIND, Home
from resilience_support import kill_processes_with_env_home
from service_support import free_port
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

# ------------------------------------------------------------------------------- set-ups
KINDS = ("scheduler", "dag_processor", "fork_server", "try", "parse_child", "process_group")
HELPER_KINDS = ("dag_processor", "fork_server", "parse_child")
INVARIANTS = (
    "run_stuck", "try_twice", "success_without_work", "failure_with_retries_left",
    "failed_try_not_killed", "helper_not_back",
)
FINISHED = ("success", "failed")


@dataclass(frozen=True)
class Setup:
    """One way of running Tradewind: the database and the top-level processes."""

    name: str
    backend: str  # "sqlite" or "postgres"
    command: str  # "scheduler" or "standalone"
    nodes: int  # how many top-level processes run at once
    #: Seconds before a killed top-level process is started again (systemd's RestartSec, or an
    #: operator). With two schedulers it is longer, so the survivor has to take over meanwhile.
    restart_delay: tuple[float, float] = (0.0, 1.0)


SETUPS = {
    s.name: s
    for s in (
        Setup("sqlite-scheduler", "sqlite", "scheduler", 1),
        Setup("sqlite-standalone", "sqlite", "standalone", 1),
        Setup("postgres-2-schedulers", "postgres", "scheduler", 2, restart_delay=(0.0, 8.0)),
    )
}


@dataclass
class Knobs:
    """How hard and how long to shake one set-up."""

    kills: int = 10
    gap: tuple[float, float] = (1.0, 2.5)  # seconds between two kills
    task_seconds: tuple[float, float] = (0.5, 1.5)
    active_runs: int = 4  # runs kept in flight while killing
    helper_deadline: float = 20.0  # a killed helper must be back within this
    drain: float = 45.0  # after the last kill, every run must end within this
    victim_wait: float = 3.0  # how long to wait for a victim of the drawn kind to exist
    kill_budget: float | None = None  # stop killing early once this many seconds of kills passed
    settings: dict[str, str] = field(default_factory=lambda: {
        "scheduler__dag_dir_list_interval": "0.5",
        "scheduler__min_file_process_interval": "2",
        "scheduler__task_instance_heartbeat_timeout": "5",
        "scheduler__task_heartbeat_interval": "0.5",
    })


# ------------------------------------------------------------------------------ workload
@dataclass(frozen=True)
class DagSpec:
    dag_id: str
    retries: int
    seconds: dict[str, float]  # task_id -> how long its work takes
    edges: tuple[tuple[str, str], ...]


def make_workload(rng: random.Random, task_seconds: tuple[float, float]) -> list[DagSpec]:
    """Three DAGs: a chain, a fan-out/fan-in and a diamond, with retries 2 or 3."""

    def secs(names: list[str]) -> dict[str, float]:
        return {n: round(rng.uniform(*task_seconds), 2) for n in names}

    chain = ["a", "b", "c", "d"]
    fan = ["start", *(f"w{i}" for i in range(5)), "end"]
    diamond = ["top", "left", "right", "bottom"]
    return [
        DagSpec("chaos_chain", 2, secs(chain), tuple(zip(chain, chain[1:]))),
        DagSpec("chaos_fan", 3, secs(fan),
                tuple(("start", w) for w in fan[1:-1]) + tuple((w, "end") for w in fan[1:-1])),
        DagSpec("chaos_diamond", 2, secs(diamond),
                (("top", "left"), ("top", "right"), ("left", "bottom"), ("right", "bottom"))),
    ]


DAG_TEMPLATE = '''
import os
import time
from datetime import datetime, timedelta

from tradewind import DAG, PythonOperator

MARKERS = {markers!r}


def work(seconds, ti=None):
    """Mark the start (pid), work a while, mark the end: the chaos test's ledger."""
    folder = os.path.join(MARKERS, ti.dag_id, ti.run_id)
    os.makedirs(folder, exist_ok=True)
    base = os.path.join(folder, f"{{ti.task_id}}.{{ti.try_number}}")
    line = f"{{os.getpid()}}\\n".encode()
    fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.write(fd, line)
    os.close(fd)
    time.sleep(seconds)
    fd = os.open(base + ".done", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.write(fd, line)
    os.close(fd)


with DAG({dag_id!r}, schedule=None, start_date=datetime(2024, 1, 1), max_active_runs=16,
         max_active_tasks=16, default_args={{"retries": {retries}, "retry_delay": timedelta(0)}}) as dag:
    tasks = {{
        name: PythonOperator(task_id=name, python_callable=work, op_kwargs={{"seconds": seconds}})
        for name, seconds in {seconds!r}.items()
    }}
    for up, down in {edges!r}:
        tasks[up] >> tasks[down]
'''


def dag_source(spec: DagSpec, markers: Path) -> str:
    return DAG_TEMPLATE.format(markers=str(markers), dag_id=spec.dag_id, retries=spec.retries,
                               seconds=spec.seconds, edges=spec.edges)


def read_markers(markers: Path) -> dict[tuple[str, str, str, int], tuple[list[int], list[int]]]:
    """(dag, run, task, try) -> (pids that started the work, pids that completed it)."""
    found: dict[tuple[str, str, str, int], tuple[list[int], list[int]]] = {}
    if not markers.exists():
        return found
    for dag_dir in markers.iterdir():
        for run_dir in dag_dir.iterdir():
            for path in run_dir.iterdir():
                name = path.name
                done = name.endswith(".done")
                task_id, _, try_text = (name[: -len(".done")] if done else name).rpartition(".")
                key = (dag_dir.name, run_dir.name, task_id, int(try_text))
                pids = [int(p) for p in path.read_text().split()]
                entry = found.setdefault(key, ([], []))
                entry[1 if done else 0].extend(pids)
    return found


# ----------------------------------------------------------------------------- processes
def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def _alive(proc: psutil.Process | None) -> bool:
    try:
        return proc is not None and proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class Node:
    """One top-level process slot (``tradewind scheduler`` or ``standalone``), restarted like systemd would."""

    def __init__(self, index: int, home: Home, command: str) -> None:
        self.index, self.home, self.command = index, home, command
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.name = f"{command}-{index}"

    def log_path(self, n: int) -> Path:
        return self.home.path / f"{self.name}.{n}.out"

    def start(self) -> int:
        self.starts += 1
        args = [TRADEWIND, self.command]
        if self.command == "standalone":
            args += ["--port", str(free_port()), "--host", "127.0.0.1"]
        with open(self.log_path(self.starts), "wb") as out:
            # Its own session, as under systemd: killing its group never reaches the test.
            self.proc = subprocess.Popen(args, env=self.home.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def children(self) -> list[psutil.Process]:
        if not self.alive():
            return []
        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.Error:
            return []

    def helper(self, kind: str) -> psutil.Process | None:
        """The live DAG processor or fork server of this process (None when there is none)."""
        needle = {"dag_processor": "dag-processor", "fork_server": "executors.forkserver"}[kind]
        for child in self.children():
            if needle in _cmdline(child) and _alive(child):
                return child
        return None

    def parse_children(self) -> list[psutil.Process]:
        processor = self.helper("dag_processor")
        if processor is None:
            return []
        try:
            return [c for c in processor.children() if _alive(c)]
        except psutil.Error:
            return []

    def output(self, tail: int = 4000) -> str:
        texts = []
        for n in range(1, self.starts + 1):
            path = self.log_path(n)
            if path.exists():
                texts.append(f"--- {self.name} start {n} ---\n" + path.read_text(errors="replace")[-tail:])
        return "\n".join(texts)

    def stop(self, timeout: float = 20.0) -> None:
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------------- result
@dataclass
class Kill:
    at: float
    kind: str
    pid: int
    node: str | None
    tries: list[tuple[str, str, str, int]]  # identities of the try processes this kill took
    hit: list[str]  # kinds of every process the kill took (a group takes several)


@dataclass
class Result:
    setup: str
    seed: int
    kills: list[Kill] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    violations: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name in INVARIANTS})
    helper_back: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    runs: Counter = field(default_factory=Counter)
    tries: Counter = field(default_factory=Counter)
    unexpected_exits: int = 0
    seconds: float = 0.0
    output: str = ""

    @property
    def ok(self) -> bool:
        return not any(self.violations.values())

    def kills_by_kind(self) -> Counter:
        return Counter(k.kind for k in self.kills)

    def summary(self) -> str:
        lines = [f"set-up {self.setup}  seed {self.seed}  ({self.seconds:.0f}s)"]
        lines.append("  kills      " + ", ".join(f"{k} {n}" for k, n in sorted(self.kills_by_kind().items())))
        lines.append("  runs       " + ", ".join(f"{k} {n}" for k, n in sorted(self.runs.items())))
        lines.append("  tries      " + ", ".join(f"{k} {n}" for k, n in sorted(self.tries.items())))
        lines.append("  violations " + ", ".join(f"{k} {len(v)}" for k, v in self.violations.items()))
        for kind, times in sorted(self.helper_back.items()):
            if times:
                lines.append(f"  {kind} back in: median {statistics.median(times):.2f}s, "
                             f"max {max(times):.2f}s (n={len(times)})")
        if self.unexpected_exits:
            lines.append(f"  top-level processes that exited without being killed: {self.unexpected_exits}")
        return "\n".join(lines)

    def report(self) -> str:
        """Everything needed to understand and replay a failure."""
        parts = [self.summary(), f"replay with TRADEWIND_CHAOS_SEED={self.seed}", "violations:"]
        for name, items in self.violations.items():
            parts.extend(f"  {name}: {item}" for item in items[:20])
            if len(items) > 20:
                parts.append(f"  {name}: ... {len(items) - 20} more")
        parts.append("event log:")
        parts.extend(f"  {e}" for e in self.events)
        parts.append(self.output)
        return "\n".join(parts)


# ---------------------------------------------------------------------------------- chaos
class Chaos:
    """Shake one set-up: start it, kill things at random while runs flow, drain, check invariants."""

    def __init__(self, setup: Setup, root: Path, *, seed: int, knobs: Knobs | None = None,
                 db_url: str | None = None, say: Callable[[str], None] | None = None) -> None:
        self.setup, self.seed = setup, seed
        self.knobs = knobs or Knobs()
        self.rng = random.Random(seed)
        self.home = Home(root / "home")
        for name, value in self.knobs.settings.items():
            self.home.env[f"TRADEWIND__{name.upper()}"] = str(value)
        self.db_url = db_url or f"sqlite:///{self.home.path}/tradewind.db"
        self.home.env["TRADEWIND__DATABASE__URL"] = self.db_url
        self.markers = root / "markers"
        self.engine = create_engine(self.db_url, poolclass=NullPool)
        self.nodes = [Node(i + 1, self.home, setup.command) for i in range(setup.nodes)]
        self.workload = make_workload(self.rng, self.knobs.task_seconds)
        self.result = Result(setup.name, seed)
        self.killed_pids: set[int] = set()
        self.killed_tries: set[tuple[str, str, str, int]] = set()
        self.triggered = 0
        self._stop_feeding = threading.Event()
        self.t0 = time.monotonic()
        self.say = say or (lambda _line: None)

    # ------------------------------------------------------------------ log and db
    def now(self) -> float:
        return time.monotonic() - self.t0

    def event(self, what: str) -> None:
        line = f"t={self.now():7.2f}s {what}"
        self.result.events.append(line)
        self.say(line)

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]

    # ------------------------------------------------------------------ life cycle
    def run(self) -> Result:
        """The whole experiment; always tears everything down; returns the figures and violations."""
        started = time.monotonic()
        try:
            self._prepare()
            feeder = threading.Thread(target=self._feed_runs, name="chaos-runs", daemon=True)
            feeder.start()
            try:
                kills_started = time.monotonic()
                for n, kind in enumerate(self._kind_sequence(), start=1):
                    budget = self.knobs.kill_budget
                    if budget is not None and time.monotonic() - kills_started > budget:
                        self.event(f"kill budget of {budget:g}s spent after {n - 1} kills")
                        break
                    time.sleep(self.rng.uniform(*self.knobs.gap))
                    self._restart_dead_nodes()
                    self._kill_one(n, kind)
            finally:
                self._stop_feeding.set()
                feeder.join(timeout=90)
            self._drain()
            self._check()
        finally:
            self.result.output = "\n".join(node.output() for node in self.nodes)
            self._teardown()
            self.result.seconds = time.monotonic() - started
        return self.result

    def _prepare(self) -> None:
        self.event(f"set-up {self.setup.name}, seed {self.seed}, {self.knobs.kills} kills")
        self.home.ok("db", "migrate")
        for spec in self.workload:
            self.home.add_dag(f"{spec.dag_id}.py", dag_source(spec, self.markers))
        for node in self.nodes:
            self.event(f"start {node.name} pid {node.start()}")
        wanted = {s.dag_id for s in self.workload}
        self._wait(lambda: wanted <= {r["dag_id"] for r in self.rows("SELECT dag_id FROM dag")},
                   60.0, "the workload's DAGs to be parsed")
        self._wait(lambda: all(n.helper("fork_server") and n.helper("dag_processor") for n in self.nodes),
                   60.0, "every top-level process's helpers to start")

    def _teardown(self) -> None:
        for node in self.nodes:
            try:
                node.stop(timeout=5.0)  # the experiment is over: no need to wait long for a clean stop
            except Exception:  # noqa: BLE001 - keep tearing down
                pass
        kill_processes_with_env_home(self.home.path)
        self.engine.dispose()

    def _wait(self, condition: Callable[[], Any], deadline: float, what: str) -> Any:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            value = condition()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {deadline}s waiting for {what}\n{self.result.report()}\n"
                             + "\n".join(n.output() for n in self.nodes))

    # ------------------------------------------------------------------ workload flow
    def _active_runs(self) -> int:
        return self.rows("SELECT count(*) AS n FROM dag_run WHERE state IN ('queued', 'running')")[0]["n"]

    def _feed_runs(self) -> None:
        """Keep ``active_runs`` runs in flight (a thread: ``dags trigger`` takes a second of CPU).

        Its own ``Random`` (derived from the seed), so the kills draw the same numbers whatever
        the timing of the triggers."""
        rng = random.Random(f"{self.seed}-runs")
        while not self._stop_feeding.is_set():
            try:
                missing = self.knobs.active_runs - self._active_runs()
            except Exception as exc:  # noqa: BLE001 - a locked SQLite file; try again
                self.event(f"feeder: could not count runs: {exc!r}"[:300])
                missing = 0
            if missing <= 0:
                self._stop_feeding.wait(0.3)
                continue
            spec = rng.choice(self.workload)
            self.triggered += 1
            run_id = f"r{self.triggered:03d}"
            result = self.home.run("dags", "trigger", spec.dag_id, "--run-id", run_id, timeout=60)
            if result.returncode != 0:
                self.event(f"trigger {spec.dag_id} {run_id} failed: {result.stderr.strip()[-300:]}")
            else:
                self.event(f"trigger {spec.dag_id} {run_id}")

    def _kind_sequence(self) -> list[str]:
        """The victims' kinds: each block of len(KINDS) kills is a shuffle of all kinds, so a
        bounded run still kills every kind."""
        kinds: list[str] = []
        while len(kinds) < self.knobs.kills:
            block = list(KINDS)
            self.rng.shuffle(block)
            kinds.extend(block)
        return kinds[: self.knobs.kills]

    def _restart_dead_nodes(self) -> None:
        """What systemd does: a top-level process that is gone is started again."""
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is not None:
                code = node.proc.returncode
                if node.proc.pid not in self.killed_pids:
                    self.result.unexpected_exits += 1
                    tail = node.log_path(node.starts).read_text(errors="replace")[-1500:]
                    self.event(f"{node.name} pid {node.proc.pid} exited by itself with {code}; its output ends:\n{tail}")
                self.event(f"restart {node.name}: pid {node.start()}")

    # ------------------------------------------------------------------ victims
    def _our(self, proc: psutil.Process) -> bool:
        try:
            return proc.environ().get("TRADEWIND_HOME") == str(self.home.path)
        except psutil.Error:
            return False

    def _running_tries(self, *, work_done_too: bool = False) -> list[tuple[tuple[str, str, str, int], psutil.Process]]:
        """Try processes alive now: a start marker whose pid is one of ours; only those still at
        work (no end marker) unless ``work_done_too`` (a try that just wrote its end marker is
        still finishing, and killing it is still killing that try)."""
        found = []
        for key, (starts, dones) in sorted(read_markers(self.markers).items()):
            if (dones and not work_done_too) or not starts:
                continue
            try:
                proc = psutil.Process(starts[-1])
                # Started before it wrote the marker: not a later process that reused the pid.
                fresh = proc.create_time() <= (self.markers / key[0] / key[1] / f"{key[2]}.{key[3]}").stat().st_mtime + 1
            except (psutil.Error, OSError):
                continue
            if fresh and _alive(proc) and self._our(proc):
                found.append((key, proc))
        return found

    def _candidates(self, kind: str) -> list[tuple[str, Any]]:
        """(label, victim) pairs of one kind; a victim is a psutil.Process or, for groups, a pgid."""
        live = [n for n in self.nodes if n.alive()]
        if kind == "scheduler":
            return [(n.name, psutil.Process(n.pid)) for n in live]
        if kind in ("dag_processor", "fork_server"):
            return [(n.name, p) for n in live if (p := n.helper(kind)) is not None]
        if kind == "parse_child":
            return [(n.name, p) for n in live for p in n.parse_children()]
        if kind == "try":
            return [(" ".join(map(str, key)), p) for key, p in self._running_tries()]
        groups: list[tuple[str, Any]] = [(f"group of {n.name}", n.pid) for n in live]
        groups += [(f"group of fork server of {n.name}", p.pid) for n in live if (p := n.helper("fork_server"))]
        groups += [(f"group of try {' '.join(map(str, key))}", p.pid) for key, p in self._running_tries()]
        return groups

    def _kind_of(self, proc: psutil.Process, tries_by_pid: dict[int, Any]) -> str:
        if proc.pid in tries_by_pid:
            return "try"
        for node in self.nodes:
            if proc.pid == node.pid:
                return "scheduler"
        cmd = _cmdline(proc)
        try:
            parent_cmd = _cmdline(proc.parent()) if proc.parent() is not None else ""
        except psutil.Error:
            parent_cmd = ""
        if "dag-processor" in cmd:
            return "parse_child" if "dag-processor" in parent_cmd else "dag_processor"
        if "executors.forkserver" in cmd:
            return "try" if "executors.forkserver" in parent_cmd else "fork_server"
        return "other"

    def _kill_one(self, n: int, kind: str) -> None:
        """Kill one victim of ``kind`` (another kind when none turns up within ``victim_wait``)."""
        end = time.monotonic() + self.knobs.victim_wait
        kill = None
        while kill is None:
            candidates = self._candidates(kind)
            if not candidates:
                if time.monotonic() < end:
                    time.sleep(0.02 if kind == "parse_child" else 0.2)
                    continue
                others = [k for k in KINDS if k != kind and self._candidates(k)]
                if not others:
                    self.event(f"kill {n}: nothing to kill")
                    return
                self.event(f"kill {n}: no {kind} to kill within {self.knobs.victim_wait:g}s, drawing another kind")
                kind = self.rng.choice(others)
                end = time.monotonic() + self.knobs.victim_wait
                continue
            label, victim = candidates[self.rng.randrange(len(candidates))]
            before = {node.name: node.pid for node in self.nodes}
            kill = self._do_kill(kind, label, victim)  # None: it ended on its own just before
            if kill is None:
                if time.monotonic() > end + self.knobs.victim_wait:
                    self.event(f"kill {n}: every {kind} went away before the kill; none killed")
                    return
                time.sleep(0.02)
        self.event(f"kill {n}: kill -9 {kind} {label} pid {kill.pid}; took {', '.join(kill.hit)}")
        restart_delay = self.rng.uniform(*self.setup.restart_delay)
        for node in self.nodes:
            if node.pid in self.killed_pids and node.proc.poll() is None:
                try:
                    node.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        if any(node.proc.poll() is not None for node in self.nodes):
            time.sleep(restart_delay)
            self._restart_dead_nodes()
        self._await_helpers(kill, before)

    def _do_kill(self, kind: str, label: str, victim: Any) -> Kill | None:
        tries_by_pid = {p.pid: key for key, p in self._running_tries(work_done_too=True)}
        if kind == "process_group":
            pgid = int(victim)
            if pgid == os.getpgid(0) or pgid <= 1:
                raise AssertionError(f"refusing to kill the test's own process group {pgid}")
            # Freeze the group first, so the members seen are the members killed (the kernel
            # restarts a fork racing the stop, so no child escapes it).
            try:
                os.killpg(pgid, signal.SIGSTOP)
            except ProcessLookupError:
                return None
            members = [p for p in psutil.process_iter() if self._in_group(p, pgid) and self._our(p)]
            hit = [self._kind_of(p, tries_by_pid) for p in members]
            if not members or (len(members) > 1 and "fork_server" in hit):
                # A try just forked and not yet in its own session shares the fork server's
                # group; killed now, it would fail without the harness knowing which try it was.
                os.killpg(pgid, signal.SIGCONT)
                return None
            at = self.now()
            os.killpg(pgid, signal.SIGKILL)
            pids = [p.pid for p in members]
        else:
            proc: psutil.Process = victim
            if not (_alive(proc) and self._our(proc)):
                return None
            hit = [kind]
            at = self.now()
            try:
                proc.kill()
            except psutil.Error:
                return None
            pids = [proc.pid]
            pgid = proc.pid
        self.killed_pids.update(pids)
        tries = [tries_by_pid[p] for p in pids if p in tries_by_pid]
        self.killed_tries.update(tries)
        node = next((nd.name for nd in self.nodes if nd.pid in pids or label and nd.name in label), None)
        kill = Kill(at=at, kind=kind, pid=pgid if kind == "process_group" else pids[0], node=node,
                    tries=tries, hit=hit)
        self.result.kills.append(kill)
        return kill

    @staticmethod
    def _in_group(proc: psutil.Process, pgid: int) -> bool:
        try:
            return os.getpgid(proc.pid) == pgid
        except OSError:
            return False

    # ------------------------------------------------------------------ helpers back
    def _await_helpers(self, kill: Kill, before: dict[str, int | None]) -> None:
        """Each helper the kill took must be replaced by its (same, live) parent within the deadline.

        A top-level process the harness killed is restarted; then its new helpers must start
        (timed as ``<kind> after restart``). A top-level process that died without being killed
        (e.g. because one of its helpers was) does not count as its helpers coming back."""
        node = next((n for n in self.nodes if n.name == kill.node), None)
        if node is None:
            return
        restarted = node.pid != before[node.name]
        if restarted and before[node.name] not in self.killed_pids:
            self._helper_violation(kill, node, "/".join(kill.hit),
                                   f"its parent pid {before[node.name]} exited instead of replacing it")
            return
        if restarted:
            pending = {"dag_processor after restart": "dag_processor", "fork_server after restart": "fork_server"}
        else:
            pending = {kind: kind for kind in HELPER_KINDS if kind in kill.hit}
        parent = node.pid
        end = time.monotonic() + self.knobs.helper_deadline
        while pending:
            if node.pid != parent or not node.alive():
                for label in pending:
                    self._helper_violation(kill, node, label, f"its parent pid {parent} exited instead of replacing it")
                return
            for label, kind in list(pending.items()):
                found = (node.parse_children() if kind == "parse_child"
                         else [p] if (p := node.helper(kind)) is not None else [])
                if any(p.pid not in self.killed_pids for p in found):
                    took = self.now() - kill.at
                    self.result.helper_back[label].append(took)
                    self.event(f"  {label} of {node.name} back after {took:.2f}s")
                    del pending[label]
            if pending and time.monotonic() > end:
                for label in pending:
                    self._helper_violation(kill, node, label, f"not back within {self.knobs.helper_deadline:g}s")
                return
            time.sleep(0.05)

    def _helper_violation(self, kill: Kill, node: Node, kind: str, what: str) -> None:
        message = f"{kind} of {node.name} killed at t={kill.at:.2f}s: {what}"
        self.result.violations["helper_not_back"].append(message)
        self.event("  VIOLATION " + message)

    # ------------------------------------------------------------------ drain and check
    def _drain(self) -> None:
        self.event(f"drain: no more kills; waiting up to {self.knobs.drain:g}s for every run to end")
        end = time.monotonic() + self.knobs.drain
        while time.monotonic() < end:
            self._restart_dead_nodes()
            if self._active_runs() == 0:
                self.event("drain: every run ended")
                return
            time.sleep(0.5)
        self.event(f"drain: runs still active after {self.knobs.drain:g}s")

    def _check(self) -> None:
        seen = Observed(
            runs=self.rows("SELECT dag_id, run_id, state FROM dag_run"),
            tis=self.rows("SELECT dag_id, run_id, task_id, state, try_number, note FROM task_instance"),
            tries=self.rows("SELECT dag_id, run_id, task_id, try_number, state, error FROM task_instance_try"),
            markers=read_markers(self.markers),
            killed_tries=set(self.killed_tries),
            retries={s.dag_id: s.retries for s in self.workload},
        )
        self.result.runs.update(r["state"] for r in seen.runs)
        self.result.tries.update(t["state"] for t in seen.tries)
        self.result.tries["killed by the test"] = len(self.killed_tries)
        v = self.result.violations
        for name, items in check_invariants(seen).items():
            v[name].extend(items)
        for node in self.nodes:
            for kind in ("dag_processor", "fork_server"):
                if node.alive() and node.helper(kind) is None:
                    v["helper_not_back"].append(f"at the end {node.name} has no {kind}")
        self.event("check: " + ", ".join(f"{k} {len(x)}" for k, x in v.items()))


# ---------------------------------------------------------------------------- invariants
TryKey = tuple[str, str, str, int]


@dataclass
class Observed:
    """What the end state is made of: database rows, marker files, and what the harness killed."""

    runs: list[dict[str, Any]]  # dag_id, run_id, state
    tis: list[dict[str, Any]]  # dag_id, run_id, task_id, state, try_number, note
    tries: list[dict[str, Any]]  # dag_id, run_id, task_id, try_number, state, error
    markers: dict[TryKey, tuple[list[int], list[int]]]  # read_markers()
    killed_tries: set[TryKey]
    retries: dict[str, int]  # dag_id -> retries of its tasks


def check_invariants(seen: Observed) -> dict[str, list[str]]:
    """The invariants decided from the end state (``helper_not_back`` is checked live)."""
    v: dict[str, list[str]] = {name: [] for name in INVARIANTS if name != "helper_not_back"}

    def done(key: tuple[str, str, str], try_number: int) -> bool:
        return bool(seen.markers.get((*key, try_number), ([], []))[1])

    for r in seen.runs:
        if r["state"] not in FINISHED:
            active = [f"{t['task_id']}:{t['state']}:{t['try_number']}" for t in seen.tis
                      if (t["dag_id"], t["run_id"]) == (r["dag_id"], r["run_id"])
                      and t["state"] not in ("success", "failed", "upstream_failed", "skipped")]
            v["run_stuck"].append(f"{r['dag_id']} {r['run_id']} is {r['state']} ({', '.join(active)})")

    succeeded: dict[tuple[str, str, str], int] = {}  # first try that succeeded, per task instance
    for t in seen.tries:
        key = (t["dag_id"], t["run_id"], t["task_id"])
        if t["state"] == "success":
            succeeded[key] = min(succeeded.get(key, t["try_number"]), t["try_number"])
            if not done(key, t["try_number"]):
                v["success_without_work"].append(f"{' '.join(key)} try row {t['try_number']} succeeded "
                                                 "without a .done marker")
    for t in seen.tis:
        key = (t["dag_id"], t["run_id"], t["task_id"])
        if t["state"] == "success":
            succeeded[key] = min(succeeded.get(key, t["try_number"]), t["try_number"])
            if not done(key, t["try_number"]):
                v["success_without_work"].append(f"{' '.join(key)} succeeded at try {t['try_number']} "
                                                 "without a .done marker")
        retries = seen.retries[t["dag_id"]]
        if t["state"] == "failed" and t["try_number"] <= retries:
            v["failure_with_retries_left"].append(
                f"{' '.join(key)} failed at try {t['try_number']} with retries={retries}: {(t['note'] or '')[:200]}")

    for key, (starts, dones) in sorted(seen.markers.items()):
        if len(starts) > 1 or len(dones) > 1:
            v["try_twice"].append(f"{' '.join(map(str, key))} started by pids {starts}, completed by {dones}")
        first_success = succeeded.get(key[:3])
        if first_success is not None and key[3] > first_success:
            v["try_twice"].append(f"{' '.join(map(str, key))} ran although try {first_success} had succeeded")

    failed = {(t["dag_id"], t["run_id"], t["task_id"], t["try_number"]): t["error"] or ""
              for t in seen.tries if t["state"] in ("failed", "up_for_retry")}
    for t in seen.tis:
        if t["state"] in ("failed", "up_for_retry"):
            failed.setdefault((t["dag_id"], t["run_id"], t["task_id"], t["try_number"]), t["note"] or "")
    for key, why in sorted(failed.items()):
        if key not in seen.killed_tries:
            starts, dones = seen.markers.get(key, ([], []))
            work = (f"its work ran in pid {starts} and completed" if dones else
                    f"its work started in pid {starts} and did not complete" if starts else "its work never started")
            v["failed_try_not_killed"].append(f"{' '.join(map(str, key))} failed but the test never killed it "
                                              f"({work}): {why[:200]}")
    return v
