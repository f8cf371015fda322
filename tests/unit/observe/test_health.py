from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient

from tradewind.config import Config
from tradewind.observe.api.app import create_app
from tradewind.observe.api.health import health_status
from tradewind.persist.db import Database
from tradewind.persist.queries.jobs import end_job, start_job

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)


def test_no_scheduler_is_unhealthy(db):
    status = health_status(db, now=T0)
    assert status == {
        "metadatabase": {"status": "healthy"},
        "scheduler": {"status": "unhealthy", "latest_scheduler_heartbeat": None},
    }


def test_fresh_heartbeat_is_healthy_and_stale_is_not(db):
    with db.session_scope() as session:
        start_job(session, "scheduler", "host", 1, T0)
    fresh = health_status(db, now=T0 + timedelta(seconds=10))
    assert fresh["scheduler"] == {"status": "healthy", "latest_scheduler_heartbeat": T0.isoformat()}
    stale = health_status(db, now=T0 + timedelta(seconds=31))
    assert stale["scheduler"]["status"] == "unhealthy"
    assert stale["scheduler"]["latest_scheduler_heartbeat"] == T0.isoformat()


def test_ended_scheduler_job_is_not_counted(db):
    with db.session_scope() as session:
        job = start_job(session, "scheduler", "host", 1, T0)
        end_job(session, job.id, T0)
    assert health_status(db, now=T0)["scheduler"]["status"] == "unhealthy"


def test_unreachable_database_is_unhealthy(tmp_path):
    broken = Database.from_url(f"sqlite:///{tmp_path}/missing-dir/x.db")
    (tmp_path / "missing-dir").rmdir()
    status = health_status(broken, now=T0)
    assert status["metadatabase"]["status"] == "unhealthy"
    assert status["scheduler"]["status"] == "unhealthy"


def test_endpoint_uses_threshold_from_config(tw_home, db):
    with db.session_scope() as session:
        start_job(session, "scheduler", "host", 1, T0)
    config = Config.load(home=tw_home, environ={}, overrides={"scheduler": {"scheduler_health_check_threshold": "120"}})
    app = create_app(config, db, clock=lambda: T0 + timedelta(seconds=100))
    response = TestClient(app).get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["scheduler"]["status"] == "healthy"
