"""The DAG processor: keeps the database's DAGs in step with the DAG files on disk.

How it parses (one DAG file can never delay the others):

- **Continuous, per file.** :meth:`DagProcessor.run_forever` keeps a
  :class:`~tradewind.parse.dagbag.ParsePool` of child processes busy across scans.
  Each file's result (its DAGs or its import error) is stored at most 0.2 s after its
  child answers, in one transaction with the other files that finished meanwhile (up
  to 64; one transaction per file cost more than parsing a small file). If the
  database refuses such a batch, each of its files is stored in its own transaction,
  so one file's bad result never loses the others'; a slow file delays only itself.
  (So when two new files define the same DAG id, the one stored first keeps it and
  the other gets the import error; an owner keeps its DAG id across restarts.)
- **Listing.** The folders are listed every ``[scheduler] dag_dir_list_interval``
  seconds even while children are still running, and at once when a folder's mtime
  moved (checked every quarter second: a file was added, removed or renamed) or a
  listed file's mtime moved (checked every half second: a file written in place). A file
  is queued when it is new, when its bytes changed (content hash, computed only when
  the mtime moved), or when
  it was last parsed more than ``[scheduler] min_file_process_interval`` seconds ago
  (helper modules beside it may have changed, as in Airflow). A file already in
  flight or queued is never queued twice.
- **Order.** New and changed files first; then due files, quickest last parse first.
- **Two lanes.** ``[scheduler] parsing_processes`` children run at normal priority.
  One that has imported for ``[dag_processor] slow_parse_threshold`` seconds is
  reniced (its whole process group) and moved to a slow lane of at most
  ``[dag_processor] slow_parse_processes`` children, freeing its slot for the next
  file; a file whose last parse was that slow starts in the slow lane directly. So
  at most ``parsing_processes + slow_parse_processes`` children exist at once, and a
  folder full of ``while True: pass`` files costs new files one short wait each.
  A starved slow child still dies at its own deadline ``[core] dagbag_import_timeout``.
- **Limits and output.** Each child has ``[dag_processor] parse_memory_limit`` MB of
  address space (RLIMIT_AS) on top of the parser's; exceeding it is an import error
  naming the setting. What a file prints goes to this processor's log (its first
  64 KiB), never to a terminal or a CLI's output.
- **Job row.** :meth:`run_forever` records a ``dag_processor`` job and heartbeats it
  every ``[dag_processor] job_heartbeat_sec`` seconds, also while children run.

:meth:`DagProcessor.sync_once` is the blocking form (tests, ``dags reserialize``,
CLI commands parsing locally): list, parse what is due, store each file as it
finishes, return once every file of this scan is stored.

Settings read (``[section] key``, default):

- ``[core] dagbag_import_timeout`` (30) — seconds a file may take to import.
- ``[core] dags_are_paused_at_creation`` (False) — paused state of new DAGs.
- ``[scheduler] dag_dir_list_interval`` (5) — seconds between two listings of the folders.
- ``[scheduler] min_file_process_interval`` (30) — re-import unchanged files after this long.
- ``[scheduler] parsing_processes`` (2) — files imported at once at normal priority.
- ``[dag_processor] slow_parse_threshold`` (0.1), ``slow_parse_processes`` (32),
  ``parse_memory_limit`` (2048 MB; 0: none), ``job_heartbeat_sec`` (5).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tradewind.parse.dagbag import ChildLimits, FileParseResult, ParsePool, file_facts, list_dag_files, preimport
from tradewind.parse.discovery import discovery_options
from tradewind.persist.db import Database, utcnow
from tradewind.persist.models import ParsedFile
from tradewind.persist.queries.dags import deactivate_missing_files, parsed_files, store_file_results
from tradewind.schedule.wakeup import notify_scheduler

log = logging.getLogger(__name__)

JOB_TYPE = "dag_processor"
#: Longest single wait of the loop, so a stop request is noticed quickly.
_MAX_WAIT = 0.25
#: Seconds between two checks of the folders' mtimes (a new file is listed at once, not at the
#: next dag_dir_list_interval).
_DIR_POLL = 0.25
#: Seconds between two checks of the listed files' mtimes (a file written in place is parsed
#: within a second, not at the next dag_dir_list_interval): 1,000 stats cost about 2 ms.
_FILE_POLL = 0.5
#: Finished files are stored together, in one transaction, once this many wait or the first of
#: them has waited _STORE_WITHIN seconds (or nothing else is running): one transaction per file
#: cost more than the parse of a small file.
_STORE_BATCH = 64
_STORE_WITHIN = 0.2


@dataclass
class ParseSummary:
    """What one scan (or one stretch of the continuous loop) did."""

    files_seen: int = 0
    #: Files imported (new, changed, due, or forced).
    files_parsed: list[str] = field(default_factory=list)
    files_unchanged: int = 0
    #: dag_id -> new version number.
    new_versions: dict[str, int] = field(default_factory=dict)
    dags: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    import_errors: int = 0
    duration: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.new_versions or self.deactivated or self.import_errors)


def parse_memory_limit_mb(text: str) -> int:
    """``[dag_processor] parse_memory_limit`` in MB: ``2048``, ``2048MB``, ``2G``, ``512m``; 0: none."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", str(text), re.IGNORECASE)
    if match is None:
        raise ValueError(f"[dag_processor] parse_memory_limit: {text!r} is not a size such as 2048 (MB) or 2G")
    number, unit = float(match.group(1)), match.group(2).lower()
    factor = {"": 1, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}[unit]
    return int(number * factor)


