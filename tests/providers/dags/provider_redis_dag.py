"""The redis provider as its docs show it, against the redis-server of tests/redis_server.py.

Connection ``redis_e2e`` (AIRFLOW_CONN_REDIS_E2E, set by the test): host, port and the extra ``db``.
The sensor waits for ``e2e:ready:<ds>``, which the test sets once it has seen the sensor poke.
"""

from datetime import timedelta

import pendulum
from airflow.providers.redis.hooks.redis import RedisHook
from airflow.providers.redis.operators.redis_publish import RedisPublishOperator
from airflow.providers.redis.sensors.redis_key import RedisKeySensor
from airflow.providers.redis.sensors.redis_pub_sub import RedisPubSubSensor
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def provider_redis():
    @task
    def write_with_hook(ds=None) -> int:
        client = RedisHook(redis_conn_id="redis_e2e").get_conn()
        client.hset(f"e2e:report:{ds}", mapping={"rows": 3, "status": "ok"})
        return client.hlen(f"e2e:report:{ds}")

    wait = RedisKeySensor(task_id="wait_for_ready", redis_conn_id="redis_e2e", key="e2e:ready:{{ ds }}",
                          poke_interval=0.2, timeout=60)

    publish = RedisPublishOperator(task_id="publish", redis_conn_id="redis_e2e", channel="e2e-events",
                                   message="report {{ ds }} ready")

    write_with_hook() >> wait >> publish


provider_redis()


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def provider_redis_timeout():
    RedisKeySensor(task_id="never_there", redis_conn_id="redis_e2e", key="e2e:never",
                   poke_interval=0.2, timeout=timedelta(seconds=2))


provider_redis_timeout()


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def provider_redis_pubsub():
    listen = RedisPubSubSensor(task_id="listen", redis_conn_id="redis_e2e", channels="e2e-in", poke_interval=0.2,
                               timeout=60)

    @task
    def got(ti=None) -> str:
        # As the provider's docs show; not reached: the sensor's message holds bytes (see the test).
        message = ti.xcom_pull(task_ids="listen", key="message")
        return message["data"].decode() if isinstance(message["data"], bytes) else message["data"]

    listen >> got()


provider_redis_pubsub()
