"""Purge old history from the metadata database (``tradewind db clean``, Airflow's ``db clean``).

Each cleanable table has a *rule*: the rows older than a cut-off by one timestamp column (Airflow's
choice of column where Airflow has the table), minus the rows something still needs:

* ``dag_run`` (``start_date``): only finished runs, and never the latest non-manual run of each DAG
  and run type (by ``run_after`` and by ``logical_date``), because the scheduler continues the
  timetable and the asset-triggered window from those. A run goes with everything of it: task
  instances, their tries, XComs, reschedules, HITL requests, state store keys, notes and
  triggering-event links — children first, so no task instance outlives its run.
* ``task_instance``, ``task_instance_try``, ``xcom``, ``task_reschedule``: rows of a run that is
  unfinished or kept (above) are never removed, whatever their age; a task instance goes with its
  tries, XComs, reschedules, HITL requests, state store keys and note.
* ``trigger``: only triggers no task instance or HITL request refers to (never asset watchers).
* ``job``: only jobs that are not ``running``.
* ``import_error``: only errors of files the parser no longer tracks (stale).
* ``dag_version``: never the newest version of a DAG, nor one a DAG, run or task instance uses.
* ``dag_code``: only code no DAG version points at.

Removed rows are first copied to an archive table per source table, named
``_tradewind_deleted__<table>__<YYYYMMDDHHMMSS>`` (the clean's start time, UTC), unless
``archive=False``. Work goes in batches of ``batch_size`` root rows, each batch one transaction
(its children, then the rows themselves), so a 5-million-row table never holds one huge
transaction. Functions take the engine explicitly; nothing here reads configuration.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    MetaData,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    inspect,
    literal,
    not_,
    or_,
    select,
    tuple_,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from tradewind.persist import models as m
from tradewind.states import FINISHED_DAGRUN_STATES, UNFINISHED_DAGRUN_STATES, DagRunType

ARCHIVE_PREFIX = "_tradewind_deleted__"
#: Airflow's names for tables Tradewind calls differently.
AIRFLOW_ALIASES = {"task_instance_history": "task_instance_try", "dataset_event": "asset_event"}
EXPORT_FORMATS = ("csv", "json")

_T = {t.name: t for t in m.Base.metadata.sorted_tables}
_RUN = _T["dag_run"]
_TI = _T["task_instance"]
_FINISHED_RUN = sorted(s.value for s in FINISHED_DAGRUN_STATES)
_UNFINISHED_RUN = sorted(s.value for s in UNFINISHED_DAGRUN_STATES)
_MANUAL = DagRunType.MANUAL.value


# ------------------------------------------------------------------------------------- rules
def _kept_run(run: Any) -> ColumnElement[bool]:
    """``run`` (a dag_run alias) is the latest non-manual run of its DAG and run type, by
    ``run_after`` or by ``logical_date`` (one grouped subquery each, not one per row)."""
    conditions = []
    for col in ("run_after", "logical_date"):
        other = _RUN.alias()
        latest = (select(other.c.dag_id, other.c.run_type, func.max(other.c[col]))
                  .where(other.c.run_type != _MANUAL, other.c[col].is_not(None))
                  .group_by(other.c.dag_id, other.c.run_type))
        conditions.append(and_(run.c[col].is_not(None), tuple_(run.c.dag_id, run.c.run_type, run.c[col]).in_(latest)))
    return or_(*conditions)


def kept_run_ids(conn: Connection) -> list[int]:
    """Ids of the runs :func:`_kept_run` keeps: one per DAG and run type, so a short list.

    Read once per clean (not once per batch), so a batch's cost does not grow with the
    dag_run table."""
    return list(conn.scalars(select(_RUN.c.id).where(_kept_run(_RUN))))


@dataclass(frozen=True)
class Cut:
    """What a rule needs: the cut-off, and the runs kept whatever their age."""

    before: datetime
    kept_runs: tuple[int, ...] = ()


def _run_needed(table: Table, cut: Cut) -> ColumnElement[bool]:
    """A row of ``table`` belongs to a run that is unfinished or kept."""
    run = _RUN.alias()
    return exists().where(
        run.c.dag_id == table.c.dag_id, run.c.run_id == table.c.run_id,
        or_(run.c.state.not_in(_FINISHED_RUN), run.c.id.in_(cut.kept_runs)),
    )


def _older(table: Table, column: str, cut: Cut) -> ColumnElement[bool]:
    return table.c[column] < cut.before


def _rule_dag_run(cut: Cut) -> ColumnElement[bool]:
    # "not unfinished" rather than "in finished": SQLite would otherwise read the runs through the
    # (state, end_date) index and sort them all for each batch, instead of walking the key.
    return and_(_older(_RUN, "start_date", cut), _RUN.c.state.not_in(_UNFINISHED_RUN),
                _RUN.c.id.not_in(cut.kept_runs))


def _run_scoped(name: str, column: str) -> Callable[[Cut], ColumnElement[bool]]:
    table = _T[name]
    return lambda cut: and_(_older(table, column, cut), not_(_run_needed(table, cut)))


def _rule_trigger(cut: Cut) -> ColumnElement[bool]:
    from tradewind.persist.queries.triggers import WATCHER_CLASSPATH

    trig, hitl = _T["trigger"], _T["hitl_detail"]
    return and_(
        _older(trig, "created_date", cut), trig.c.classpath != WATCHER_CLASSPATH,
        ~exists().where(_TI.c.trigger_id == trig.c.id), ~exists().where(hitl.c.trigger_id == trig.c.id),
    )


def _rule_job(cut: Cut) -> ColumnElement[bool]:
    job = _T["job"]
    return and_(_older(job, "latest_heartbeat", cut), job.c.state != "running")


def _rule_import_error(cut: Cut) -> ColumnElement[bool]:
    err, parsed = _T["import_error"], _T["parsed_file"]
    return and_(_older(err, "timestamp", cut), ~exists().where(parsed.c.fileloc == err.c.filename))


def _rule_dag_version(cut: Cut) -> ColumnElement[bool]:
    ver, dag = _T["dag_version"], _T["dag"]
    other = ver.alias()
    newest = select(func.max(other.c.version_number)).where(other.c.dag_id == ver.c.dag_id).scalar_subquery()
    return and_(
        _older(ver, "created_at", cut), ver.c.version_number < newest,
        ~exists().where(_RUN.c.dag_version_id == ver.c.id), ~exists().where(_TI.c.dag_version_id == ver.c.id),
        ~exists().where(dag.c.latest_version_id == ver.c.id),
    )


def _rule_dag_code(cut: Cut) -> ColumnElement[bool]:
    code, ver = _T["dag_code"], _T["dag_version"]
    return and_(_older(code, "created_at", cut), ~exists().where(ver.c.source_hash == code.c.source_hash))


def _plain(name: str, column: str) -> Callable[[Cut], ColumnElement[bool]]:
    return lambda cut: _older(_T[name], column, cut)


# -------------------------------------------------------------------------------- children
Children = Callable[[Sequence[Any]], list[tuple[str, ColumnElement[bool]]]]


_TI_KEY = ("dag_id", "run_id", "task_id", "map_index")


def _children_dag_run(ids: Sequence[Any]) -> list[tuple[str, ColumnElement[bool]]]:
    # Row-value IN (not a correlated EXISTS) so each child table is reached by its
    # (dag_id, run_id, ...) index instead of being scanned once per batch.
    def of_runs(table: Any) -> ColumnElement[bool]:
        return tuple_(table.c.dag_id, table.c.run_id).in_(select(_RUN.c.dag_id, _RUN.c.run_id).where(_RUN.c.id.in_(ids)))

    ti = _TI.alias()
    out = [("task_instance_note", _T["task_instance_note"].c.ti_id.in_(select(ti.c.id).where(of_runs(ti))))]
    for name in ("task_instance_try", "xcom", "task_reschedule", "hitl_detail", "task_state_store", "task_instance"):
        out.append((name, of_runs(_T[name])))
    out += [("dag_run_note", _T["dag_run_note"].c.dag_run_id.in_(ids)),
            ("dagrun_asset_event", _T["dagrun_asset_event"].c.dag_run_id.in_(ids))]
    return out


def _children_task_instance(ids: Sequence[Any]) -> list[tuple[str, ColumnElement[bool]]]:
    out: list[tuple[str, ColumnElement[bool]]] = [("task_instance_note", _T["task_instance_note"].c.ti_id.in_(ids))]
    for name in ("task_instance_try", "xcom", "task_reschedule", "hitl_detail", "task_state_store"):
        table = _T[name]
        out.append((name, tuple_(*(table.c[c] for c in _TI_KEY)).in_(
            select(*(_TI.c[c] for c in _TI_KEY)).where(_TI.c.id.in_(ids)))))
    return out


def _children_asset_event(ids: Sequence[Any]) -> list[tuple[str, ColumnElement[bool]]]:
    return [(n, _T[n].c.event_id.in_(ids)) for n in ("dagrun_asset_event", "asset_alias_asset_event")]


def _children_backfill(ids: Sequence[Any]) -> list[tuple[str, ColumnElement[bool]]]:
    return [("backfill_dag_run", _T["backfill_dag_run"].c.backfill_id.in_(ids))]


@dataclass(frozen=True)
class TableRule:
    """How one table is cleaned: its rule (rows to remove) and what goes with each removed row."""

    name: str
    recency_column: str
    rule: Callable[[Cut], ColumnElement[bool]]
    children: Children | None = None


#: Cleanable tables in the order they are cleaned (runs before the versions they use, ...).
TABLES: dict[str, TableRule] = {r.name: r for r in (
    TableRule("dag_run", "start_date", _rule_dag_run, _children_dag_run),
    TableRule("task_instance", "start_date", _run_scoped("task_instance", "start_date"), _children_task_instance),
    TableRule("task_instance_try", "start_date", _run_scoped("task_instance_try", "start_date")),
    TableRule("xcom", "timestamp", _run_scoped("xcom", "timestamp")),
    TableRule("task_reschedule", "start_date", _run_scoped("task_reschedule", "start_date")),
    TableRule("task_state_store", "expires_at", _plain("task_state_store", "expires_at")),
    TableRule("asset_event", "timestamp", _plain("asset_event", "timestamp"), _children_asset_event),
    TableRule("backfill", "completed_at", _plain("backfill", "completed_at"), _children_backfill),
    TableRule("trigger", "created_date", _rule_trigger),
    TableRule("job", "latest_heartbeat", _rule_job),
    TableRule("log", "dttm", _plain("log", "dttm")),
    TableRule("import_error", "timestamp", _rule_import_error),
    TableRule("dag_version", "created_at", _rule_dag_version),
    TableRule("dag_code", "created_at", _rule_dag_code),
)}


def resolve_tables(names: Iterable[str] | None) -> list[str]:
    """The tables to clean, in cleaning order (all when ``names`` is None or empty).

    Airflow's names ``task_instance_history`` and ``dataset_event`` are accepted. Raises
    ``ValueError`` naming the unknown tables and listing the valid ones."""
    wanted = [n.strip() for n in (names or []) if n.strip()]
    if not wanted:
        return list(TABLES)
    chosen = {AIRFLOW_ALIASES.get(n, n) for n in wanted}
    unknown = sorted(n for n in wanted if AIRFLOW_ALIASES.get(n, n) not in TABLES)
    if unknown:
        raise ValueError(f"unknown table(s) {', '.join(unknown)}; valid tables: {', '.join(sorted(TABLES))}")
    return [n for n in TABLES if n in chosen]


# ------------------------------------------------------------------------------ cleaning
def _pk(table: Table) -> list[Column[Any]]:
    return list(table.primary_key.columns)


def _key_match(table: Table, keys: Sequence[Any]) -> ColumnElement[bool]:
    cols = _pk(table)
    if len(cols) == 1:
        return cols[0].in_([k[0] for k in keys])
    return tuple_(*cols).in_([tuple(k) for k in keys])


def count_rows(engine: Engine, tables: Iterable[str], before: datetime) -> dict[str, int]:
    """How many rows each table's rule matches now (the dry run; changes nothing).

    Rows that would go *with* another table's rows (a run's task instances) are not added in."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        cut = Cut(before, tuple(kept_run_ids(conn)))
        for name in tables:
            table = _T[name]
            counts[name] = int(conn.scalar(select(func.count()).select_from(table).where(TABLES[name].rule(cut))))
    return counts


