"""Find DAG files, import them in child processes, and turn their DAGs into snapshots.

User code runs here (and in the task runner) only. Each file is imported in a
child process forked from this (pre-imported) process, so a DAG file that hangs,
crashes the interpreter, calls ``sys.exit`` or ``os._exit``, forks, or allocates
without bound costs one child, never the parser: the child sends back plain
snapshot dicts and :class:`ImportErrorInfo` records over a pipe, and is killed
(with its whole process group, so whatever it started goes too) when it takes
longer than ``timeout`` seconds. In the child:

- fds 1 and 2 point at a pipe the parent drains (keeping the first
  ``OUTPUT_KEEP_BYTES``; the rest is counted): what a file prints goes to the
  parser's log, never into a terminal or a CLI's JSON, and a file printing
  megabytes cannot block on a full pipe;
- ``RLIMIT_AS`` allows ``memory_mb`` MB more than the forked parser maps already;
  a ``MemoryError`` becomes an import error naming ``[dag_processor] parse_memory_limit``;
- only the child itself answers: a process the file forked that returns into
  our code exits silently.

Public API (see ``docs/contracts.md``):

- :func:`list_dag_files` — which ``.py`` files may hold DAGs.
- :class:`ParsePool` — children in flight in a fast and a slow (reniced) lane,
  polled without blocking; the DAG processor's engine.
- :func:`parse_file` / :func:`parse_files` — child-process import, never raise
  for bad user code.
- :func:`output_to_stderr` — for an in-process import inside a command whose
  stdout is structured output.
- :func:`load_dags_from_file` — in-process import for the task runner and
  ``dags test``; raises :class:`DagFileError`.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import hashlib
import importlib.util
import json
import logging
import mmap
import multiprocessing
import os
import pkgutil
import re
import signal
import sys
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_for_ready
from pathlib import Path
from types import ModuleType
from typing import Any

from tradewind.parse import discovery

log = logging.getLogger(__name__)

IGNORE_FILE_NAMES = discovery.IGNORE_FILE_NAMES
#: ``[core] max_tasks_per_dag`` when no config says otherwise (10,000-task DAGs must parse).
DEFAULT_MAX_TASKS_PER_DAG = 20000


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True)
class ImportErrorInfo:
    """Why a DAG file (or one DAG in it) could not be loaded."""

    filename: str
    lineno: int | None
    message: str
    stacktrace: str | None = None


@dataclass
class FileParseResult:
    """What parsing one file produced: snapshot dicts, import errors, and file facts.

    ``content_hash``/``mtime`` describe the bytes as they were just before the
    import, so the store can skip unchanged files next time.
    """

    fileloc: str
    dags: list[dict[str, Any]] = field(default_factory=list)
    errors: list[ImportErrorInfo] = field(default_factory=list)
    duration: float = 0.0
    content_hash: str | None = None
    mtime: float | None = None
    #: What the file printed while being imported (its first OUTPUT_KEEP_BYTES), and how many bytes in all.
    output: str = ""
    output_bytes: int = 0
    #: dag_id -> :func:`~tradewind.parse.snapshot.snapshot_hash` of its snapshot, computed in the
    #: child so the storing process need not hash (a DAG missing here is hashed when stored).
    hashes: dict[str, str] = field(default_factory=dict)

    @property
    def dag_ids(self) -> list[str]:
        return [d["dag_id"] for d in self.dags]


class DagFileError(Exception):
    """A DAG file could not be imported in-process; says which file, which line, and why."""

    def __init__(self, filename: str, lineno: int | None, message: str, stacktrace: str | None = None):
        where = f"{filename}:{lineno}" if lineno else filename
        super().__init__(f"{where}: {message}")
        self.filename = filename
        self.lineno = lineno
        self.message = message
        self.stacktrace = stacktrace


# --------------------------------------------------------------------------- listing
def _might_contain_dag(path: Path) -> bool:
    return discovery.might_contain_dag(path)


def list_dag_files(folders: Iterable[str | os.PathLike[str]], *, safe_mode: bool = True,
                   ignore_syntax: str = "regexp") -> list[Path]:
    """``.py`` files under ``folders`` that may hold DAGs, sorted, absolute.

    Skips ``__pycache__`` and hidden directories (and hidden files), and paths that a
    ``.tradewindignore``/``.airflowignore`` file ignores (``ignore_syntax`` ``"regexp"`` or
    ``"glob"``, Airflow's ``[core] dag_ignore_file_syntax``; applies to its folder and below).
    With ``safe_mode`` only files that mention ``airflow`` or ``tradewind`` and ``dag`` or
    ``asset`` (any case) count, Airflow's cheap heuristic; see :mod:`tradewind.parse.discovery`.
    A folder may also be a single ``.py`` file; missing folders are skipped.
    """
    discovery.check_syntax(ignore_syntax)
    found: set[Path] = set()
    for folder in folders:
        root = Path(folder).expanduser().resolve()
        if root.is_file():
            if root.suffix == ".py" and (not safe_mode or _might_contain_dag(root)):
                found.add(root)
            continue
        if root.is_dir():
            found.update(_walk_folder(root, safe_mode, ignore_syntax))
    return sorted(found)


def _walk_folder(root: Path, safe_mode: bool, ignore_syntax: str = "regexp") -> list[Path]:
    out: list[Path] = []
    rules_by_dir: dict[str, discovery.Rules] = {}
    seen_real: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        current = Path(dirpath)
        real = os.path.realpath(dirpath)
        if real in seen_real:  # a symlink loop: walk each real folder once
            dirnames[:] = []
            continue
        seen_real.add(real)
        inherited = rules_by_dir.get(dirpath, [])
        own = discovery.read_rules(current, ignore_syntax)
        rules = inherited + [(current, own)] if own else inherited
        keep_dirs = []
        for name in sorted(dirnames):
            if name == "__pycache__" or name.startswith("."):
                continue
            sub = current / name
            if discovery.is_ignored(sub, rules, ignore_syntax, is_dir=True):
                continue
            rules_by_dir[str(sub)] = rules
            keep_dirs.append(name)
        dirnames[:] = keep_dirs
        for name in sorted(filenames):
            if not name.endswith(".py") or name.startswith("."):
                continue
            path = current / name
            if discovery.is_ignored(path, rules, ignore_syntax, is_dir=False) or not path.is_file():
                continue
            if safe_mode and not _might_contain_dag(path):
                continue
            out.append(path)
    return out


# ------------------------------------------------------------------- in-process import
def module_name_for(path: str | os.PathLike[str]) -> str:
    """A module name unique to the file's full path, so same-named files never clash."""
    full = str(Path(path).resolve())
    digest = hashlib.sha1(full.encode("utf-8")).hexdigest()[:12]
    stem = re.sub(r"\W", "_", Path(full).stem)
    return f"tradewind_dagfile_{digest}_{stem}"


def _extend_sys_path(sys_path: Sequence[str | os.PathLike[str]]) -> None:
    # Appended, as Airflow does with the DAGs folder: a helper module named like
    # an installed package must not shadow it.
    for entry in sys_path:
        text = str(entry)
        if text not in sys.path:
            sys.path.append(text)


def _import_module(path: str, sys_path: Sequence[str | os.PathLike[str]]) -> ModuleType:
    """Execute the file as a fresh module; DAGs auto-registered meanwhile are kept on it."""
    dag_module = _definition_dag_module()
    _extend_sys_path(sys_path)
    _install_airflow_shims()
    name = module_name_for(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    context = getattr(dag_module, "DagContext", None)
    if context is not None:
        context.clear_autoregistered()  # forget DAGs from earlier imports in this process
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        registered = context.clear_autoregistered() if context is not None else []
    module.__dict__[_REGISTERED] = registered
    return module


_REGISTERED = "__tradewind_registered_dags__"


def _install_airflow_shims() -> None:
    """``import airflow`` in a DAG file resolves to Tradewind, even when Apache Airflow is installed too."""
    from tradewind.compat import install

    install()


def _definition_dag_module() -> ModuleType | None:
    try:
        return importlib.import_module("tradewind.definition.dag")
    except ModuleNotFoundError as exc:
        if exc.name not in ("tradewind.definition.dag", "tradewind.definition"):
            raise
        return None


def _dags_in_module(module: ModuleType, path: str) -> tuple[list[Any], list[ImportErrorInfo]]:
    """Every DAG at module level or registered during import, first occurrence wins."""
    dag_module = _definition_dag_module()
    if dag_module is None:
        return [], []
    DAG = dag_module.DAG
    candidates = [obj for obj in list(vars(module).values()) if isinstance(obj, DAG)]
    candidates += [obj for obj in module.__dict__.get(_REGISTERED, []) if isinstance(obj, DAG)]
    seen_objects: set[int] = set()
    by_id: dict[str, Any] = {}
    errors: list[ImportErrorInfo] = []
    for dag in candidates:
        if id(dag) in seen_objects:
            continue
        seen_objects.add(id(dag))
        if dag.dag_id in by_id:
            errors.append(ImportErrorInfo(path, None, f"DAG id {dag.dag_id!r} is defined more than once in {path}"))
            continue
        dag.fileloc = path
        by_id[dag.dag_id] = dag
    return list(by_id.values()), errors


def _error_from_exception(exc: BaseException, path: str) -> ImportErrorInfo:
    """An import error naming the line in the DAG file where things went wrong."""
    frames = traceback.extract_tb(exc.__traceback__)
    in_file = [f for f in frames if f.filename == path]
    lineno = in_file[-1].lineno if in_file else None
    if isinstance(exc, SyntaxError) and exc.filename == path:
        lineno = exc.lineno
    message = _describe(exc, lineno)
    # Trim our import machinery from the trace: start at the DAG file's first frame.
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != path:
        tb = tb.tb_next
    stacktrace = "".join(traceback.format_exception(type(exc), exc, tb))
    return ImportErrorInfo(path, lineno, message, stacktrace)


def _describe(exc: BaseException, lineno: int | None) -> str:
    name = type(exc).__name__
    if isinstance(exc, SystemExit):
        return f"DAG file called sys.exit({exc.code!r}) during import"
    if isinstance(exc, SyntaxError):
        where = f" ({Path(exc.filename).name}, line {exc.lineno})" if exc.filename else ""
        return f"{name}: {exc.msg}{where}"
    text = str(exc)
    return f"{name}: {text}" if text else name


@contextlib.contextmanager
def output_to_stderr() -> Iterator[None]:
    """Send what runs inside to stderr, at the fd level too: a DAG file imported in-process
    (``tasks render``) cannot write into a command's stdout (JSON, tables)."""
    sys.stdout.flush()
    saved_fd = os.dup(1)
    saved_stdout = sys.stdout
    try:
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        yield
    finally:
        sys.stdout.flush()
        sys.stdout = saved_stdout
        os.dup2(saved_fd, 1)
        os.close(saved_fd)


def load_dags_from_file(
    path: str | os.PathLike[str],
    *,
    sys_path: Sequence[str | os.PathLike[str]] = (),
    validate: bool = False,
) -> dict[str, Any]:
    """Import a DAG file in this process and return its DAGs by id.

    Used by the task runner and ``dags test``. Raises :class:`DagFileError`
    (file, line, message) when the import fails, when one file defines a
    dag_id twice, or (with ``validate``) when a DAG is invalid.
    """
    full = str(Path(path).resolve())
    try:
        module = _import_module(full, sys_path)
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything, even SystemExit
        if isinstance(exc, KeyboardInterrupt):
            raise
        info = _error_from_exception(exc, full)
        raise DagFileError(full, info.lineno, info.message, info.stacktrace) from exc
    dags, errors = _dags_in_module(module, full)
    if errors:
        raise DagFileError(full, errors[0].lineno, errors[0].message)
    if validate:
        for dag in dags:
            try:
                dag.validate()
            except Exception as exc:  # noqa: BLE001
                raise DagFileError(full, None, f"DAG {dag.dag_id!r}: {exc}") from exc
    return {dag.dag_id: dag for dag in dags}


def collect_file(path: str, sys_path: Sequence[str | os.PathLike[str]], *,
                 max_tasks: int = DEFAULT_MAX_TASKS_PER_DAG) -> tuple[list[dict[str, Any]], list[ImportErrorInfo]]:
    """Import ``path`` here, validate and serialise each DAG; never raises for user errors.

    A DAG that fails validation or serialisation, or has more than ``max_tasks`` tasks,
    becomes an error; the file's other DAGs still load (as in Airflow).
    """
    from tradewind.parse.snapshot import serialize_dag

    try:
        with task_limit(max_tasks):
            module = _import_module(path, sys_path)
    except BaseException as exc:  # noqa: BLE001 - a DAG file may raise anything, even SystemExit
        if isinstance(exc, MemoryError):
            _free_memory_after(exc)
        return [], [_error_from_exception(exc, path)]
    dags, errors = _dags_in_module(module, path)
    snapshots: list[dict[str, Any]] = []
    for dag in dags:
        too_many = too_many_tasks(dag, max_tasks, path)
        if too_many is not None:
            errors.append(too_many)
            continue
        try:
            dag.validate()
            # A JSON round trip proves the snapshot is storable and hands back plain data.
            snapshots.append(json.loads(json.dumps(serialize_dag(dag))))
        except Exception as exc:  # noqa: BLE001
            info = _error_from_exception(exc, path)
            errors.append(ImportErrorInfo(path, info.lineno, f"DAG {dag.dag_id!r}: {info.message}", info.stacktrace))
    return snapshots, errors


# ------------------------------------------------------------------- tasks per DAG
@contextlib.contextmanager
def task_limit(max_tasks: int) -> Iterator[None]:
    """While importing, a DAG refuses its task number ``max_tasks + 1`` (0: no limit): a file that
    would build 100,000 tasks stops at the limit instead of building (and serialising) them all."""
    dag_module = _definition_dag_module()
    if dag_module is None or max_tasks <= 0:
        yield
        return
    saved = dag_module.DAG.task_limit
    dag_module.DAG.task_limit = max_tasks
    try:
        yield
    finally:
        dag_module.DAG.task_limit = saved


def too_many_tasks(dag: Any, max_tasks: int, path: str) -> ImportErrorInfo | None:
    """The import error of a DAG with more than ``max_tasks`` tasks (0: no limit), else None.

    Checked after the import too, before the snapshot is built: tasks can reach a DAG without
    passing the import-time check (a file that resets ``DAG.task_limit`` or catches the error)."""
    count = len(dag.task_dict)
    if max_tasks <= 0 or count <= max_tasks:
        return None
    return ImportErrorInfo(path, None, (
        f"DAG {dag.dag_id!r} has {count} tasks; [core] max_tasks_per_dag allows {max_tasks}: "
        "split the DAG or raise the setting"))


def _free_memory_after(exc: MemoryError) -> None:
    """Give back what the failed import holds (its frames, its half-built module) before reporting."""
    global _memory_reserve
    _memory_reserve = None
    traceback.clear_frames(exc.__traceback__)
    gc.collect()


# ------------------------------------------------------------------- child processes
#: Bytes of a child's stdout/stderr kept for the log; the rest is counted and dropped.
OUTPUT_KEEP_BYTES = 64 * 1024
#: Niceness of a child in the slow lane: a normal-priority child outweighs ten of them
#: (CFS weights 1024 and 110), so new files win the CPU; not 19 (weight 15), so a slow but
#: finite file still progresses on a busy machine instead of starving into its timeout.
SLOW_NICENESS = 10
#: Address space set aside in the child so it can still report a MemoryError after hitting the
#: limit. An anonymous mapping never touched: it counts against RLIMIT_AS like allocated memory,
#: but costs no page faults (a zero-filled bytearray cost each child ~1,000 of them, 3 ms).
_RESERVE_BYTES = 4 * 1024 * 1024
_memory_reserve: mmap.mmap | None = None


@dataclass(frozen=True)
class ChildLimits:
    """What a parse child may use: ``timeout`` seconds of wall clock, ``memory_mb`` MB of
    address space on top of the parser's own (0: unlimited), and ``max_tasks`` tasks per DAG
    (``[core] max_tasks_per_dag``; 0: unlimited)."""

    timeout: float
    memory_mb: int = 0
    max_tasks: int = DEFAULT_MAX_TASKS_PER_DAG


def memory_limit_message(memory_mb: int) -> str:
    return (
        f"MemoryError: the DAG file needed more memory than [dag_processor] parse_memory_limit "
        f"({memory_mb} MB) allows while being imported"
    )


def _address_space_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit_memory(memory_mb: int) -> None:
    """RLIMIT_AS = what this (forked) process maps already + ``memory_mb``; soft and hard,
    so the DAG file cannot raise it again."""
    import resource

    wanted = _address_space_bytes() + memory_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, wanted))


