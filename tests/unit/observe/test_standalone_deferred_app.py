"""standalone's DeferredApp: health answers before the full API app is built; other requests
wait for the full app instead of failing."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from tradewind.observe.standalone import DeferredApp


def test_health_answers_before_the_full_app_is_built(config, db):
    app = DeferredApp(config, db)
    with TestClient(app) as client:
        response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["metadatabase"] == {"status": "healthy"}


def test_other_requests_wait_for_the_full_app(config, db):
    app = DeferredApp(config, db)
    answers: list[int] = []
    with TestClient(app) as client:
        waiting = threading.Thread(target=lambda: answers.append(client.get("/login").status_code))
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive() and answers == []  # no answer from the health-only app
        app.build()
        waiting.join(timeout=30)
        assert answers == [200]  # the full app's login page
        # Once built, the full app answers everything, health included.
        assert client.get("/api/v1/health").status_code == 200
        assert client.get("/api/v1/dags").status_code == 401
