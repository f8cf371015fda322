"""Airflow 2's official Python client (``apache-airflow-client`` 2.x) against a real Tradewind
API server's ``/api/v1``: the venv holding it (built and cached like Airflow 3's client venv, see
:mod:`official_client_support`) and the runner that calls it with HTTP basic auth, as Airflow 2's
client does. The server itself is the one :func:`official_client_support.start_live_server` seeds.
"""

from __future__ import annotations

import textwrap
from typing import Any

from official_client_support import ADMIN, ADMIN_PASSWORD, RUNNER_LOOP, LiveServer, _venv, run_runner
from venv_support import ProviderVenv

#: The newest Airflow 2 client line (the last one written for ``/api/v1``).
CLIENT_V1_REQUIREMENT = "apache-airflow-client>=2.10,<3"


def client_v1_venv() -> ProviderVenv:
    """A venv with Airflow 2's official client (skipped, with pip's words, when it cannot be
    installed; failed under CI=true)."""
    return _venv(CLIENT_V1_REQUIREMENT)


#: Runs in the client venv. Reads {"url", "username", "password", "ctx", "operations"} from
#: stdin; each API class is instantiated under its module's name (``dag_api``, ``dataset_api``,
#: ``x_com_api`` ...); ``models`` holds the client's models, ``R`` earlier results by name. The
#: client checks every answer against Airflow 2's schema (types, required and nullable fields).
CLIENT_V1_RUNNER = textwrap.dedent('''
    import inspect, json, sys
    from datetime import datetime
    import airflow_client.client as ac
    from airflow_client.client import apis, models

    spec = json.load(sys.stdin)
    configuration = ac.Configuration(host=spec["url"] + "/api/v1", username=spec["username"],
                                     password=spec["password"])
    client = ac.ApiClient(configuration)
    namespace = {"models": models, "ctx": spec["ctx"], "R": {}, "ac": ac, "datetime": datetime}
    for _name, api_class in inspect.getmembers(apis, inspect.isclass):
        namespace[api_class.__module__.rsplit(".", 1)[1]] = api_class(client)

    def plain(value):
        if hasattr(value, "to_dict"):
            return value.to_dict()
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

''') + RUNNER_LOOP


def run_client_v1_operations(venv: ProviderVenv, live: LiveServer, operations: list[tuple[str, str]],
                             ctx: dict[str, Any], *, timeout: float = 600) -> dict[str, dict[str, Any]]:
    """Each operation's outcome, by name (see :data:`CLIENT_V1_RUNNER`)."""
    spec = {"url": live.url, "username": ADMIN, "password": ADMIN_PASSWORD, "ctx": ctx, "operations": operations}
    return run_runner(venv, CLIENT_V1_RUNNER, spec, timeout=timeout)