def archive_name(table: str, stamp: datetime) -> str:
    return f"{ARCHIVE_PREFIX}{table}__{stamp.astimezone(timezone.utc):%Y%m%d%H%M%S}"


def _archive_table(conn: Connection, source: Table, stamp: datetime) -> Table:
    """The archive of ``source`` for this clean (created on first use; no keys, no indexes)."""
    archive = Table(archive_name(source.name, stamp), MetaData(),
                    *(Column(c.name, c.type, nullable=True) for c in source.columns))
    archive.create(conn, checkfirst=True)
    return archive


def _move(conn: Connection, name: str, where: ColumnElement[bool], stamp: datetime | None,
          archives: dict[str, Table]) -> int:
    """Copy the matching rows to the archive (unless ``stamp`` is None), then delete them."""
    source = _T[name]
    if stamp is not None:
        if conn.scalar(select(literal(1)).select_from(source).where(where).limit(1)) is None:
            return 0
        if name not in archives:
            archives[name] = _archive_table(conn, source, stamp)
        cols = [c.name for c in source.columns]
        conn.execute(insert(archives[name]).from_select(cols, select(*source.columns).where(where)))
    return int(conn.execute(delete(source).where(where)).rowcount or 0)


@dataclass
class CleanResult:
    """What a clean removed: rows per table (a run's task instances count under task_instance)
    and the archive tables written."""

    deleted: dict[str, int] = field(default_factory=dict)
    archives: list[str] = field(default_factory=list)


