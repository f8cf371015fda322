"""DagProcessor + persist.queries.dags: real DAG files, real child processes, real SQLite."""

from __future__ import annotations

import os
import textwrap
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from tradewind.config import Config
from tradewind.parse.dagbag import FileParseResult
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.db import Database
from tradewind.persist.models import DagModel, DagRun, DagVersion, ImportError_, ParsedFile
from tradewind.persist.queries import dags as q
from tradewind.schedule.dag_processor import DagProcessor

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def dag_file(dag_id: str, *, description: str = "", extra: str = "") -> str:
    return textwrap.dedent(
        f"""\
        from datetime import datetime
        from tradewind.definition.dag import DAG

        with DAG({dag_id!r}, schedule="@daily", start_date=datetime(2024, 1, 1),
                 description={description!r}, tags=["t1"]) as dag:
            pass
        """
    ) + textwrap.dedent(extra)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path.resolve()


def bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dags_dir(config: Config) -> Path:
    return config.dags_folder


@pytest.fixture
def processor(config: Config, db: Database, clock: Clock) -> DagProcessor:
    return DagProcessor(config, db, clock=clock)


def versions(db: Database, dag_id: str) -> list[int]:
    with db.session_scope() as s:
        return [v.version_number for v in q.list_versions(s, dag_id)]


def errors(db: Database) -> list[ImportError_]:
    with db.session_scope() as s:
        return q.list_import_errors(s)


# ------------------------------------------------------------------------------ basics
def test_new_file_creates_dag_version_and_parse_record(processor, db, dags_dir, clock) -> None:
    f = write(dags_dir, "one_dag.py", dag_file("one", description="first"))
    summary = processor.sync_once()
    assert summary.files_parsed == [str(f)]
    assert summary.new_versions == {"one": 1}
    with db.session_scope() as s:
        model = q.get_dag(s, "one")
        assert model.is_active and model.fileloc == str(f) and model.description == "first"
        assert model.tags == ["t1"] and model.timetable_summary == "@daily"
        assert model.last_parsed_time == T0 and model.is_paused is False
        version, snap = q.latest_snapshot(s, "one")
        assert version.id == model.latest_version_id and version.version_number == 1
        assert isinstance(snap, DagSnapshot) and snap.dag_id == "one" and snap.fileloc == str(f)
        parsed = s.get(ParsedFile, str(f))
        assert parsed.dag_ids == ["one"] and parsed.last_parsed_at == T0
        assert parsed.mtime == f.stat().st_mtime and len(parsed.content_hash) == 64


def test_unchanged_files_are_not_reparsed(processor, db, dags_dir, clock) -> None:
    write(dags_dir, "one_dag.py", dag_file("one"))
    processor.sync_once()
    clock.advance(5)
    summary = processor.sync_once()
    assert summary.files_parsed == [] and summary.files_unchanged == 1
    assert processor.parse_count == 1
    with db.session_scope() as s:
        assert s.get(ParsedFile, str(dags_dir.resolve() / "one_dag.py")).last_parsed_at == T0


def test_touched_but_identical_file_is_not_reparsed(processor, db, dags_dir, clock) -> None:
    f = write(dags_dir, "one_dag.py", dag_file("one"))
    processor.sync_once()
    bump_mtime(f)
    clock.advance(5)
    summary = processor.sync_once()
    assert summary.files_parsed == []
    with db.session_scope() as s:
        assert s.get(ParsedFile, str(f)).mtime == f.stat().st_mtime
    assert versions(db, "one") == [1]


def test_changed_file_gets_a_new_version_only_when_the_dag_changed(processor, db, dags_dir, clock) -> None:
    f = write(dags_dir, "one_dag.py", dag_file("one", description="v1"))
    processor.sync_once()
    # A comment changes the bytes but not the DAG: re-parsed, same snapshot, no new version.
    f.write_text(dag_file("one", description="v1") + "# a comment\n")
    bump_mtime(f)
    clock.advance(5)
    summary = processor.sync_once()
    assert summary.files_parsed == [str(f)] and summary.new_versions == {}
    assert versions(db, "one") == [1]
    f.write_text(dag_file("one", description="v2"))
    bump_mtime(f)
    clock.advance(5)
    summary = processor.sync_once()
    assert summary.new_versions == {"one": 2}
    with db.session_scope() as s:
        version, snap = q.latest_snapshot(s, "one")
        assert version.version_number == 2 and snap.description == "v2"
        assert q.get_dag(s, "one").description == "v2"
        assert q.get_dag(s, "one").last_parsed_time == T0 + timedelta(seconds=10)


