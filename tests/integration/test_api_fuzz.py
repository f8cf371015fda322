"""Schema-driven fuzzing of the REST API: every operation in ``/api/v1/openapi.json`` gets
generated requests (schemathesis + Hypothesis) and must never answer with a 5xx.

The run is bounded and repeatable: at most :data:`MAX_EXAMPLES` requests per operation,
derandomised (the same inputs every run, so a failure reproduces), no example database. The
requests go through the real ASGI app on a real SQLite database that holds a DAG with a finished
run, so paths naming that DAG reach deep code too. All requests carry an admin's bearer token
(``POST /api/v1/auth/token``), so every route is exercised past its permission check.
"""

from __future__ import annotations

import pytest

from api_support import make_api, run_to_end, store_dag_file

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

MAX_EXAMPLES = 25
SEED_DAG = """
with DAG("fuzzed", start_date=datetime(2024, 1, 1), schedule=None, tags=["fuzz"],
         params={"rows": Param(5, type="integer", minimum=1)}) as dag:
    first = EmptyOperator(task_id="first")
    second = PythonOperator(task_id="second", python_callable=lambda: {"rows": 5})
    first >> second
"""


@pytest.mark.slow
def test_no_operation_answers_with_a_server_error(config, db):
    from hypothesis import HealthCheck, Phase, given, settings

    api = make_api(config, db)
    store_dag_file(config, db, "fuzzed", SEED_DAG)
    triggered = api.post("dags/fuzzed/dagRuns", json={"dag_run_id": "seeded"})
    assert triggered.status_code == 200, triggered.text
    assert run_to_end(config, db, "fuzzed", "seeded") == "success"

    auth = {"Authorization": f"Bearer {api.tokens['admin']}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.client.app, headers=auth)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30, "the schema lost its operations"

    server_errors: list[str] = []
    fuzz_settings = settings(
        max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck), print_blob=False,
    )
    for operation in operations:
        fuzz_settings(given(case=operation.as_strategy())(_send_to(operation, auth, server_errors)))()
    assert not server_errors, f"{len(server_errors)} server errors:\n" + "\n".join(server_errors[:40])


def _send_to(operation, auth: dict[str, str], server_errors: list[str]):
    """The Hypothesis test body for one operation: send the case, note any 5xx answer."""

    def exercise(case) -> None:
        try:
            response = case.call(headers=auth)
        except Exception as exc:  # noqa: BLE001 - the in-process client re-raises what the app did not handle
            server_errors.append(f"{operation.label}: unhandled {exc!r} for path {case.path_parameters} "
                                 f"query {case.query} body {case.body!r}")
            return
        if response.status_code >= 500:
            server_errors.append(
                f"{operation.label}: {response.status_code} for path {case.path_parameters} "
                f"query {case.query} body {case.body!r}: {response.text[:300]}"
            )

    return exercise


@pytest.mark.parametrize("path", [
    "importErrors/99999999999999999999999",
    "eventLogs/99999999999999999999999",
    "dags/fuzzed/dagRuns/seeded/taskInstances/first/logs/1?map_index=99999999999999999999999",
])
def test_a_number_too_large_for_the_database_is_a_422_naming_the_problem(config, db, path):
    api = make_api(config, db)
    response = api.get(path)
    assert response.status_code == 422, response.text
    assert "out of range" in response.json()["detail"]
