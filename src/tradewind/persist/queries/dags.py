"""DAGs: store parse results as versioned snapshots, and read them back.

The parser hands over :class:`~tradewind.parse.dagbag.FileParseResult`s;
:func:`store_file_results` upserts one :class:`DagModel` per DAG, adds a
:class:`DagVersion` only when the snapshot's hash changed, replaces the file's
import errors and records a :class:`ParsedFile` row so unchanged files are not
imported again. Versions are immutable, so parsed :class:`DagSnapshot` objects
are cached by version id.

None of these functions commits: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, defer

from tradewind.parse.dagbag import FileParseResult, ImportErrorInfo
from tradewind.parse.snapshot import DagSnapshot, snapshot_hash
from tradewind.persist.models import (
    DagCode,
    DagModel,
    DagVersion,
    ImportError_,
    ParsedFile,
)
from tradewind.persist.queries import in_chunks
from tradewind.persist.queries.assets import sync_dag_assets
from tradewind.persist.queries.import_errors import (
    clear_import_errors_for_file,
    list_import_errors,
    replace_import_errors_for_file,
)
from tradewind.persist.queries.runs import RUN_ROW_TABLES

__all__ = [
    "DagNotFound",
    "StoreSummary",
    "store_file_results",
    "deactivate_missing_files",
    "get_dag",
    "list_dags",
    "latest_snapshot",
    "snapshot_for_version",
    "set_paused",
    "delete_dag",
    "list_import_errors",
    "parsed_files",
]


class DagNotFound(LookupError):
    """No DAG with that id is known; the message names it."""

    def __init__(self, dag_id: str):
        super().__init__(f"DAG {dag_id!r} not found")
        self.dag_id = dag_id


@dataclass
class StoreSummary:
    """What one :func:`store_file_results` call changed."""

    files: int = 0
    #: dag_id -> new version number, for DAGs whose snapshot changed (or is new).
    new_versions: dict[str, int] = field(default_factory=dict)
    #: DAG ids stored (changed or not).
    dags: list[str] = field(default_factory=list)
    #: DAG ids that disappeared from their file.
    deactivated: list[str] = field(default_factory=list)
    import_errors: int = 0
    #: fileloc -> import errors stored for it (0: none).
    errors_by_file: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------ storing
def store_file_results(
    session: Session,
    results: Iterable[FileParseResult],
    now: datetime,
    *,
    default_paused: bool = False,
) -> StoreSummary:
    """Store each file's DAGs and import errors; see the module docstring.

    A DAG id already defined by another (still present) file is not taken over:
    the later file gets an import error naming the first one.
    ``default_paused`` is the paused state of a new DAG whose snapshot does not
    set ``is_paused_upon_creation``.
    """
    summary = StoreSummary()
    results = list(results)
    batch = _preload(session, results)
    for result in results:
        summary.files += 1
        _store_one_file(session, result, now, default_paused, summary, batch)
    session.flush()
    return summary


@dataclass
class _Batch:
    """Rows the files being stored need, read with a few queries up front instead of several per
    file. Holding them here also keeps them in the session's identity map (which holds clean
    objects weakly), so ``session.get`` finds them without a query."""

    #: DAG rows by id: those the files define or had defined, and those created meanwhile.
    models: dict[str, DagModel]
    #: Files that have import errors stored now.
    error_files: set[str]
    #: Source hashes (of the batch's files) whose code is kept already.
    kept_code: set[str]
    #: Parse records of the batch's files and of the files owning their DAG ids.
    parsed: dict[str, ParsedFile]
    rows: list[Any] = field(default_factory=list)


def _preload(session: Session, results: Sequence[FileParseResult]) -> _Batch:
    filelocs = {result.fileloc for result in results}
    dag_ids = {snap["dag_id"] for result in results for snap in result.dags}
    models: dict[str, DagModel] = {}
    for chunk in in_chunks(dag_ids):
        models.update((m.dag_id, m) for m in session.scalars(select(DagModel).where(DagModel.dag_id.in_(chunk))))
    for chunk in in_chunks(filelocs):
        models.update((m.dag_id, m) for m in session.scalars(select(DagModel).where(DagModel.fileloc.in_(chunk))))
    parsed: dict[str, ParsedFile] = {}
    for chunk in in_chunks(filelocs | {m.fileloc for m in models.values()}):
        parsed.update((p.fileloc, p) for p in session.scalars(select(ParsedFile).where(ParsedFile.fileloc.in_(chunk))))
    rows: list[Any] = []
    for chunk in in_chunks(m.latest_version_id for m in models.values() if m.latest_version_id):
        rows += session.scalars(select(DagVersion).options(defer(DagVersion.snapshot)).where(DagVersion.id.in_(chunk)))
    error_files: set[str] = set()
    for chunk in in_chunks(filelocs):
        error_files.update(session.scalars(select(ImportError_.filename).where(ImportError_.filename.in_(chunk))))
    kept_code: set[str] = set()
    for chunk in in_chunks(r.content_hash for r in results if r.content_hash):
        kept_code.update(session.scalars(select(DagCode.source_hash).where(DagCode.source_hash.in_(chunk))))
    return _Batch(models, error_files, kept_code, parsed, rows)


def _store_one_file(
    session: Session, result: FileParseResult, now: datetime, default_paused: bool, summary: StoreSummary,
    batch: _Batch,
) -> None:
    fileloc = result.fileloc
    errors = list(result.errors)
    stored: list[str] = []
    for snap in result.dags:
        dag_id = snap["dag_id"]
        owner = _defined_elsewhere(dag_id, fileloc, batch)
        if owner is not None:
            message = f"DAG id {dag_id!r} is already defined in {owner}; this file's DAG {dag_id!r} is ignored"
            errors.append(ImportErrorInfo(fileloc, None, message))
            continue
        digest = result.hashes.get(dag_id) or snapshot_hash(snap)
        version_number = _upsert_dag(session, snap, fileloc, now, default_paused, digest, batch)
        stored.append(dag_id)
        if version_number is not None:
            summary.new_versions[dag_id] = version_number
    summary.dags.extend(stored)
    if stored:
        _keep_code(session, result, stored, now, batch)
    summary.deactivated.extend(_deactivate_absent(fileloc, stored, batch))
    if errors or fileloc in batch.error_files:
        replace_import_errors_for_file(session, fileloc, errors, now)
        batch.error_files.add(fileloc)
    summary.import_errors += len(errors)
    summary.errors_by_file[fileloc] = len(errors)
    _record_parsed_file(session, result, stored, now, batch.parsed)


def _defined_elsewhere(dag_id: str, fileloc: str, batch: _Batch) -> str | None:
    """The other file that currently owns ``dag_id``, if it still exists and still defines it."""
    model = batch.models.get(dag_id)
    if model is None or not model.is_active or model.fileloc == fileloc:
        return None
    other = batch.parsed.get(model.fileloc)
    if other is None or dag_id not in (other.dag_ids or []) or not os.path.exists(model.fileloc):
        return None
    return model.fileloc


def _upsert_dag(
    session: Session, snap: dict[str, Any], fileloc: str, now: datetime, default_paused: bool, digest: str,
    batch: _Batch,
) -> int | None:
    """Create or update the DAG row; add a version if the snapshot (hash ``digest``) changed
    (its number, else None)."""
    dag_id = snap["dag_id"]
    model = batch.models.get(dag_id)
    created = model is None
    if model is None:
        upon_creation = snap.get("is_paused_upon_creation")
        paused = default_paused if upon_creation is None else bool(upon_creation)
        model = DagModel(dag_id=dag_id, fileloc=fileloc, is_paused=paused, tags=[])
        session.add(model)
        batch.models[dag_id] = model
    model.fileloc = fileloc
    model.description = snap.get("description")
    # Column widths as in the schema (PostgreSQL enforces them).
    model.owners = (", ".join(snap.get("owners") or []) or None) and ", ".join(snap["owners"])[:2000]
    model.tags = list(snap.get("tags") or [])
    model.timetable_summary = (snap.get("timetable_summary") or None) and str(snap["timetable_summary"])[:1000]
    model.max_active_runs = snap.get("max_active_runs")
    model.max_active_tasks = snap.get("max_active_tasks")
    model.is_active = True
    model.last_parsed_time = now
    if created:
        session.flush()  # the dag row must exist before a version points at it

    latest = _version_without_snapshot(session, model.latest_version_id)
    if latest is not None and latest.snapshot_hash == digest:
        return None
    highest = None if created else session.scalar(
        select(func.max(DagVersion.version_number)).where(DagVersion.dag_id == dag_id))
    version = DagVersion(
        dag_id=dag_id,
        version_number=(highest or 0) + 1,
        snapshot_hash=digest,
        snapshot=snap,
        fileloc=fileloc,
        created_at=now,
    )
    session.add(version)
    session.flush()
    batch.rows.append(version)
    model.latest_version_id = version.id
    sync_dag_assets(session, snap, now)  # the assets it is scheduled on / produces may have changed
    return version.version_number


def _version_without_snapshot(session: Session, version_id: int | None) -> DagVersion | None:
    """A version row for its hashes, leaving its snapshot JSON unread (a 10,000-task snapshot
    costs a third of a second to decode)."""
    if not version_id:
        return None
    return session.get(DagVersion, version_id, options=[defer(DagVersion.snapshot)])


#: A DAG file larger than this is not kept per version (its latest code is still read from disk).
MAX_KEPT_CODE_BYTES = 4 * 1024 * 1024


def _keep_code(session: Session, result: FileParseResult, dag_ids: Sequence[str], now: datetime,
               batch: _Batch | None = None) -> None:
    """Keep the file's code (once per content) and point each stored DAG's latest version at it.

    The file is read again here; when its bytes are no longer those that were parsed (it changed
    meanwhile) nothing is kept now: the next parse of the new bytes keeps them. A re-parse of
    unchanged bytes (every ``min_file_process_interval``) finds its code kept and reads nothing."""
    versions = []
    for dag_id in dag_ids:
        model = session.get(DagModel, dag_id)
        if model is not None and model.latest_version_id:
            versions.append(_version_without_snapshot(session, model.latest_version_id))
    if result.content_hash and all(v is not None and v.source_hash == result.content_hash for v in versions):
        return
    try:
        with open(result.fileloc, "rb") as handle:
            data = handle.read(MAX_KEPT_CODE_BYTES + 1)
    except OSError:
        return
    digest = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_KEPT_CODE_BYTES or (result.content_hash and digest != result.content_hash):
        return
    if batch is not None and digest == result.content_hash:
        kept = digest in batch.kept_code  # preloaded for the batch's content hashes
        batch.kept_code.add(digest)
    else:
        kept = session.get(DagCode, digest) is not None
    if not kept:
        session.add(DagCode(source_hash=digest, fileloc=result.fileloc,
                            source_code=data.decode("utf-8", errors="replace"), created_at=now))
    for version in versions:
        if version is not None and version.source_hash != digest:
            version.source_hash = digest


class CodeNotKept(LookupError):
    """A version's code is not available; the message says why."""