def test_files_are_reparsed_after_min_file_process_interval(processor, db, dags_dir, clock) -> None:
    write(dags_dir, "one_dag.py", dag_file("one"))
    processor.sync_once()
    clock.advance(processor.min_file_process_interval + 1)
    summary = processor.sync_once()
    assert len(summary.files_parsed) == 1 and summary.new_versions == {}
    assert versions(db, "one") == [1]


def test_force_reparses_everything(processor, dags_dir) -> None:
    write(dags_dir, "one_dag.py", dag_file("one"))
    write(dags_dir, "two_dag.py", dag_file("two"))
    processor.sync_once()
    assert len(processor.sync_once(force=True).files_parsed) == 2
    assert processor.parse_count == 4


def test_deleted_file_makes_its_dags_inactive_and_clears_its_errors(processor, db, dags_dir, clock) -> None:
    good = write(dags_dir, "one_dag.py", dag_file("one"))
    bad = write(dags_dir, "bad_dag.py", "# tradewind dag\nraise ValueError('boom')\n")
    processor.sync_once()
    assert [e.filename for e in errors(db)] == [str(bad)]
    good.unlink()
    bad.unlink()
    clock.advance(5)
    summary = processor.sync_once()
    assert summary.deactivated == ["one"]
    assert errors(db) == []
    with db.session_scope() as s:
        assert q.get_dag(s, "one").is_active is False
        assert q.list_dags(s) == [] and [d.dag_id for d in q.list_dags(s, include_inactive=True)] == ["one"]
        assert q.parsed_files(s) == []
    # The file comes back: the DAG is active again, with no new version (same snapshot).
    write(dags_dir, "one_dag.py", dag_file("one"))
    clock.advance(5)
    processor.sync_once()
    with db.session_scope() as s:
        assert q.get_dag(s, "one").is_active is True
    assert versions(db, "one") == [1]


def test_import_errors_are_replaced_on_each_parse(processor, db, dags_dir, clock) -> None:
    f = write(dags_dir, "flaky_dag.py", "# tradewind dag\nraise ValueError('first problem')\n")
    processor.sync_once()
    assert [(e.lineno, e.message) for e in errors(db)] == [(2, "ValueError: first problem")]
    f.write_text("# tradewind dag\n\n\nraise KeyError('second problem')\n")
    bump_mtime(f)
    clock.advance(5)
    processor.sync_once()
    assert [(e.lineno, e.message) for e in errors(db)] == [(4, "KeyError: 'second problem'")]
    f.write_text(dag_file("flaky"))
    bump_mtime(f)
    clock.advance(5)
    summary = processor.sync_once()
    assert errors(db) == [] and summary.new_versions == {"flaky": 1}


def test_dag_removed_from_a_file_becomes_inactive(processor, db, dags_dir, clock) -> None:
    two = dag_file("first") + textwrap.dedent(
        """
        with DAG("second", schedule=None, start_date=datetime(2024, 1, 1)) as other:
            pass
        """
    )
    f = write(dags_dir, "pair_dag.py", two)
    assert processor.sync_once().new_versions == {"first": 1, "second": 1}
    f.write_text(dag_file("first"))
    bump_mtime(f)
    clock.advance(5)
    summary = processor.sync_once()
    assert summary.deactivated == ["second"]
    with db.session_scope() as s:
        assert [d.dag_id for d in q.list_dags(s)] == ["first"]
        assert s.get(ParsedFile, str(f)).dag_ids == ["first"]


