"""Reading many DAG versions at once (the lists of DAGs, runs and task instances): snapshots and
display names come back per version, a new version's own values win over what was read before,
and unknown ids are left out. Run on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from tradewind import DAG
from tradewind.definition.operators.empty import EmptyOperator
from tradewind.parse.dagbag import FileParseResult
from tradewind.parse.snapshot import serialize_dag
from tradewind.persist.db import Database
from tradewind.persist.models import DagModel, DagVersion
from tradewind.persist.queries import dags as dag_queries

NOW = datetime(2026, 1, 5, tzinfo=timezone.utc)


def _store(db: Database, dag_id: str, display_name: str | None, n_tasks: int = 1) -> int:
    """Store a DAG as the parser would; returns its latest version id."""
    with DAG(dag_id, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), schedule=None,
             dag_display_name=display_name) as dag:
        for i in range(n_tasks):
            EmptyOperator(task_id=f"t{i}")
    dag.fileloc = f"/dags/{dag_id}.py"
    with db.session_scope() as s:
        dag_queries.store_file_results(s, [FileParseResult(dag.fileloc, dags=[serialize_dag(dag)], errors=[])], NOW)
        return s.get(DagModel, dag_id).latest_version_id


def test_display_names_follow_each_dags_latest_version(any_db: Database) -> None:
    _store(any_db, "a", "Alpha")
    _store(any_db, "b", None)
    with any_db.session_scope() as s:
        assert dag_queries.latest_display_names(s, ["a", "b", "missing", "a"]) == {"a": "Alpha", "b": "b"}
        assert dag_queries.latest_display_names(s, []) == {}
    _store(any_db, "a", "Alpha renamed", n_tasks=2)  # a new version: its name, not the one read before
    with any_db.session_scope() as s:
        assert dag_queries.latest_display_names(s, ["a"]) == {"a": "Alpha renamed"}
        versions = sorted(s.execute(select(DagVersion.id, DagVersion.snapshot_hash)
                                    .where(DagVersion.dag_id == "a")).all())
        names = dag_queries.version_display_names(s, [tuple(v) for v in versions])
        assert [names[v.id] for v in versions] == ["Alpha", "Alpha renamed"]


def test_snapshots_for_versions_reads_many_and_skips_unknown_ids(any_db: Database) -> None:
    first = _store(any_db, "a", "Alpha")
    second = _store(any_db, "b", "Beta", n_tasks=3)
    with any_db.session_scope() as s:
        found = dag_queries.snapshots_for_versions(s, [first, second, None, 999_999])
        assert sorted(found) == sorted([first, second])
        assert found[first].dag_display_name == "Alpha" and list(found[first].tasks) == ["t0"]
        assert found[second].dag_display_name == "Beta" and len(found[second].tasks) == 3
        again = dag_queries.snapshots_for_versions(s, [second])  # from the cache: the same object
        assert again[second] is found[second]
        assert dag_queries.snapshot_for_version(s, second) is found[second]
        assert dag_queries.snapshots_for_versions(s, []) == {}


def test_latest_snapshot_version_row_still_reads_its_snapshot(any_db: Database) -> None:
    version_id = _store(any_db, "a", "Alpha")
    with any_db.session_scope() as s:
        version, snapshot = dag_queries.latest_snapshot(s, "a")
        assert version.id == version_id and snapshot.dag_id == "a"
        assert version.snapshot["dag_display_name"] == "Alpha"  # left unread at first, loaded on use
        rows = dag_queries.versions_without_snapshots(s, [version_id, None])
        assert [v.id for v in rows] == [version_id]