def version_code(session: Session, dag: DagModel, version: DagVersion | None) -> str:
    """The code ``version`` of ``dag`` was parsed from (None: its latest version).

    Kept code first (see :func:`_keep_code`); a version stored before code was kept falls back to
    the file on disk while it is the latest (the path the parser recorded, never a caller's).
    :class:`CodeNotKept` says why there is none."""
    if version is None and dag.latest_version_id is not None:
        version = session.get(DagVersion, dag.latest_version_id)
    if version is not None and version.source_hash is not None:
        code = session.get(DagCode, version.source_hash)
        if code is not None:
            return code.source_code
    if version is not None and version.id != dag.latest_version_id:
        raise CodeNotKept(f"the code of version {version.version_number} of DAG {dag.dag_id!r} is not kept "
                          "(it was stored before Tradewind kept each version's code)")
    try:
        with open(dag.fileloc, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError as exc:
        raise CodeNotKept(f"the file of DAG {dag.dag_id!r} ({dag.fileloc}) cannot be read: "
                          f"{exc.strerror or exc}") from None


def _deactivate_absent(fileloc: str, present: Sequence[str], batch: _Batch) -> list[str]:
    """Mark DAGs last seen in ``fileloc`` but no longer defined there inactive (every DAG row of
    the batch's files is in ``batch.models``)."""
    gone = [m for m in batch.models.values() if m.fileloc == fileloc and m.is_active and m.dag_id not in present]
    for model in gone:
        model.is_active = False
    return [m.dag_id for m in gone]


def _record_parsed_file(session: Session, result: FileParseResult, dag_ids: list[str], now: datetime,
                        parsed: dict[str, ParsedFile]) -> None:
    row = parsed.get(result.fileloc)
    if row is None:
        row = ParsedFile(fileloc=result.fileloc)
        session.add(row)
        parsed[result.fileloc] = row
    row.content_hash = result.content_hash or ""
    row.mtime = result.mtime if result.mtime is not None else 0.0
    row.dag_ids = list(dag_ids)
    row.last_parsed_at = now
    row.parse_duration = result.duration


def request_reparse(session: Session, fileloc: str) -> bool:
    """Mark ``fileloc``'s parse record out of date (no content hash, an impossible mtime), so the
    DAG processor's next listing sees the file as changed and parses it first. The record stays,
    so the file keeps its DAG ids. False when the file has no parse record (never parsed)."""
    row = session.get(ParsedFile, fileloc)
    if row is None:
        return False
    row.content_hash = ""
    row.mtime = -1.0
    return True


def deactivate_missing_files(session: Session, present_files: Iterable[str | os.PathLike[str]], now: datetime) -> list[str]:
    """Files gone from disk (or from the folders): their DAGs inactive, their errors and parse records deleted.

    Returns the DAG ids made inactive.
    """
    present = {str(p) for p in present_files}
    deactivated: list[str] = []
    for model in session.scalars(select(DagModel).where(DagModel.is_active.is_(True))):
        if model.fileloc not in present:
            model.is_active = False
            deactivated.append(model.dag_id)
    for row in list(session.scalars(select(ParsedFile))):
        if row.fileloc not in present:
            session.delete(row)
    stale_error_files = set(session.scalars(select(ImportError_.filename).distinct())) - present
    for filename in stale_error_files:
        clear_import_errors_for_file(session, filename)
    session.flush()
    return sorted(deactivated)


# ------------------------------------------------------------------------ reading
def get_dag(session: Session, dag_id: str) -> DagModel | None:
    return session.get(DagModel, dag_id)


def list_dags(
    session: Session,
    *,
    include_inactive: bool = False,
    paused: bool | None = None,
    tags: Iterable[str] | None = None,
) -> list[DagModel]:
    """DAGs by id; ``tags`` keeps DAGs having any of them (as Airflow's tag filter)."""
    query = select(DagModel).order_by(DagModel.dag_id)
    if not include_inactive:
        query = query.where(DagModel.is_active.is_(True))
    if paused is not None:
        query = query.where(DagModel.is_paused.is_(paused))
    rows = list(session.scalars(query))
    wanted = set(tags or ())
    if wanted:
        # Tags are a JSON list; filtering here keeps SQLite and PostgreSQL identical.
        rows = [r for r in rows if wanted & set(r.tags or [])]
    return rows


def parsed_files(session: Session) -> list[ParsedFile]:
    return list(session.scalars(select(ParsedFile).order_by(ParsedFile.fileloc)))


_CACHE_SIZE = 256
_snapshot_cache: OrderedDict[tuple[str, int, str], DagSnapshot] = OrderedDict()
_cache_lock = threading.Lock()


def _snapshot_of(session: Session, version: DagVersion) -> DagSnapshot:
    """The parsed snapshot of a version, from the LRU when seen before (versions never change)."""
    # The database URL is part of the key: ids repeat across databases (tests, several homes).
    key = (str(session.get_bind().url), version.id, version.snapshot_hash)
    with _cache_lock:
        cached = _snapshot_cache.get(key)
        if cached is not None:
            _snapshot_cache.move_to_end(key)
            return cached
    snapshot = DagSnapshot.from_dict(version.snapshot)
    with _cache_lock:
        _snapshot_cache[key] = snapshot
        while len(_snapshot_cache) > _CACHE_SIZE:
            _snapshot_cache.popitem(last=False)
    return snapshot


def latest_snapshot(session: Session, dag_id: str) -> tuple[DagVersion, DagSnapshot] | None:
    """The version new runs use and its parsed snapshot, or None for an unknown/never-stored DAG.

    The version's snapshot JSON is read only when the cache lacks its parsed form (a 50-task
    snapshot is ~50 KB of JSON to fetch and decode on every request otherwise)."""
    model = session.get(DagModel, dag_id)
    if model is None or model.latest_version_id is None:
        return None
    version = _version_without_snapshot(session, model.latest_version_id)
    if version is None:
        return None
    return version, _snapshot_of(session, version)


def snapshot_for_version(session: Session, version_id: int) -> DagSnapshot | None:
    """The snapshot of one stored version (what a run was created with)."""
    version = _version_without_snapshot(session, version_id)
    return None if version is None else _snapshot_of(session, version)


def snapshots_for_versions(session: Session, version_ids: Iterable[int | None]) -> dict[int, DagSnapshot]:
    """version id -> parsed snapshot, for many versions at once: one query for their hashes, and
    one more for the JSON of only those the cache lacks (never one query per version)."""
    ids = sorted({v for v in version_ids if v is not None})
    if not ids:
        return {}
    url = str(session.get_bind().url)
    out: dict[int, DagSnapshot] = {}
    missing: list[int] = []
    rows = session.execute(select(DagVersion.id, DagVersion.snapshot_hash).where(DagVersion.id.in_(ids))).all()
    with _cache_lock:
        for version_id, digest in rows:
            cached = _snapshot_cache.get((url, version_id, digest))
            if cached is None:
                missing.append(version_id)
            else:
                _snapshot_cache.move_to_end((url, version_id, digest))
                out[version_id] = cached
    if missing:
        for version in session.scalars(select(DagVersion).where(DagVersion.id.in_(missing))):
            out[version.id] = _snapshot_of(session, version)
    return out


#: (database URL, version id, snapshot hash) -> the version's ``dag_display_name`` (None: none set).
#: Lists show a display name per row; reading it from the snapshot JSON in SQL costs PostgreSQL
#: ~0.7 ms per version (the whole JSON is de-TOASTed and parsed), so each version's is read once.
_DISPLAY_CACHE_SIZE = 8192
_display_cache: OrderedDict[tuple[str, int, str], str | None] = OrderedDict()


def version_display_names(session: Session, versions: Iterable[tuple[int, str]]) -> dict[int, str | None]:
    """version id -> its snapshot's ``dag_display_name`` (None when unset), given each version's
    (id, snapshot_hash): the JSON is read only for versions not seen before, in one query."""
    url = str(session.get_bind().url)
    names: dict[int, str | None] = {}
    missing: dict[int, str] = {}
    with _cache_lock:
        for version_id, digest in versions:
            key = (url, version_id, digest)
            if key in _display_cache:
                _display_cache.move_to_end(key)
                names[version_id] = _display_cache[key]
            else:
                missing[version_id] = digest
    if missing:
        found = dict(session.execute(select(DagVersion.id, DagVersion.snapshot["dag_display_name"].as_string())
                                     .where(DagVersion.id.in_(list(missing)))).all())
        with _cache_lock:
            for version_id, digest in missing.items():
                names[version_id] = _display_cache[(url, version_id, digest)] = found.get(version_id) or None
            while len(_display_cache) > _DISPLAY_CACHE_SIZE:
                _display_cache.popitem(last=False)
    return names


def versions_without_snapshots(session: Session, version_ids: Iterable[int | None]) -> list[DagVersion]:
    """Version rows by id with their snapshot JSON left unread (see :func:`version_display_names`)."""
    ids = sorted({v for v in version_ids if v is not None})
    if not ids:
        return []
    return list(session.scalars(select(DagVersion).options(defer(DagVersion.snapshot)).where(DagVersion.id.in_(ids))))


def latest_display_names(session: Session, dag_ids: Iterable[str]) -> dict[str, str]:
    """dag_id -> ``dag_display_name`` of its latest version, for the DAGs that set one (others
    are left out: callers fall back to the dag_id). One query for the latest versions' hashes;
    the name is read from the snapshot JSON only for versions not seen before."""
    wanted = sorted(set(dag_ids))
    if not wanted:
        return {}
    rows = session.execute(select(DagModel.dag_id, DagVersion.id, DagVersion.snapshot_hash)
                           .join(DagVersion, DagVersion.id == DagModel.latest_version_id)
                           .where(DagModel.dag_id.in_(wanted))).all()
    names = version_display_names(session, [(version_id, digest) for _, version_id, digest in rows])
    return {dag_id: name for dag_id, version_id, _ in rows if (name := names.get(version_id))}


def list_versions(session: Session, dag_id: str) -> list[DagVersion]:
    """All versions of a DAG, oldest first."""
    query = select(DagVersion).where(DagVersion.dag_id == dag_id).order_by(DagVersion.version_number)
    return list(session.scalars(query))


# ------------------------------------------------------------------------ changing
def set_paused(session: Session, dag_id: str, paused: bool) -> DagModel:
    """Pause or unpause a DAG; raises :class:`DagNotFound`."""
    model = session.get(DagModel, dag_id)
    if model is None:
        raise DagNotFound(dag_id)
    model.is_paused = bool(paused)
    session.flush()
    return model


def delete_dag(session: Session, dag_id: str) -> int:
    """Delete a DAG's rows (runs, task instances, tries, XCom, versions, the DAG); returns the row count.

    Like Airflow's ``dags delete``: the DAG comes back on its file's next parse,
    which is why its parse record is dropped too (the file is re-imported next scan).
    Raises :class:`DagNotFound`.
    """
    model = session.get(DagModel, dag_id)
    if model is None:
        raise DagNotFound(dag_id)
    fileloc = model.fileloc
    count = 0
    for table in (*RUN_ROW_TABLES, DagVersion):
        result = session.execute(
            delete(table).where(table.dag_id == dag_id).execution_options(synchronize_session=False)
        )
        count += int(result.rowcount or 0)
    session.delete(model)
    count += 1
    parsed = session.get(ParsedFile, fileloc)
    if parsed is not None:
        session.delete(parsed)
    session.flush()
    return count
