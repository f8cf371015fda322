"""What the scheduler's steps share: its transaction, snapshot cache, scope and deadlines.

One :class:`StepContext` belongs to one :class:`~tradewind.schedule.scheduler.Scheduler`;
every step module (run creation, decisions, queueing, hand-over, health, the scheduler's
job) holds the same one, so a step reads and writes through the same connection and notes
when it next has work (:attr:`StepContext.deadlines`) where the loop's wait can see it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tradewind.config import Config
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.db import READ_ONLY, Database
from tradewind.persist.models import DagModel, DagRun, DagVersion
from tradewind.schedule.executor_interface import BaseExecutor


@cache
def _paused_stmt() -> Any:
    """Built once on the table (no ORM compile step): the decision and queueing steps read it."""
    dag = DagModel.__table__
    return select(dag.c.dag_id).where(dag.c.is_paused.is_(True))


class StepContext:
    """The scheduler's shared state for its steps.

    ``only_run=(dag_id, run_id)`` limits every step to that one run (``dags test``).
    ``job_id`` is the scheduler's job row once registered (it marks the instances it queues).
    """

    def __init__(self, config: Config, db: Database, executor: BaseExecutor, clock: Callable[[], datetime],
                 only_run: tuple[str, str] | None) -> None:
        self.config = config
        self.db = db
        self.executor = executor
        self.clock = clock
        self.only_run = only_run
        self.job_id: int | None = None
        #: When some step next has work (retry due, next run, next check); the loop waits until
        #: the earliest. Cleared at the start of every loop step.
        self.deadlines: list[datetime] = []
        self.environ = config.as_environ()
        self._conn: Connection | None = None
        self._snapshots: dict[int, DagSnapshot] = {}
        #: DAG version id -> its snapshot hash (workloads carry it; a remote worker checks it).
        self.hashes: dict[int, str] = {}

    # ------------------------------------------------------------- transactions
    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """One transaction, committed on exit (like ``db.session_scope``).

        On SQLite the scheduler keeps one connection open for its lifetime:
        opening and closing a connection per step costs milliseconds (the last
        close of a WAL database checkpoints it), which is most of the latency
        between one task ending and the next starting.

        ``read_only``: a check that writes nothing (``db.read_scope``): on SQLite it does
        not queue for the write lock behind the try processes' transactions.
        """
        if not self.db.is_sqlite:
            with (self.db.read_scope() if read_only else self.db.session_scope()) as session:
                yield session
            return
        if self._conn is None:
            self._conn = self.db.engine.connect()
        self._conn.execution_options(**{READ_ONLY: read_only})  # in place: read by the BEGIN hook
        session = Session(bind=self._conn, expire_on_commit=False)
        try:
            yield session
            if read_only:
                session.rollback()
            else:
                session.commit()
        except BaseException as exc:
            session.rollback()
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                self.close_connection()
            raise
        finally:
            session.close()

    def close_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    # ------------------------------------------------------------------ snapshots
    def snapshot_map(self, session: Session, version_ids: Iterable[int | None]) -> dict[int, DagSnapshot]:
        """Snapshots by DAG version id, loading the uncached ones in one query (versions are immutable)."""
        wanted = {v for v in version_ids if v is not None}
        missing = wanted - self._snapshots.keys()
        if missing:
            rows = session.execute(select(DagVersion.id, DagVersion.snapshot, DagVersion.snapshot_hash)
                                   .where(DagVersion.id.in_(missing)))
            for vid, data, digest in rows:
                self._snapshots[vid] = DagSnapshot.from_dict(data)
                self.hashes[vid] = digest
        return {v: self._snapshots[v] for v in wanted if v in self._snapshots}

    def snapshot(self, session: Session, version_id: int | None) -> DagSnapshot | None:
        return self.snapshot_map(session, [version_id]).get(version_id) if version_id is not None else None

    def task_of(self, session: Session, ti: Any) -> Any:
        """The task snapshot an instance runs (for its retry policy), or None if unknown."""
        snap = self.snapshot(session, ti.dag_version_id)
        return snap.tasks.get(ti.task_id) if snap else None

    def pin_version(self, session: Session, run: DagRun) -> int | None:
        """A run without a version is pinned to its DAG's latest one."""
        if run.dag_version_id is None:
            dag = session.get(DagModel, run.dag_id)
            run.dag_version_id = dag.latest_version_id if dag is not None else None
        return run.dag_version_id

    # ------------------------------------------------------------------ scope
    def scoped(self, stmt: Any, model: Any) -> Any:
        """Restrict a run or task-instance query to ``only_run`` when set."""
        if self.only_run is None:
            return stmt
        dag_id, run_id = self.only_run
        return stmt.where(model.dag_id == dag_id, model.run_id == run_id)

    def in_scope(self, dag_id: str, run_id: str) -> bool:
        return self.only_run is None or (dag_id, run_id) == self.only_run

    def paused_dag_ids(self, session: Session) -> set[str]:
        """Paused DAGs, whose runs do not progress; ``only_run`` (``dags test``) ignores pausing."""
        if self.only_run is not None:
            return set()
        return set(session.scalars(_paused_stmt()))