def clean(engine: Engine, tables: Iterable[str], before: datetime, *, now: datetime, batch_size: int = 1000,
          archive: bool = True, on_batch: Callable[[str, int], None] | None = None) -> CleanResult:
    """Remove (and archive) the rows of ``tables`` their rules match, batch by batch.

    ``before`` must be aware and not after ``now``; ``now`` names the archive tables.
    ``on_batch(table, rows)`` is called after each committed batch with its root row count."""
    if before.tzinfo is None or now.tzinfo is None:
        raise ValueError("clean needs timezone-aware datetimes")
    if before > now:
        raise ValueError(f"the cut-off {before.isoformat()} is in the future (now {now.isoformat()})")
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    result = CleanResult()
    archives: dict[str, Table] = {}
    stamp = now if archive else None
    with engine.connect() as conn:
        cut = Cut(before, tuple(kept_run_ids(conn)))
    for name in resolve_tables(tables):
        spec, table = TABLES[name], _T[name]
        pk = _pk(table)
        last: Any = None
        while True:
            with engine.begin() as conn:
                query = select(*pk).where(spec.rule(cut)).order_by(*pk).limit(batch_size)
                if last is not None:  # keyset: never rescan the rows a batch already passed over
                    query = query.where(pk[0] > last)
                keys = conn.execute(query).all()
                if not keys:
                    break
                last = keys[-1][0] if len(pk) == 1 else None
                if spec.children is not None:
                    for child, where in spec.children([k[0] for k in keys]):
                        moved = _move(conn, child, where, stamp, archives)
                        result.deleted[child] = result.deleted.get(child, 0) + moved
                moved = _move(conn, name, _key_match(table, keys), stamp, archives)
                result.deleted[name] = result.deleted.get(name, 0) + moved
            if on_batch is not None:
                on_batch(name, len(keys))
    result.archives = [a.name for a in archives.values()]
    return result


