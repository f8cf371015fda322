"""apache-airflow-providers-amazon from PyPI (its S3 parts) against the local S3 server of tests/s3server.py.

Each test runs in both venvs: ``pip install apache-airflow-providers-amazon`` (Airflow pulled in) and
``tradewind providers install amazon`` (no Airflow core). The provider is mixed (native first,
else the installed distribution): ``hooks.s3`` (S3Hook), the operators Tradewind implements in
``operators.s3`` and ``sensors.s3`` (S3KeySensor) are Tradewind's native S3 integration;
``transfers.local_to_s3``, ``hooks.base_aws`` and every other module load from the installed provider
(bridged). Our DAG file ``dags/provider_amazon_s3_dag.py`` uses both kinds the way the provider's docs
show; the test checks task states and the objects in the bucket with its own boto3 client.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from e2e_support import dags_test, home_with_dag, import_errors, venv_or_skip
from s3server import S3Server, s3_server  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(1800)  # a first run builds the venv (Apache Airflow from PyPI)

BUCKET = "tw-e2e-bucket"


@pytest.fixture(scope="module", params=["airflow", "tradewind"])
def venv(request: pytest.FixtureRequest):
    """pip install apache-airflow-providers-... (Airflow pulled in), or tradewind providers install (no core)."""
    return venv_or_skip(request.param, ["amazon"])


@pytest.fixture
def home(venv, tmp_path: Path, s3_server: S3Server):  # noqa: F811
    s3_server.reset()
    local = tmp_path / "local"
    local.mkdir()
    home = home_with_dag(venv, tmp_path / "home", "provider_amazon_s3_dag.py")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        home.env.pop(name, None)  # only the connection says where S3 is
    home.env["S3_E2E_DIR"] = str(local)
    home.env["AIRFLOW_CONN_AWS_E2E"] = s3_server.connection_json()
    return home


def _body(client, key: str) -> str:
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def test_native_and_bridged_s3_parts_in_one_dag(home, s3_server: S3Server):  # noqa: F811
    run = dags_test(home, "provider_amazon_s3")
    assert run.states == {
        "create_bucket": "success", "write_local": "success", "upload_file": "success",
        "create_object": "success", "wait_for_upload": "success", "summarise": "success",
        "publish_copy": "success", "list_raw": "success", "generic_client": "success", "tidy": "success",
    }, run.output
    assert run.run_state == "success"

    client = s3_server.client()
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))
    # tidy deleted the note after summarise downloaded it.
    assert keys == ["published/2024-03-02.txt", "raw/2024-03-02/report.csv", "summary/2024-03-02.txt"]
    assert _body(client, "raw/2024-03-02/report.csv") == "id,amount\n1,10\n2,32\n"  # LocalFilesystemToS3
    assert _body(client, "published/2024-03-02.txt") == "42"
    local = Path(home.env["S3_E2E_DIR"])
    assert (local / "downloaded-note.txt").read_text() == "note for 2024-03-02"


def test_a_name_tradewind_does_not_implement_in_a_native_module_fails_at_import_naming_it(home):
    """operators.s3 is native, so its names Tradewind lacks are refused loudly, not taken from the
    installed provider (docs/providers.md: a module is native or bridged as a whole)."""
    home.add_dag("uses_s3_read_object.py", textwrap.dedent('''
        import pendulum
        from airflow.sdk import dag
        from airflow.providers.amazon.aws.operators.s3 import S3FileTransformOperator

        @dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))
        def uses_transform():
            S3FileTransformOperator(task_id="t", source_s3_key="s3://b/k", dest_s3_key="s3://b/k2",
                                    transform_script="/bin/cat")

        uses_transform()
    '''))
    errors = import_errors(home)
    assert list(errors) == ["uses_s3_read_object.py"], errors
    message = errors["uses_s3_read_object.py"]
    assert "S3FileTransformOperator" in message and "airflow.providers.amazon.aws.operators.s3" in message, message


def test_the_providers_manager_reports_the_installed_amazon_version(venv):
    """base_aws puts the provider's version in its user agent through the runtime providers manager."""
    code = ("from tradewind import compat; compat.install()\n"
            "import importlib.metadata as m\n"
            "from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook\n"
            "print(AwsBaseHook._get_provider_version(), m.version('apache-airflow-providers-amazon'))")
    reported, installed = venv.python("-c", code).stdout.split()
    assert reported == installed



def test_providers_get_reports_amazon_as_native_and_bridged(venv, tmp_path):
    home = home_with_dag(venv, tmp_path / "home")
    info = home.json("providers", "get", "amazon")
    assert (info["mode"], info["installed_version"]) == ("native+bridged", info["version"]), info
    assert info["installed_version"]