def _send_to_log(output_fd: int) -> None:
    """Point fds 1 and 2 (and sys.stdout/sys.stderr, whatever the parent made of them) at the
    output pipe: nothing the DAG file prints reaches the terminal or a CLI's output."""
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115


def _child_main(path: str, sys_path: list[str], conn: Any, output_fd: int, limits: ChildLimits, niceness: int) -> None:
    """Entry point of the forked child: import, collect, send one message, exit."""
    my_pid = os.getpid()
    try:
        os.setpgid(0, 0)  # own process group, so a timeout kills whatever the file spawned too
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    faulthandler.disable()  # a crash is reported as an import error, not a dump of the parser's stack
    _send_to_log(output_fd)
    if niceness:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, niceness)
        except OSError:
            pass
    global _memory_reserve
    if limits.memory_mb > 0:
        _limit_memory(limits.memory_mb)
        _memory_reserve = mmap.mmap(-1, _RESERVE_BYTES)
    hashes: dict[str, str] = {}
    try:
        dags, errors = collect_file(path, sys_path, max_tasks=limits.max_tasks)
        hashes = _snapshot_hashes(dags)
        payload: tuple[str, Any, Any] = ("result", dags, errors)
    except MemoryError:
        _memory_reserve = None
        payload = ("result", [], [ImportErrorInfo(path, None, memory_limit_message(limits.memory_mb))])
    except BaseException as exc:  # noqa: BLE001 - the parent must always hear back
        payload = ("result", [], [ImportErrorInfo(path, None, f"parser error: {exc!r}", traceback.format_exc())])
    if os.getpid() != my_pid:
        os._exit(0)  # a process the DAG file forked got here: only the child itself answers
    if limits.memory_mb > 0:
        _memory_reserve = None
        payload = ("result", payload[1], [_name_memory_limit(e, limits.memory_mb) for e in payload[2]])
    _flush_output()  # the parent kills this child as soon as the result arrives
    try:
        conn.send((*payload, hashes))
    except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable value slipped in
        conn.send(("result", [], [ImportErrorInfo(path, None, f"cannot send parse result: {exc!r}")], {}))
    conn.close()


