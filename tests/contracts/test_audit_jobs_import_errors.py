"""Audit log, job liveness and import errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from tradewind.persist.db import Database
from tradewind.persist.queries import audit, import_errors, jobs

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_audit_record_and_list_newest_first(any_db: Database) -> None:
    with any_db.session_scope() as s:
        audit.record(s, "trigger", "alice", dag_id="d1", run_id="r1", now=T0)
        audit.record(s, "clear", owner="bob", dag_id="d1", task_id="t", map_index=2, try_number=1,
                     extra={"only_failed": True}, now=T0 + timedelta(minutes=1))
        audit.record(s, "variable.set", owner="alice", extra="key=x", now=T0 + timedelta(minutes=2))
    with any_db.session_scope() as s:
        assert [e.event for e in audit.list_audit(s)] == ["variable.set", "clear", "trigger"]
        (cleared,) = audit.list_audit(s, event="clear")
        assert (cleared.owner, cleared.task_id, cleared.map_index, cleared.try_number) == ("bob", "t", 2, 1)
        assert json.loads(cleared.extra) == {"only_failed": True}
        assert cleared.dttm == T0 + timedelta(minutes=1)
        assert [e.event for e in audit.list_audit(s, dag_id="d1", owner="alice")] == ["trigger"]
        assert [e.event for e in audit.list_audit(s, limit=1, offset=1)] == ["clear"]
        with pytest.raises(ValueError, match="audit event"):
            audit.record(s, "", owner=None, now=T0)


def test_job_liveness(any_db: Database) -> None:
    grace = timedelta(seconds=30)
    with any_db.session_scope() as s:
        old = jobs.start_job(s, "scheduler", "host-a", 11, T0)
        new = jobs.start_job(s, "scheduler", "host-b", 22, T0 + timedelta(seconds=5))
        jobs.start_job(s, "dag_processor", "host-a", 33, T0)
        old_id, new_id = old.id, new.id
    with any_db.session_scope() as s:
        alive = jobs.latest_alive_job(s, "scheduler", T0 + timedelta(seconds=10), grace)
        assert alive is not None and alive.id == new_id
        assert jobs.job_heartbeat(s, old_id, T0 + timedelta(seconds=20)) is True
    with any_db.session_scope() as s:
        assert jobs.latest_alive_job(s, "scheduler", T0 + timedelta(seconds=21), grace).id == old_id
        # Nothing beat within the grace period -> no alive job.
        assert jobs.latest_alive_job(s, "scheduler", T0 + timedelta(seconds=51), grace) is None
        assert jobs.latest_alive_job(s, "triggerer", T0, grace) is None
        jobs.end_job(s, old_id, T0 + timedelta(seconds=22))
    with any_db.session_scope() as s:
        assert jobs.job_heartbeat(s, old_id, T0 + timedelta(seconds=23)) is False
        assert jobs.latest_alive_job(s, "scheduler", T0 + timedelta(seconds=23), grace).id == new_id
        ended = s.get(jobs.Job, old_id)
        assert (ended.state, ended.end_date) == ("success", T0 + timedelta(seconds=22))
        assert [j.id for j in jobs.list_jobs(s, job_type="scheduler", state="running")] == [new_id]
        with pytest.raises(LookupError, match="no job with id 999999"):
            jobs.end_job(s, 999999, T0)


@dataclass
class _Err:
    filename: str
    lineno: int | None
    message: str
    stacktrace: str | None


def test_import_errors_replace_and_clear(any_db: Database) -> None:
    with any_db.session_scope() as s:
        import_errors.replace_import_errors_for_file(
            s, "/dags/a.py", [_Err("/dags/a.py", 3, "SyntaxError: bad", "tb1"), _Err("/dags/a.py", 1, "E2", None)], T0
        )
        import_errors.replace_import_errors_for_file(s, "/dags/b.py", [{"lineno": None, "message": "boom"}], T0)
    with any_db.session_scope() as s:
        rows = import_errors.list_import_errors(s)
        assert [(r.filename, r.lineno, r.message) for r in rows] == [
            ("/dags/a.py", 1, "E2"), ("/dags/a.py", 3, "SyntaxError: bad"), ("/dags/b.py", None, "boom"),
        ]
        assert rows[1].stacktrace == "tb1" and rows[1].timestamp == T0
        import_errors.replace_import_errors_for_file(s, "/dags/a.py", [_Err("/dags/a.py", 9, "new", None)], T0)
    with any_db.session_scope() as s:
        assert [r.message for r in import_errors.list_import_errors(s, filename="/dags/a.py")] == ["new"]
        assert import_errors.clear_import_errors_for_file(s, "/dags/b.py") == 1
        import_errors.replace_import_errors_for_file(s, "/dags/a.py", [], T0)
    with any_db.session_scope() as s:
        assert import_errors.list_import_errors(s) == []
        with pytest.raises(ValueError, match="/dags/c.py has no message"):
            import_errors.replace_import_errors_for_file(s, "/dags/c.py", [{"lineno": 1}], T0)