def test_same_dag_id_in_two_files_is_an_error_on_the_later_file(processor, db, dags_dir, clock) -> None:
    a = write(dags_dir, "a_dag.py", dag_file("shared", description="from a"))
    b = write(dags_dir, "b_dag.py", dag_file("shared", description="from b"))
    processor.sync_once()
    # Both are parsed side by side and each stored as it finishes: the file stored first owns the id.
    with db.session_scope() as s:
        first = Path(q.get_dag(s, "shared").fileloc)
    later = b if first == a else a
    errs = errors(db)
    assert [e.filename for e in errs] == [str(later)]
    assert "'shared' is already defined in" in errs[0].message and str(first) in errs[0].message
    with db.session_scope() as s:
        assert q.get_dag(s, "shared").description == f"from {first.stem[0]}"
    # Re-parsing both again keeps the first owner.
    processor.sync_once(force=True)
    with db.session_scope() as s:
        assert q.get_dag(s, "shared").fileloc == str(first)
    # Once the first file is gone, the DAG moves to the other file.
    first.unlink()
    clock.advance(5)
    processor.sync_once(force=True)
    with db.session_scope() as s:
        assert q.get_dag(s, "shared").fileloc == str(later) and q.get_dag(s, "shared").is_active
    assert errors(db) == []


def test_paused_upon_creation_and_default_paused(tw_home, db, clock) -> None:
    cfg = Config.load(
        home=tw_home,
        environ={},
        overrides={"core": {"load_examples": "False", "dags_are_paused_at_creation": "True"}},
    )
    write(cfg.dags_folder, "p_dag.py", dag_file("default_paused"))
    write(
        cfg.dags_folder,
        "u_dag.py",
        "from tradewind.definition.dag import DAG\n"
        "with DAG('never_paused', schedule=None, is_paused_upon_creation=False) as d:\n    pass\n",
    )
    DagProcessor(cfg, db, clock=clock).sync_once()
    with db.session_scope() as s:
        assert q.get_dag(s, "default_paused").is_paused is True
        assert q.get_dag(s, "never_paused").is_paused is False
        q.set_paused(s, "default_paused", False)
    # A later parse never changes the paused state.
    DagProcessor(cfg, db, clock=clock).sync_once(force=True)
    with db.session_scope() as s:
        assert q.get_dag(s, "default_paused").is_paused is False
        assert [d.dag_id for d in q.list_dags(s, paused=False)] == ["default_paused", "never_paused"]


def test_hanging_file_times_out_while_others_are_stored(tw_home, db, clock) -> None:
    cfg = Config.load(
        home=tw_home,
        environ={},
        overrides={"core": {"load_examples": "False", "dagbag_import_timeout": "1"}},
    )
    hang = write(cfg.dags_folder, "hang_dag.py", "# tradewind dag\nwhile True:\n    pass\n")
    write(cfg.dags_folder, "ok_dag.py", dag_file("fine"))
    summary = DagProcessor(cfg, db, clock=clock).sync_once()
    assert summary.new_versions == {"fine": 1}
    errs = errors(db)
    assert [e.filename for e in errs] == [str(hang)]
    assert errs[0].message == (
        "DAG file took longer than 1 s to import (timeout); raise [core] dagbag_import_timeout if it needs more"
    )


def test_helper_module_beside_the_dag_file_is_importable(processor, db, dags_dir) -> None:
    write(dags_dir, "shared_settings.py", "DESCRIPTION = 'from helper'\n")
    write(
        dags_dir,
        "uses_helper_dag.py",
        "from tradewind.definition.dag import DAG\nfrom shared_settings import DESCRIPTION\n"
        "with DAG('helped', schedule=None, description=DESCRIPTION) as d:\n    pass\n",
    )
    summary = processor.sync_once()
    assert summary.new_versions == {"helped": 1}, errors(db)
    with db.session_scope() as s:
        assert q.get_dag(s, "helped").description == "from helper"


# ------------------------------------------------------------------------------ queries
def test_latest_snapshot_is_cached_per_version(processor, db, dags_dir) -> None:
    write(dags_dir, "one_dag.py", dag_file("one"))
    processor.sync_once()
    with db.session_scope() as s:
        version, first = q.latest_snapshot(s, "one")
        _, again = q.latest_snapshot(s, "one")
        assert again is first
        assert q.snapshot_for_version(s, version.id) is first
        assert q.latest_snapshot(s, "nope") is None
        assert q.snapshot_for_version(s, 987654) is None