def _snapshot_hashes(snapshots: list[dict[str, Any]]) -> dict[str, str]:
    """Each snapshot's hash, computed here in the child (in parallel) instead of in the storing parent."""
    from tradewind.parse.snapshot import snapshot_hash

    return {snap["dag_id"]: snapshot_hash(snap) for snap in snapshots}


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001, S110 - a stream the DAG file broke: its output is lost, not the result
            pass


def _name_memory_limit(error: ImportErrorInfo, memory_mb: int) -> ImportErrorInfo:
    if not error.message.startswith("MemoryError") or "parse_memory_limit" in error.message:
        return error
    return ImportErrorInfo(error.filename, error.lineno, memory_limit_message(memory_mb), error.stacktrace)


def file_facts(path: str | os.PathLike[str]) -> tuple[str | None, float | None]:
    """(sha256 of the bytes, mtime) of a file, or (None, None) when it cannot be read."""
    try:
        stat = os.stat(path)
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None, None
    return digest, stat.st_mtime


class _ParseJob:
    """One child process importing one file, with its deadline and its captured output."""

    def __init__(self, path: str, limits: ChildLimits, sys_path: list[str], *, niceness: int = 0):
        self.path = path
        self.limits = limits
        self.timeout = limits.timeout
        self.content_hash, self.mtime = file_facts(path)
        self.started = time.monotonic()
        self.deadline = self.started + limits.timeout
        self.niceness = niceness
        self.output = bytearray()
        self.output_bytes = 0
        ctx = multiprocessing.get_context("fork")
        self.conn, child_conn = ctx.Pipe(duplex=False)
        self.out_fd, out_w = os.pipe()
        self.proc = ctx.Process(
            target=_child_main, args=(path, sys_path, child_conn, out_w, limits, niceness), daemon=False
        )
        try:
            self.proc.start()
        finally:
            # Only the child holds the write ends, so its exit means EOF here.
            child_conn.close()
            os.close(out_w)
        os.set_blocking(self.out_fd, False)
        try:
            os.setpgid(self.proc.pid, self.proc.pid)  # also from this side: no race with a fast kill
        except OSError:
            pass

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def waitables(self) -> list[Any]:
        ready = [self.conn, self.proc.sentinel]
        return ready + [self.out_fd] if self.out_fd >= 0 else ready

    def renice(self, niceness: int) -> None:
        """Lower the priority of the child and everything it started (its process group)."""
        try:
            os.setpriority(os.PRIO_PGRP, self.proc.pid, niceness)
        except OSError:
            pass
        self.niceness = niceness

    def drain_output(self) -> None:
        """Read what the child printed so far; keep the first OUTPUT_KEEP_BYTES."""
        while self.out_fd >= 0:
            try:
                chunk = os.read(self.out_fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                os.close(self.out_fd)
                self.out_fd = -1
                return
            self.output_bytes += len(chunk)
            room = OUTPUT_KEEP_BYTES - len(self.output)
            if room > 0:
                self.output += chunk[:room]

    def poll(self, ready: list[Any]) -> FileParseResult | None:
        """The result once the child answered, died, or ran out of time; else None."""
        if self.out_fd in ready:
            self.drain_output()
        if self.conn in ready or self.proc.sentinel in ready:
            try:
                if self.conn.poll(0):
                    _, dags, errors, hashes = self.conn.recv()
                    return self._finish(dags, errors, hashes)
            except (EOFError, OSError):
                pass
            if not self.proc.is_alive() or self.conn.closed:
                return self._crashed()
        if time.monotonic() >= self.deadline:
            self.kill()
            message = (
                f"DAG file took longer than {self.timeout:g} s to import (timeout); raise [core] "
                "dagbag_import_timeout if it needs more"
            )
            return self._result([], [ImportErrorInfo(self.path, None, message)])
        return None

    def _crashed(self) -> FileParseResult:
        self.proc.join(timeout=5)
        code = self.proc.exitcode
        if code is not None and code < 0:
            try:
                how = f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit code {code}"
        message = (
            f"DAG file import process ended without a result ({how}); the file may call os._exit or crash the "
            "interpreter"
        )
        if self.limits.memory_mb > 0 and code is not None and -code in (signal.SIGKILL, signal.SIGABRT, signal.SIGSEGV):
            message += (
                f", or it ran out of memory: imports are limited to [dag_processor] parse_memory_limit "
                f"({self.limits.memory_mb} MB)"
            )
        self.kill()  # whatever the file started goes with it
        return self._result([], [ImportErrorInfo(self.path, None, message)])

    def _finish(self, dags: list[dict[str, Any]], errors: list[ImportErrorInfo],
                hashes: dict[str, str]) -> FileParseResult:
        # The child flushed its output before answering and has nothing left to do: killing it
        # now (not joining first) also ends non-daemon threads or processes the file started,
        # without this loop waiting for them.
        self.kill()
        result = self._result(dags, errors)
        result.hashes = dict(hashes)
        return result

    def kill(self) -> None:
        """Kill the child and its process group (what the DAG file started), and reap the child."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            if self.proc.is_alive():
                self.proc.kill()
        self.proc.join(timeout=5)

    def close(self) -> None:
        self.conn.close()
        if self.out_fd >= 0:
            os.close(self.out_fd)
            self.out_fd = -1

    def _result(self, dags: list[dict[str, Any]], errors: list[ImportErrorInfo]) -> FileParseResult:
        self.drain_output()
        self.close()
        return FileParseResult(
            fileloc=self.path,
            dags=dags,
            errors=list(errors),
            duration=time.monotonic() - self.started,
            content_hash=self.content_hash,
            mtime=self.mtime,
            output=self.output.decode("utf-8", errors="replace"),
            output_bytes=self.output_bytes,
        )


class ParsePool:
    """Parse children in flight, in two lanes, polled without blocking the caller for long.

    The fast lane has ``parallelism`` slots at normal priority. A child that has run
    ``slow_after`` seconds is reniced (its whole process group) and moved to the slow
    lane, which holds at most ``slow_parallelism`` children, so its fast slot is free
    for the next file: one hanging file never holds up the others. ``start(...,
    slow=True)`` puts a file known to be slow straight into the slow lane. Every child
    is killed at its own deadline; at most ``parallelism + slow_parallelism`` run at once.
    """

    def __init__(
        self,
        limits: ChildLimits,
        *,
        sys_path: Sequence[str | os.PathLike[str]] = (),
        parallelism: int = 2,
        slow_parallelism: int = 0,
        slow_after: float = float("inf"),
        output_log: logging.Logger | None = None,
    ) -> None:
        preimport()
        self.limits = limits
        self.sys_path = [str(p) for p in sys_path]
        self.parallelism = max(1, parallelism)
        self.slow_parallelism = max(0, slow_parallelism)
        self.slow_after = slow_after
        self.output_log = output_log or log
        self.fast: dict[str, _ParseJob] = {}
        self.slow: dict[str, _ParseJob] = {}

    def in_flight(self) -> set[str]:
        return set(self.fast) | set(self.slow)

    def __len__(self) -> int:
        return len(self.fast) + len(self.slow)

    def can_start(self, *, slow: bool = False) -> bool:
        if slow and len(self.slow) < self.slow_parallelism:
            return True
        return len(self.fast) < self.parallelism

    def start(self, path: str, *, slow: bool = False) -> None:
        """Start importing ``path`` (absolute); the caller checked :meth:`can_start`."""
        if path in self.fast or path in self.slow:
            raise ValueError(f"{path} is already being parsed")
        if slow and len(self.slow) < self.slow_parallelism:
            self.slow[path] = _ParseJob(path, self.limits, self.sys_path, niceness=SLOW_NICENESS)
        else:
            self.fast[path] = _ParseJob(path, self.limits, self.sys_path)

    def wait(self, timeout: float) -> list[FileParseResult]:
        """Wait up to ``timeout`` seconds for children to answer; return the files finished meanwhile."""
        jobs = [*self.fast.values(), *self.slow.values()]
        if not jobs:
            return []
        now = time.monotonic()
        wake = min(job.deadline for job in jobs)
        if self.fast and len(self.slow) < self.slow_parallelism:
            wake = min(wake, min(job.started for job in self.fast.values()) + self.slow_after)
        waitables = [w for job in jobs for w in job.waitables()]
        ready = wait_for_ready(waitables, timeout=max(0.0, min(timeout, wake - now)))
        results = []
        for lane in (self.fast, self.slow):
            for path, job in list(lane.items()):
                result = job.poll(ready)
                if result is not None:
                    del lane[path]
                    self._log_output(result)
                    results.append(result)
        self._demote_slow_children()
        return results

    def _demote_slow_children(self) -> None:
        for path, job in sorted(self.fast.items(), key=lambda item: item[1].started):
            if len(self.slow) >= self.slow_parallelism or job.elapsed < self.slow_after:
                break
            job.renice(SLOW_NICENESS)
            self.slow[path] = self.fast.pop(path)
            log.debug("%s is slow to import (%.2fs); moved to the slow lane", path, job.elapsed)

    def _log_output(self, result: FileParseResult) -> None:
        if not result.output_bytes:
            return
        dropped = result.output_bytes - len(result.output.encode("utf-8", errors="replace"))
        note = f" (first {OUTPUT_KEEP_BYTES} bytes of {result.output_bytes})" if dropped > 0 else ""
        self.output_log.info("output of %s while being parsed%s:\n%s", result.fileloc, note, result.output.rstrip())

    def close(self) -> None:
        """Kill every child still running (and whatever it started)."""
        for lane in (self.fast, self.slow):
            for job in lane.values():
                job.kill()
                job.close()
            lane.clear()


_preimported = False
#: Imported once in the parser so forked children start warm: the public authoring API,
#: every module of these packages (operators, timetables, templating...), the snapshot code.
PREIMPORT_MODULES = ("tradewind", "tradewind.parse.snapshot")
PREIMPORT_PACKAGES = ("tradewind.definition", "tradewind.compat")


def preimport() -> None:
    """Import the authoring API here once, so every forked child starts with it loaded."""
    global _preimported
    if _preimported:
        return
    _preimported = True
    _install_airflow_shims()  # once here, so forked children inherit the finder
    names = list(PREIMPORT_MODULES)
    for package_name in PREIMPORT_PACKAGES:
        try:
            package = importlib.import_module(package_name)
        except Exception as exc:  # noqa: BLE001 - the child reports the same failure per file
            log.warning("could not pre-import %s: %s", package_name, exc)
            continue
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package_name + ".")]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - optional pieces (extras) may be missing
            log.debug("could not pre-import %s: %s", name, exc)
    # Objects alive now are never collected in a forked child, so its garbage collector does
    # not write to (and copy) the pages it shares with this process.
    gc.freeze()


def parse_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    timeout: float,
    sys_path: Sequence[str | os.PathLike[str]] = (),
    parallelism: int = 2,
    memory_limit_mb: int = 0,
    max_tasks: int = DEFAULT_MAX_TASKS_PER_DAG,
) -> list[FileParseResult]:
    """Parse files in child processes, at most ``parallelism`` at once; results in input order.

    Never raises for bad user code: every failure (exception, syntax error,
    timeout, crash, ``sys.exit``, memory limit) is an :class:`ImportErrorInfo` in the result.
    """
    full_paths = list(dict.fromkeys(str(Path(p).resolve()) for p in paths))
    pool = ParsePool(ChildLimits(timeout, memory_limit_mb, max_tasks), sys_path=sys_path, parallelism=parallelism)
    pending = list(full_paths)
    done: dict[str, FileParseResult] = {}
    try:
        while pending or len(pool):
            while pending and pool.can_start():
                pool.start(pending.pop(0))
            for result in pool.wait(timeout=60.0):
                done[result.fileloc] = result
    finally:
        pool.close()
    return [done[p] for p in full_paths if p in done]


def parse_file(
    path: str | os.PathLike[str],
    *,
    timeout: float,
    sys_path: Sequence[str | os.PathLike[str]] = (),
) -> FileParseResult:
    """Import one DAG file in a child process killed after ``timeout`` seconds."""
    return parse_files([path], timeout=timeout, sys_path=sys_path, parallelism=1)[0]
