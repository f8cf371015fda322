"""apache-airflow-providers-redis from PyPI, unchanged, against a real redis-server.

Each test runs in both venvs, ``pip install apache-airflow-providers-redis`` (Airflow pulled in) and
``tradewind providers install redis`` (no Airflow core) (bridged: the provider loads from its
installed distribution, its ``airflow`` core imports from Tradewind). Our DAG file
``dags/provider_redis_dag.py`` uses RedisHook, RedisKeySensor and RedisPublishOperator as the
provider's docs show; the test subscribes to the channel and sets the awaited key itself.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from e2e_support import dags_test, home_with_dag, task_log, venv_or_skip
from redis_server import redis_server, redis_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(1800)  # a first run builds the venv (Apache Airflow from PyPI)


@pytest.fixture(scope="module", params=["airflow", "tradewind"])
def venv(request: pytest.FixtureRequest):
    """pip install apache-airflow-providers-... (Airflow pulled in), or tradewind providers install (no core)."""
    return venv_or_skip(request.param, ["redis"])


@pytest.fixture
def client(redis_url: str) -> redis.Redis:  # noqa: F811
    return redis.Redis.from_url(redis_url, decode_responses=True)


@pytest.fixture
def home(venv, tmp_path: Path, redis_url: str):  # noqa: F811
    url = urlsplit(redis_url)
    home = home_with_dag(venv, tmp_path / "home", "provider_redis_dag.py")
    home.env["AIRFLOW_CONN_REDIS_E2E"] = json.dumps(
        {"conn_type": "redis", "host": url.hostname, "port": url.port, "extra": {"db": int(url.path.strip("/"))}})
    return home


def _exists_calls(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_exists", {}).get("calls", 0))


def _set_when_poked(client: redis.Redis, key: str, stop: threading.Event) -> None:
    """Set ``key`` only after the sensor has poked for it (an EXISTS reached the server), so the
    sensor is seen to wait and then succeed."""
    before = _exists_calls(client)
    while not stop.is_set():
        if _exists_calls(client) > before:
            client.set(key, "1")
            return
        time.sleep(0.05)


def test_hook_sensor_and_publish(home, client: redis.Redis):
    pubsub = client.pubsub()
    pubsub.subscribe("e2e-events")
    pubsub.get_message(timeout=5)  # the subscription confirmation
    stop = threading.Event()
    setter = threading.Thread(target=_set_when_poked, args=(client, "e2e:ready:2024-03-02", stop), daemon=True)
    setter.start()
    try:
        run = dags_test(home, "provider_redis")
    finally:
        stop.set()
        setter.join(5)
    assert run.states == {"write_with_hook": "success", "wait_for_ready": "success", "publish": "success"}, run.output
    assert run.run_state == "success"

    assert client.hgetall("e2e:report:2024-03-02") == {"rows": "3", "status": "ok"}
    message = pubsub.get_message(timeout=5)
    assert message is not None and message["data"] == "report 2024-03-02 ready", message
    sensor_log = task_log(home, "provider_redis", "wait_for_ready")
    assert sensor_log.count("Sensor checks for existence of key: e2e:ready:2024-03-02") >= 2, sensor_log[-3000:]


def test_key_sensor_times_out(home, client: redis.Redis):
    run = dags_test(home, "provider_redis_timeout")
    assert run.states == {"never_there": "failed"}, run.output
    log = task_log(home, "provider_redis_timeout", "never_there")
    assert "timed out" in log.lower() or "AirflowSensorTimeout" in log, log[-3000:]
    assert client.exists("e2e:never") == 0


def _publish_when_subscribed(client: redis.Redis, channel: str, message: str, stop: threading.Event) -> None:
    """Publish once the sensor has subscribed (it subscribes on its first poke)."""
    while not stop.is_set():
        if dict(client.pubsub_numsub(channel)).get(channel, 0) > 0:
            client.publish(channel, message)
            return
        time.sleep(0.05)


def test_pubsub_sensor_receives_the_message_but_its_bytes_cannot_be_an_xcom(home, client: redis.Redis):
    """RedisPubSubSensor subscribes on its first poke and gets the message; it then pushes redis-py's
    message dict, whose channel and data are bytes, as an XCom. Airflow's XCom serialisation refuses
    bytes too (checked with Airflow 3.3.2's BaseXCom.serialize_value: TypeError), so the try fails there as well; here the error names
    the key, the type and where in the value it sits."""
    stop = threading.Event()
    publisher = threading.Thread(target=_publish_when_subscribed, args=(client, "e2e-in", "go", stop), daemon=True)
    publisher.start()
    try:
        run = dags_test(home, "provider_redis_pubsub")
    finally:
        stop.set()
        publisher.join(5)
    assert run.states == {"listen": "failed", "got": "upstream_failed"}, run.output
    log = task_log(home, "provider_redis_pubsub", "listen")
    assert "'data': b'go'" in log  # the message arrived
    assert "XCom 'message' value of type bytes at ['channel'] cannot be stored" in log



def test_providers_get_reports_redis_as_bridged(venv, tmp_path):
    home = home_with_dag(venv, tmp_path / "home")
    info = home.json("providers", "get", "redis")
    assert (info["mode"], info["installed_version"]) == ("bridged", info["version"]), info
    assert info["installed_version"]
