"""The DAG processor: keeps the database's DAGs in step with the DAG files on disk.

Each :meth:`DagProcessor.sync_once` lists the DAG folders, imports only new or
changed files (in child processes, see :mod:`tradewind.parse.dagbag`), stores
their snapshots and import errors, and marks DAGs whose files are gone
inactive. A file is "changed" when its content hash differs from the one
recorded in ``parsed_file`` (the hash is only computed when the mtime moved);
every file is also re-imported once it was last parsed more than
``[scheduler] min_file_process_interval`` seconds ago, so changes in helper
modules beside it are picked up too (as in Airflow).

Settings read (``[section] key``, default):

- ``[core] dagbag_import_timeout`` — seconds a file may take to import.
- ``[core] dags_are_paused_at_creation`` (False) — paused state of new DAGs.
- ``[scheduler] dag_dir_list_interval`` — seconds between scans in :meth:`run_forever`.
- ``[scheduler] min_file_process_interval`` (30) — re-import unchanged files after this long.
- ``[scheduler] parsing_processes`` (2) — files imported at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tradewind.parse.dagbag import file_facts, list_dag_files, parse_files, preimport
from tradewind.persist.db import Database, utcnow
from tradewind.persist.models import ParsedFile
from tradewind.persist.queries.dags import deactivate_missing_files, parsed_files, store_file_results
from tradewind.schedule.wakeup import notify_scheduler

log = logging.getLogger(__name__)


@dataclass
class ParseSummary:
    """What one scan did."""

    files_seen: int = 0
    #: Files imported this scan (new, changed, due, or forced).
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


class DagProcessor:
    """Scans the DAG folders and stores what changed. ``clock`` returns aware UTC now."""

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
        self.default_paused = config.getbool("core", "dags_are_paused_at_creation")
        #: Total files imported by this processor (handy for tests and the health view).
        self.parse_count = 0
        preimport()

    def folders(self) -> list[Path]:
        return list(self.config.dag_folders())

    # ----------------------------------------------------------------------- one scan
    def sync_once(self, force: bool = False) -> ParseSummary:
        """List, import what changed, store; ``force`` re-imports every file."""
        started = time.monotonic()
        now = self.clock()
        folders = self.folders()
        files = [str(p) for p in list_dag_files(folders)]
        with self.db.session_scope() as session:
            known = {row.fileloc: (row.mtime, row.content_hash, row.last_parsed_at) for row in parsed_files(session)}
        to_parse: list[str] = []
        touched: dict[str, float] = {}
        for path in files:
            decision, mtime = self._decide(path, known.get(path), now, force)
            if decision == "parse":
                to_parse.append(path)
            elif decision == "touch" and mtime is not None:
                touched[path] = mtime
        results = parse_files(to_parse, timeout=self.timeout, sys_path=folders, parallelism=self.parallelism)
        self.parse_count += len(results)
        with self.db.session_scope() as session:
            deactivated = deactivate_missing_files(session, files, now)
            stored = store_file_results(session, results, now, default_paused=self.default_paused)
            for path, mtime in touched.items():
                row = session.get(ParsedFile, path)
                if row is not None:
                    row.mtime = mtime
        summary = ParseSummary(
            files_seen=len(files),
            files_parsed=to_parse,
            files_unchanged=len(files) - len(to_parse),
            new_versions=stored.new_versions,
            dags=stored.dags,
            deactivated=sorted(set(deactivated) | set(stored.deactivated)),
            import_errors=stored.import_errors,
            duration=time.monotonic() - started,
        )
        if summary.files_parsed or summary.deactivated:
            log.info(
                "parsed %d of %d DAG files in %.2fs: %d new versions, %d import errors, %d deactivated",
                len(to_parse), len(files), summary.duration, len(summary.new_versions),
                summary.import_errors, len(summary.deactivated),
            )
        return summary

    def _decide(
        self, path: str, known: tuple[float, str, datetime] | None, now: datetime, force: bool
    ) -> tuple[str, float | None]:
        """"parse", "touch" (same bytes, new mtime: record it) or "skip"."""
        if force or known is None:
            return "parse", None
        mtime, content_hash, last_parsed_at = known
        if self.min_file_process_interval > 0 and (now - last_parsed_at).total_seconds() >= self.min_file_process_interval:
            return "parse", None
        try:
            current_mtime = Path(path).stat().st_mtime
        except OSError:
            return "skip", None  # vanished between listing and now; the next scan deactivates it
        if current_mtime == mtime:
            return "skip", None
        current_hash, _ = file_facts(path)
        if current_hash != content_hash:
            return "parse", None
        return "touch", current_mtime

    # ------------------------------------------------------------------------ the loop
    def run_forever(self, stop: threading.Event, interval: float | None = None) -> None:
        """Scan every ``interval`` seconds (``[scheduler] dag_dir_list_interval``) until ``stop`` is set."""
        wait = interval if interval is not None else self.config.getfloat("scheduler", "dag_dir_list_interval")
        while not stop.is_set():
            try:
                summary = self.sync_once()
            except Exception:  # noqa: BLE001 - a bad scan (DB busy, ...) must not end the processor
                log.exception("DAG folder scan failed; retrying in %.1fs", wait)
            else:
                if summary.new_versions or summary.deactivated:
                    notify_scheduler(self.db)  # a new or changed DAG may have a run due now
            stop.wait(wait)