# ------------------------------------------------------------------------------ archives
@dataclass(frozen=True)
class ArchiveTable:
    name: str
    source: str
    stamp: str


#: Tables whose rows go with a cleaned table's rows (they get archives too).
CHILD_TABLES = ("task_instance_note", "hitl_detail", "dag_run_note", "dagrun_asset_event",
                "asset_alias_asset_event", "backfill_dag_run")


def list_archives(engine: Engine, tables: Iterable[str] | None = None) -> list[ArchiveTable]:
    """The archive tables ``clean`` wrote, optionally only those of the given source tables."""
    names = [n.strip() for n in (tables or []) if n.strip()]
    wanted = {AIRFLOW_ALIASES.get(n, n) for n in names}
    valid = set(TABLES) | set(CHILD_TABLES)
    unknown = sorted(n for n in names if AIRFLOW_ALIASES.get(n, n) not in valid)
    if unknown:
        raise ValueError(f"unknown table(s) {', '.join(unknown)}; valid tables: {', '.join(sorted(valid))}")
    found = []
    for name in sorted(inspect(engine).get_table_names()):
        if not name.startswith(ARCHIVE_PREFIX):
            continue
        source, _, stamp = name[len(ARCHIVE_PREFIX):].rpartition("__")
        if source and (not wanted or source in wanted):
            found.append(ArchiveTable(name, source, stamp))
    return found


def drop_archives(engine: Engine, archives: Iterable[ArchiveTable]) -> list[str]:
    """Drop the given archive tables; returns their names."""
    dropped = []
    with engine.begin() as conn:
        for item in archives:
            if not item.name.startswith(ARCHIVE_PREFIX):  # never drop a live table by mistake
                raise ValueError(f"{item.name} is not an archive table")
            Table(item.name, MetaData()).drop(conn)
            dropped.append(item.name)
    return dropped


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def export_archive(engine: Engine, item: ArchiveTable, directory: Path, export_format: str) -> Path:
    """Write one archive table to ``directory/<archive name>.<format>``; returns the file's path."""
    if export_format not in EXPORT_FORMATS:
        raise ValueError(f"export format {export_format!r} is not one of {', '.join(EXPORT_FORMATS)}")
    path = directory / f"{item.name}.{export_format}"
    with engine.connect() as conn:
        table = Table(item.name, MetaData(), autoload_with=conn)
        rows = conn.execute(select(table)).mappings()
        with path.open("w", newline="", encoding="utf-8") as fh:
            if export_format == "csv":
                writer = csv.writer(fh)
                writer.writerow([c.name for c in table.columns])
                for row in rows:  # JSON columns as JSON text, not Python's repr
                    writer.writerow([json.dumps(v) if isinstance(v, (dict, list)) else _json_value(v)
                                     for v in row.values()])
            else:  # a JSON list written row by row, so a big archive is never all in memory
                fh.write("[")
                for i, row in enumerate(rows):
                    fh.write(",\n" if i else "\n")
                    json.dump({k: _json_value(v) for k, v in row.items()}, fh, default=str)
                fh.write("\n]\n")
    return path