@dataclass
class _Queued:
    order: tuple[int, float]  # (0 new/changed or 1 due, last parse duration)
    slow: bool


class DagProcessor:
    """Parses the DAG folders into the database. ``clock`` returns aware UTC now."""

    def __init__(
        self,
        config: Any,
        db: Database,
        *,
        clock: Callable[[], datetime] | None = None,
        parallelism: int | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.clock = clock or utcnow
        self.timeout = config.dagbag_import_timeout
        self.parallelism = parallelism or config.getint("scheduler", "parsing_processes")
        self.min_file_process_interval = config.getfloat("scheduler", "min_file_process_interval")
        self.list_interval = config.getfloat("scheduler", "dag_dir_list_interval")
        self.default_paused = config.getbool("core", "dags_are_paused_at_creation")
        self.slow_after = config.getfloat("dag_processor", "slow_parse_threshold")
        self.memory_limit_mb = parse_memory_limit_mb(config.get("dag_processor", "parse_memory_limit"))
        self.heartbeat_interval = config.getfloat("dag_processor", "job_heartbeat_sec")
        #: Total files imported by this processor (handy for tests and the health view).
        self.parse_count = 0
        self.job_id: int | None = None
        preimport()
        self.pool = ParsePool(
            ChildLimits(self.timeout, self.memory_limit_mb, config.getint("core", "max_tasks_per_dag")),
            sys_path=self.folders(),
            parallelism=self.parallelism,
            slow_parallelism=config.getint("dag_processor", "slow_parse_processes"),
            slow_after=self.slow_after,
            output_log=log,
        )
        self._queue: dict[str, _Queued] = {}
        #: The queue's paths in dispatch order, sorted once per change of the queue (None: to sort).
        self._order: list[str] | None = None
        self._head = 0
        #: Finished files not stored yet, and when the first of them finished (monotonic).
        self._unstored: list[FileParseResult] = []
        self._unstored_since = 0.0
        self._force_next: set[str] = set()
        self._deactivated: list[str] = []
        self._dir_mtimes: dict[str, float] = {}
        #: mtime of each file of the last listing, checked every _FILE_POLL seconds.
        self._file_mtimes: dict[str, float] = {}
        self._next_file_poll = 0.0

    def folders(self) -> list[Path]:
        return list(self.config.dag_folders())

    # ------------------------------------------------------------------ listing
    def list_and_queue(self, force: bool = False) -> tuple[list[str], list[str]]:
        """List the folders, forget vanished files, queue what is due; returns (files seen, files queued)."""
        now = self.clock()
        files = [str(p) for p in list_dag_files(self.folders(), **discovery_options(self.config))]
        with self.db.session_scope() as session:
            known = {row.fileloc: (row.mtime, row.content_hash, row.last_parsed_at, row.parse_duration or 0.0)
                     for row in parsed_files(session)}
        touched: dict[str, float] = {}
        queued: list[str] = []
        in_flight = self.pool.in_flight() | {result.fileloc for result in self._unstored}
        for path in files:
            if path in in_flight or path in self._queue:
                if force:
                    queued.append(path)
                    self._force_next.add(path)
                continue
            decision, mtime = self._decide(path, known.get(path), now, force)
            if decision == "parse":
                last = known.get(path)
                duration = last[3] if last is not None else 0.0
                fresh = last is None or force or (mtime is not None)
                self._enqueue(path, _Queued((0 if fresh else 1, duration), slow=duration >= self.slow_after))
                queued.append(path)
            elif decision == "touch" and mtime is not None:
                touched[path] = mtime
        self._dir_mtimes = _dir_mtimes(self.folders(), files)
        self._file_mtimes = _file_mtimes(files)
        gone = set(self._queue) - set(files)
        for path in gone:
            del self._queue[path]
        with self.db.session_scope() as session:
            deactivated = deactivate_missing_files(session, files, now)
            for path, mtime in touched.items():
                row = session.get(ParsedFile, path)
                if row is not None:
                    row.mtime = mtime
        if deactivated:
            log.info("DAG files gone: %d DAGs deactivated", len(deactivated))
            notify_scheduler(self.db)
        self._deactivated = deactivated
        return files, queued

    def _decide(
        self, path: str, known: tuple[float, str, datetime, float] | None, now: datetime, force: bool
    ) -> tuple[str, float | None]:
        """("parse", mtime if its bytes changed else None), ("touch", mtime) (same bytes) or ("skip", None)."""
        if force or known is None:
            return "parse", None
        mtime, content_hash, last_parsed_at, _duration = known
        try:
            current_mtime = Path(path).stat().st_mtime
        except OSError:
            return "skip", None  # vanished between listing and now; the next listing deactivates it
        if current_mtime != mtime:
            current_hash, _ = file_facts(path)
            if current_hash != content_hash:
                return "parse", current_mtime
        due = self.min_file_process_interval > 0 and (
            (now - last_parsed_at).total_seconds() >= self.min_file_process_interval
        )
        if due:
            return "parse", None
        return ("touch", current_mtime) if current_mtime != mtime else ("skip", None)

    # ------------------------------------------------------------------ parsing
    def _enqueue(self, path: str, item: _Queued) -> None:
        self._queue[path] = item
        self._order = None

    def _dispatch(self) -> None:
        """Start queued files while the pool has room: new/changed first, then quickest."""
        if self._order is None:
            self._order = sorted(self._queue, key=lambda p: self._queue[p].order)
            self._head = 0
        order = self._order
        while self._head < len(order) and order[self._head] not in self._queue:
            self._head += 1  # started or forgotten since the sort
        for index in range(self._head, len(order)):
            path = order[index]
            item = self._queue.get(path)
            if item is None:
                continue
            if not self.pool.can_start(slow=item.slow):
                if not self.pool.can_start(slow=True):
                    break  # both lanes full
                continue  # a known-slow file further on may still fit the slow lane
            del self._queue[path]
            self.pool.start(path, slow=item.slow)

    def _wait_and_store(self, timeout: float, summary: ParseSummary) -> list[str]:
        """Wait for children up to ``timeout``; store the finished files (together, within
        ``_STORE_WITHIN`` seconds of the first finishing); returns the paths stored now."""
        if self._unstored:
            timeout = min(timeout, max(0.0, self._unstored_since + _STORE_WITHIN - time.monotonic()))
        results = self.pool.wait(timeout) if len(self.pool) else []
        if not len(self.pool) and not results and not self._unstored and timeout > 0:
            time.sleep(timeout)
        for result in results:
            self.parse_count += 1
            summary.files_parsed.append(result.fileloc)
            if not self._unstored:
                self._unstored_since = time.monotonic()
            self._unstored.append(result)
        due = (len(self._unstored) >= _STORE_BATCH or not (len(self.pool) or self._queue)
               or time.monotonic() >= self._unstored_since + _STORE_WITHIN)
        if not self._unstored or not due:
            return []
        batch, self._unstored = self._unstored, []
        changed_before = (len(summary.new_versions), len(summary.deactivated))
        self._store(batch, summary)
        for result in batch:
            if result.fileloc in self._force_next:
                self._force_next.discard(result.fileloc)
                self._enqueue(result.fileloc, _Queued((0, 0.0), slow=False))
        if (len(summary.new_versions), len(summary.deactivated)) != changed_before:
            notify_scheduler(self.db)  # a new or changed DAG may have a run due now
        return [result.fileloc for result in batch]

    def _store(self, results: list[FileParseResult], summary: ParseSummary) -> None:
        """Store finished files in one transaction; if that fails, each file in its own, so one
        file whose results the database refuses never loses the others'."""
        # A file deleted while it was being parsed is skipped; the next listing deactivates its DAGs.
        present = [result for result in results if os.path.exists(result.fileloc)]
        if not present:
            return
        if len(present) > 1:
            try:
                self._store_together(present, summary)
                return
            except Exception:  # noqa: BLE001 - retried file by file below, which names the culprit
                log.debug("storing %d files together failed; storing them one by one", len(present), exc_info=True)
        failure: Exception | None = None
        for result in present:
            try:
                self._store_together([result], summary)
            except Exception as exc:  # noqa: BLE001 - raised once the other files are stored
                log.warning("DAG processor: storing the results of %s failed: %s", result.fileloc, exc)
                failure = failure or exc
        if failure is not None:
            raise failure

    def _store_together(self, results: list[FileParseResult], summary: ParseSummary) -> None:
        """One transaction; the summary learns what it stored only once it committed."""
        with self.db.session_scope() as session:
            stored = store_file_results(session, results, self.clock(), default_paused=self.default_paused)
        summary.new_versions.update(stored.new_versions)
        summary.dags.extend(stored.dags)
        summary.deactivated.extend(stored.deactivated)
        summary.import_errors += stored.import_errors
        for result in results:
            if stored.errors_by_file.get(result.fileloc):
                log.info("%s: %d import errors (%.2fs)", result.fileloc, stored.errors_by_file[result.fileloc],
                         result.duration)

    # ----------------------------------------------------------------------- one scan
    def sync_once(self, force: bool = False) -> ParseSummary:
        """List, import what is due (``force``: every file), store; returns once all of them are stored."""
        started = time.monotonic()
        files, queued = self.list_and_queue(force=force)
        summary = ParseSummary(files_seen=len(files))
        waiting = set(queued)
        unstored = {result.fileloc for result in self._unstored}
        while waiting & (self.pool.in_flight() | set(self._queue) | self._force_next | unstored):
            self._dispatch()
            self._wait_and_store(5.0, summary)
            unstored = {result.fileloc for result in self._unstored}
        summary.files_unchanged = len(files) - len(queued)
        summary.deactivated = sorted(set(self._deactivated) | set(summary.deactivated))
        summary.files_parsed = sorted(set(summary.files_parsed) & waiting)
        summary.duration = time.monotonic() - started
        if summary.files_parsed or summary.deactivated:
            log.info(
                "parsed %d of %d DAG files in %.2fs: %d new versions, %d import errors, %d deactivated",
                len(summary.files_parsed), len(files), summary.duration, len(summary.new_versions),
                summary.import_errors, len(summary.deactivated),
            )
        return summary

    # ------------------------------------------------------------------------ the loop
    def run_forever(self, stop: threading.Event, interval: float | None = None) -> None:
        """Parse continuously until ``stop`` is set; list the folders every ``interval`` seconds
        (``[scheduler] dag_dir_list_interval``). Records and heartbeats a ``dag_processor`` job."""
        list_every = interval if interval is not None else self.list_interval
        _ensure_log_output()
        self._start_job()
        next_listing = next_beat = next_dir_poll = time.monotonic()
        state = "success"
        try:
            while not stop.is_set():
                now = time.monotonic()
                if now >= next_dir_poll:
                    next_dir_poll = now + _DIR_POLL
                    if self._folders_changed():
                        next_listing = now  # a file was added, removed or renamed: list at once
                if now >= next_listing:
                    next_listing = now + list_every
                    self._safely(self.list_and_queue, "listing the DAG folders")
                if now >= next_beat:
                    next_beat = now + self.heartbeat_interval
                    self._safely(self._heartbeat, "recording the heartbeat")
                self._dispatch()
                wait = max(0.0, min(_MAX_WAIT, next_listing - time.monotonic(), next_beat - time.monotonic()))
                self._safely(lambda: self._wait_and_store(wait, ParseSummary()), "storing parse results")
            self._safely(self._store_unstored, "storing parse results")
        except BaseException:
            state = "failed"
            raise
        finally:
            self.pool.close()
            self._end_job(state)

    def _store_unstored(self) -> None:
        """Store the files that finished but wait for their batch (when stopping)."""
        batch, self._unstored = self._unstored, []
        if batch:
            self._store(batch, ParseSummary())

    def _folders_changed(self) -> bool:
        """Whether a folder of the last listing changed its mtime (an entry was added, removed or
        renamed, as editors do when saving), or (every _FILE_POLL seconds) a file of it did (written
        in place): cheap enough to check between listings."""
        if _any_mtime_moved(self._dir_mtimes):
            return True
        now = time.monotonic()
        if now < self._next_file_poll:
            return False
        self._next_file_poll = now + _FILE_POLL
        return _any_mtime_moved(self._file_mtimes)

    def _safely(self, step: Callable[[], Any], what: str) -> None:
        try:
            step()
        except Exception:  # noqa: BLE001 - a busy database must not end the processor
            log.exception("DAG processor: %s failed; going on", what)
            time.sleep(0.5)

    def close(self) -> None:
        """Kill children still parsing (``sync_once`` callers need not call it)."""
        self.pool.close()

    # ------------------------------------------------------------------------ job row
    def _start_job(self) -> None:
        from tradewind.persist.queries.jobs import start_job

        with self.db.session_scope() as session:
            job = start_job(session, JOB_TYPE, _hostname(self.config), os.getpid(), self.clock())
            self.job_id = job.id

    def _heartbeat(self) -> None:
        from tradewind.persist.queries.jobs import job_heartbeat

        if self.job_id is None:
            return
        with self.db.session_scope() as session:
            job_heartbeat(session, self.job_id, self.clock())

    def _end_job(self, state: str) -> None:
        from tradewind.persist.queries.jobs import end_job

        if self.job_id is None:
            return
        try:
            with self.db.session_scope() as session:
                end_job(session, self.job_id, self.clock(), state=state)
        except Exception:  # noqa: BLE001 - stopping anyway
            log.exception("DAG processor: could not record its end")


def _any_mtime_moved(mtimes: dict[str, float]) -> bool:
    """Whether a path's mtime differs from the one noted (or the path is gone)."""
    for path, mtime in mtimes.items():
        try:
            if os.stat(path).st_mtime != mtime:
                return True
        except OSError:
            return True
    return False


def _file_mtimes(files: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for path in files:
        try:
            out[path] = os.stat(path).st_mtime
        except OSError:
            continue
    return out


def _dir_mtimes(folders: list[Path], files: list[str]) -> dict[str, float]:
    """mtime of each DAG folder and of each folder holding a listed file."""
    out: dict[str, float] = {}
    for folder in {str(f) for f in folders} | {os.path.dirname(f) for f in files}:
        try:
            if os.path.isdir(folder):
                out[folder] = os.stat(folder).st_mtime
        except OSError:
            continue
    return out


def _hostname(config: Any) -> str:
    return config.get("core", "hostname") or socket.getfqdn()


def _ensure_log_output() -> None:
    """Without any logging set up, still show this processor's INFO lines (and what DAG files
    print while parsed) on stderr: that is its log."""
    if logging.getLogger().handlers:
        return
    for name in (__name__, "tradewind.parse"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)