def test_list_dags_filters_by_tags(db, clock) -> None:
    def result(dag_id: str, tags: list[str]) -> FileParseResult:
        snap = {
            "dag_id": dag_id, "fileloc": f"/x/{dag_id}.py", "timetable": {}, "timetable_summary": "None",
            "tasks": [], "tags": tags, "owners": ["airflow"],
        }
        return FileParseResult(fileloc=f"/x/{dag_id}.py", dags=[snap], content_hash="h", mtime=1.0)

    with db.session_scope() as s:
        q.store_file_results(s, [result("a", ["etl"]), result("b", ["ml", "etl"]), result("c", [])], T0)
    with db.session_scope() as s:
        assert [d.dag_id for d in q.list_dags(s, tags=["ml"])] == ["b"]
        assert [d.dag_id for d in q.list_dags(s, tags=["etl", "ml"])] == ["a", "b"]
        assert q.get_dag(s, "a").owners == "airflow"


def test_set_paused_and_delete_unknown_dag_raise(db) -> None:
    with db.session_scope() as s:
        with pytest.raises(q.DagNotFound, match="'ghost'"):
            q.set_paused(s, "ghost", True)
        with pytest.raises(q.DagNotFound, match="'ghost'"):
            q.delete_dag(s, "ghost")


def test_delete_dag_removes_its_rows_and_it_returns_on_next_parse(processor, db, dags_dir, clock) -> None:
    write(dags_dir, "one_dag.py", dag_file("one"))
    write(dags_dir, "two_dag.py", dag_file("two"))
    processor.sync_once()
    with db.session_scope() as s:
        version, _ = q.latest_snapshot(s, "one")
        s.add(DagRun(dag_id="one", run_id="manual__1", run_type="manual", state="success", run_after=T0,
                     dag_version_id=version.id))
    with db.session_scope() as s:
        assert q.delete_dag(s, "one") == 3  # run, version, dag
    with db.session_scope() as s:
        assert q.get_dag(s, "one") is None
        assert s.scalars(select(DagVersion).where(DagVersion.dag_id == "one")).all() == []
        assert s.scalars(select(DagRun)).all() == []
        assert q.get_dag(s, "two") is not None
    clock.advance(5)
    summary = processor.sync_once()
    assert summary.new_versions == {"one": 1}


def test_run_forever_scans_until_stopped(config, db, dags_dir) -> None:
    write(dags_dir, "one_dag.py", dag_file("one"))
    processor = DagProcessor(config, db)
    stop = threading.Event()
    thread = threading.Thread(target=processor.run_forever, args=(stop, 0.05), daemon=True)
    thread.start()
    try:
        for _ in range(400):
            with db.session_scope() as s:
                if s.get(DagModel, "one") is not None:
                    break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    with db.session_scope() as s:
        assert q.get_dag(s, "one") is not None


def _processor_with(tw_home, db, clock, **dag_processor) -> DagProcessor:
    cfg = Config.load(home=tw_home, environ={}, overrides={
        "core": {"load_examples": "False", "dagbag_import_timeout": "20"}, "dag_processor": dag_processor})
    return DagProcessor(cfg, db, clock=clock)


def test_a_file_in_flight_is_never_dispatched_twice(tw_home, db, clock) -> None:
    processor = _processor_with(tw_home, db, clock)
    hang = write(processor.config.dags_folder, "hang_dag.py", "# tradewind dag\nwhile True:\n    pass\n")
    try:
        processor.list_and_queue()
        processor._dispatch()
        assert processor.pool.in_flight() == {str(hang)}
        clock.advance(3600)  # due again by min_file_process_interval, and still in flight
        _files, queued = processor.list_and_queue()
        processor._dispatch()
        assert queued == [] and len(processor.pool) == 1
    finally:
        processor.close()
    assert len(processor.pool) == 0


def test_new_files_go_first_and_known_slow_files_start_in_the_slow_lane(tw_home, db, clock) -> None:
    processor = _processor_with(tw_home, db, clock, slow_parse_threshold="0.2")
    folder = processor.config.dags_folder
    slow = write(folder, "a_slow_dag.py", dag_file("slow", extra="import time\ntime.sleep(0.5)\n"))
    quick = write(folder, "b_quick_dag.py", dag_file("quick"))
    processor.sync_once()
    clock.advance(3600)  # both due again; the slow one is known to be slow
    new = write(folder, "c_new_dag.py", dag_file("new"))
    try:
        processor.list_and_queue()
        order = [p for p, _ in sorted(processor._queue.items(), key=lambda kv: kv[1].order)]
        assert order == [str(new), str(quick), str(slow)]
        processor._dispatch()
        assert str(slow) in processor.pool.slow
    finally:
        processor.close()
