from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient

from tradewind.config import Config
from tradewind.observe.api.app import create_app
from tradewind.observe.api.health import health_status
from tradewind.persist.db import Database
from tradewind.persist.queries.jobs import end_job, job_heartbeat, start_job

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc)


def test_no_scheduler_is_unhealthy(db):
    status = health_status(db, now=T0)
    assert status == {
        "metadatabase": {"status": "healthy"},
        "scheduler": {"status": "unhealthy", "latest_scheduler_heartbeat": None, "problems": []},
        # Airflow reports null for a component that never ran (a deployment may not run one).
        "triggerer": {"status": None, "latest_triggerer_heartbeat": None, "problems": []},
        "dag_processor": {"status": None, "latest_dag_processor_heartbeat": None, "problems": []},
    }


def test_fresh_heartbeat_is_healthy_and_stale_is_not(db):
    with db.session_scope() as session:
        start_job(session, "scheduler", "host", 1, T0)
    fresh = health_status(db, now=T0 + timedelta(seconds=10))
    assert fresh["scheduler"] == {"status": "healthy", "latest_scheduler_heartbeat": T0.isoformat(), "problems": []}
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


def test_scheduler_reporting_problems_is_unhealthy_and_says_why(db):
    with db.session_scope() as session:
        job = start_job(session, "scheduler", "host", 1, T0)
        job_heartbeat(session, job.id, T0 + timedelta(seconds=5), problems=[
            "DAG processor is crash-looping: died 3 times in the last 60s (last: killed by signal SIGKILL (9))",
            "fork server is down: exited with code 1; restarting",
        ])
    status = health_status(db, now=T0 + timedelta(seconds=10))
    assert status["scheduler"]["status"] == "unhealthy"
    assert status["scheduler"]["latest_scheduler_heartbeat"] == (T0 + timedelta(seconds=5)).isoformat()
    assert status["scheduler"]["problems"] == [
        "DAG processor is crash-looping: died 3 times in the last 60s (last: killed by signal SIGKILL (9))",
        "fork server is down: exited with code 1; restarting",
    ]
    # The next heartbeat without problems makes it healthy again.
    with db.session_scope() as session:
        job_heartbeat(session, job.id, T0 + timedelta(seconds=15))
    healthy = health_status(db, now=T0 + timedelta(seconds=16))["scheduler"]
    assert healthy == {"status": "healthy", "latest_scheduler_heartbeat": (T0 + timedelta(seconds=15)).isoformat(),
                       "problems": []}


def test_one_healthy_scheduler_of_two_keeps_the_scheduler_healthy(db):
    with db.session_scope() as session:
        start_job(session, "scheduler", "a", 1, T0)
        troubled = start_job(session, "scheduler", "b", 2, T0)
        job_heartbeat(session, troubled.id, T0 + timedelta(seconds=1), problems=["fork server is down: x"])
    status = health_status(db, now=T0 + timedelta(seconds=2))["scheduler"]
    assert status["status"] == "healthy"
    assert status["problems"] == ["fork server is down: x"]


def test_triggerer_and_dag_processor_sections(db):
    with db.session_scope() as session:
        trig = start_job(session, "triggerer", "host", 3, T0)
        proc = start_job(session, "dag_processor", "host", 4, T0)
    status = health_status(db, now=T0 + timedelta(seconds=10))
    assert status["triggerer"] == {"status": "healthy", "latest_triggerer_heartbeat": T0.isoformat(), "problems": []}
    assert status["dag_processor"] == {"status": "healthy", "latest_dag_processor_heartbeat": T0.isoformat(),
                                       "problems": []}
    # Stale heartbeats: unhealthy, the last heartbeat still shown.
    stale = health_status(db, now=T0 + timedelta(seconds=31))
    assert stale["triggerer"]["status"] == "unhealthy"
    assert stale["dag_processor"] == {"status": "unhealthy", "latest_dag_processor_heartbeat": T0.isoformat(),
                                      "problems": []}
    # Ended (a clean stop): once one existed, none alive is unhealthy, not null.
    with db.session_scope() as session:
        end_job(session, trig.id, T0)
        end_job(session, proc.id, T0)
    ended = health_status(db, now=T0 + timedelta(seconds=1))
    assert ended["triggerer"] == {"status": "unhealthy", "latest_triggerer_heartbeat": None, "problems": []}
    assert ended["dag_processor"]["status"] == "unhealthy"
    # A triggerer whose supervisor reports it crash-looping.
    with db.session_scope() as session:
        again = start_job(session, "triggerer", "host", 5, T0)
        job_heartbeat(session, again.id, T0 + timedelta(seconds=1), problems=["triggerer is crash-looping: ..."])
    looping = health_status(db, now=T0 + timedelta(seconds=2))["triggerer"]
    assert looping["status"] == "unhealthy" and looping["problems"] == ["triggerer is crash-looping: ..."]


def test_endpoint_uses_each_components_threshold(tw_home, db):
    with db.session_scope() as session:
        start_job(session, "scheduler", "host", 1, T0)
        start_job(session, "triggerer", "host", 2, T0)
        start_job(session, "dag_processor", "host", 3, T0)
    config = Config.load(home=tw_home, environ={}, overrides={
        "scheduler": {"scheduler_health_check_threshold": "120"},
        "triggerer": {"triggerer_health_check_threshold": "50"},
        "dag_processor": {"health_check_threshold": "200"},
    })
    app = create_app(config, db, clock=lambda: T0 + timedelta(seconds=100))
    body = TestClient(app).get("/api/v1/health").json()
    assert (body["scheduler"]["status"], body["triggerer"]["status"], body["dag_processor"]["status"]) == (
        "healthy", "unhealthy", "healthy")
