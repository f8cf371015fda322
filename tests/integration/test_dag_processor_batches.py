"""Storing parse results in batches: one transaction for several files, a refused batch stored
file by file, the child's snapshot hashes, and IN lists longer than one chunk. Real DAG files,
real parse children, real SQLite."""

from __future__ import annotations

import copy
import os
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tradewind.config import Config
from tradewind.parse.dagbag import FileParseResult, parse_file
from tradewind.parse.snapshot import snapshot_hash
from tradewind.persist.db import Database
from tradewind.persist.models import DagModel, DagVersion, ParsedFile
from tradewind.persist.queries import IN_CHUNK
from tradewind.persist.queries import dags as q
from tradewind.schedule.dag_processor import DagProcessor, ParseSummary

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def dag_file(dag_id: str) -> str:
    return textwrap.dedent(
        f"""\
        from datetime import datetime
        from tradewind.definition.dag import DAG
        from tradewind.definition.operators.empty import EmptyOperator

        with DAG({dag_id!r}, schedule="@daily", start_date=datetime(2024, 1, 1)) as dag:
            EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
        """
    )


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path.resolve())


def test_the_child_sends_each_snapshots_hash(config: Config) -> None:
    path = write(config.dags_folder, "hashed_dag.py", dag_file("hashed"))
    result = parse_file(path, timeout=30)
    assert not result.errors
    assert result.hashes == {"hashed": snapshot_hash(result.dags[0])}


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_a_batch_the_database_refuses_is_stored_file_by_file(config: Config, db: Database) -> None:
    processor = DagProcessor(config, db, clock=lambda: T0)
    good_path = write(config.dags_folder, "good_dag.py", dag_file("good"))
    bad_path = write(config.dags_folder, "bad_dag.py", dag_file("bad"))
    good = parse_file(good_path, timeout=30)
    # A snapshot the database cannot take (no DAG id): its batch fails, then it alone.
    bad = FileParseResult(fileloc=bad_path, dags=[{"dag_id": None, "tasks": []}])
    summary = ParseSummary()
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the database raises
        processor._store([bad, good], summary)
    processor.close()
    assert summary.new_versions == {"good": 1}
    with db.session_scope() as session:
        assert [m.dag_id for m in q.list_dags(session)] == ["good"]
        assert {row.fileloc for row in session.scalars(select(ParsedFile))} == {good_path}


def test_storing_more_files_than_one_in_list_holds(config: Config, db: Database) -> None:
    path = write(config.dags_folder, "template_dag.py", dag_file("template"))
    template = parse_file(path, timeout=30).dags[0]
    count = IN_CHUNK + 20
    results = []
    for n in range(count):
        snap = copy.deepcopy(template)
        snap["dag_id"] = f"many_{n:04d}"
        results.append(FileParseResult(fileloc=f"{config.dags_folder}/many_{n:04d}.py", dags=[snap]))
    with db.session_scope() as session:
        first = q.store_file_results(session, results, T0)
    with db.session_scope() as session:
        again = q.store_file_results(session, results, T0)
        assert session.scalar(select(func.count()).select_from(DagModel)) == count
        assert session.scalar(select(func.count()).select_from(DagVersion)) == count
    assert len(first.new_versions) == count and again.new_versions == {}
    assert len(again.dags) == count and again.deactivated == []


def test_a_file_written_in_place_is_noticed_between_listings(config: Config, db: Database) -> None:
    processor = DagProcessor(config, db, clock=lambda: T0)
    path = Path(write(config.dags_folder, "edited_dag.py", dag_file("edited")))
    processor.sync_once()
    assert not processor._folders_changed()
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the folder's mtime stays
    processor._next_file_poll = 0.0  # the half-second throttle has passed
    assert processor._folders_changed()
    _files, queued = processor.list_and_queue()
    assert queued == []  # same bytes: recorded as touched, not re-imported
    processor._next_file_poll = 0.0
    assert not processor._folders_changed()
    processor.close()
