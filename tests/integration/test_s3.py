"""S3 against a real local S3-compatible server (moto's standalone server process, tests/s3server.py).

Every hook method talks to the server over HTTP through boto3 with the connection's endpoint_url;
operators and S3KeySensor run through the real scheduler and task runner; SqlToS3Operator reads a
real SQLite file.
"""

from __future__ import annotations

import gzip
import io
import json
import sqlite3
import textwrap
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from dagrun_support import RunResult, run_dag
from sqlalchemy import select

from tradewind.definition.exceptions import TradewindException
from tradewind.integrations.s3 import (
    S3CreateObjectOperator,
    S3DeleteObjectsOperator,
    S3Hook,
    S3HookUriParseFailure,
    S3KeyNotFound,
    S3KeySensor,
    SqlToS3Operator,
)

pytest.importorskip("boto3")  # the s3_server fixture fails instead under CI=true

REGION = "eu-west-1"


@pytest.fixture
def hook(s3) -> S3Hook:
    """A hook on ``aws_default`` with an empty bucket ``data``."""
    h = S3Hook()
    h.create_bucket("data")
    return h


def body(s3, bucket: str, key: str) -> bytes:
    return s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()


# ---------------------------------------------------------------------------- URLs and connection
@pytest.mark.parametrize(("url", "expected"), [
    ("s3://bucket/path/to/file.csv", ("bucket", "path/to/file.csv")),
    ("s3a://bucket/key", ("bucket", "key")),
    ("s3n://bucket/", ("bucket", "")),
    ("https://bucket.s3.eu-west-1.amazonaws.com/a/b.txt", ("bucket", "a/b.txt")),
    ("https://s3.eu-west-1.amazonaws.com/bucket/a/b.txt", ("bucket", "a/b.txt")),
])
def test_parse_s3_url(url: str, expected: tuple[str, str]) -> None:
    assert S3Hook.parse_s3_url(url) == expected


@pytest.mark.parametrize("url", ["bucket/key", "s3:///key", "ftp://host/key", ""])
def test_parse_s3_url_refuses_what_is_not_an_s3_url(url: str) -> None:
    with pytest.raises(S3HookUriParseFailure, match="valid format of s3://bucket/key"):
        S3Hook.parse_s3_url(url)


def test_get_s3_bucket_key_refuses_url_key_with_bucket() -> None:
    assert S3Hook.get_s3_bucket_key(None, "s3://b/k", "bucket", "key") == ("b", "k")
    assert S3Hook.get_s3_bucket_key("b", "k", "bucket", "key") == ("b", "k")
    with pytest.raises(TypeError, match="If `dest_bucket` is provided, dest_key should be a relative path"):
        S3Hook.get_s3_bucket_key("b", "s3://b/k", "dest_bucket", "dest_key")


def test_connection_gives_endpoint_region_and_credentials(s3, monkeypatch) -> None:
    monkeypatch.setenv("TRADEWIND_CONN_MY_S3", s3.connection_json(region_name="eu-central-1"))
    h = S3Hook(aws_conn_id="my_s3")
    assert h.endpoint_url == s3.endpoint_url
    assert h.region_name == "eu-central-1"
    client = h.get_conn()
    assert client.meta.endpoint_url == s3.endpoint_url
    assert client.meta.region_name == "eu-central-1"
    credentials = h.get_session().get_credentials()
    assert (credentials.access_key, credentials.secret_key) == ("tradewind-test-key", "tradewind-test-secret")
    assert h.test_connection() == (True, "Connection successfully tested")
    h.create_bucket("central")
    assert s3.client().get_bucket_location(Bucket="central")["LocationConstraint"] == "eu-central-1"


def test_service_config_endpoint_and_default_bucket_and_uri_form(s3, monkeypatch) -> None:
    s3.client().create_bucket(Bucket="defaults", CreateBucketConfiguration={"LocationConstraint": REGION})
    extra = {"service_config": {"s3": {"endpoint_url": s3.endpoint_url, "bucket_name": "defaults"}},
             "region_name": REGION, "aws_session_token": "session-token"}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_URI", "aws://tradewind-test-key:tradewind-test-secret@/?__extra__="
                       + urllib.request.quote(json.dumps(extra)))
    h = S3Hook(aws_conn_id="aws_uri")
    assert h.get_session().get_credentials().token == "session-token"
    h.load_string("hi", "greeting.txt")  # no bucket named: the connection's default bucket
    assert h.read_key("greeting.txt") == "hi"
    assert body(s3, "defaults", "greeting.txt") == b"hi"


def test_missing_connection_falls_back_to_boto3_environment(s3, monkeypatch) -> None:
    monkeypatch.delenv("TRADEWIND_CONN_AWS_DEFAULT")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint_url)
    h = S3Hook()
    assert h.get_session().get_credentials().access_key == "from-env"
    h.create_bucket("envbucket")
    assert h.check_for_bucket("envbucket")


def test_unsupported_connection_features_and_bad_endpoint_are_clear(s3, monkeypatch) -> None:
    monkeypatch.setenv("TRADEWIND_CONN_ROLE", json.dumps({"conn_type": "aws", "extra": {"role_arn": "arn:x"}}))
    with pytest.raises(TradewindException, match="extra 'role_arn' asks for assuming an IAM role"):
        S3Hook(aws_conn_id="role").get_conn()
    monkeypatch.setenv("TRADEWIND_CONN_NOWHERE", json.dumps({
        "conn_type": "aws", "login": "k", "password": "s",
        "extra": {"endpoint_url": "http://127.0.0.1:9", "region_name": REGION,
                  "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2}}}))
    ok, message = S3Hook(aws_conn_id="nowhere").test_connection()
    assert not ok and "127.0.0.1:9" in message


def test_hook_registry_knows_aws() -> None:
    import importlib

    from tradewind.integrations import HOOKS_BY_CONN_TYPE

    module, _, name = HOOKS_BY_CONN_TYPE["aws"].partition(":")
    assert getattr(importlib.import_module(module), name) is S3Hook


# ---------------------------------------------------------------------------- buckets
def test_buckets_create_check_delete(s3) -> None:
    h = S3Hook()
    assert not h.check_for_bucket("fresh")
    h.create_bucket("fresh")
    assert h.check_for_bucket("fresh")
    assert s3.client().get_bucket_location(Bucket="fresh")["LocationConstraint"] == REGION
    h.create_bucket("virginia", region_name="us-east-1")  # no location constraint there
    assert h.get_bucket("fresh").name == "fresh"
    h.load_string("x", "a/b.txt", "fresh")
    with pytest.raises(Exception, match="BucketNotEmpty"):
        h.delete_bucket("fresh")
    h.delete_bucket("fresh", force_delete=True)
    assert not h.check_for_bucket("fresh")


def test_create_existing_bucket_names_it(hook) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match=r"^bucket 'data': .*BucketAlreadyOwnedByYou"):
        hook.create_bucket("data")


# ---------------------------------------------------------------------------- writing and reading
def test_load_string_bytes_file_obj_and_read_back(s3, hook) -> None:
    hook.load_string("héllo", "t/str.txt", "data")
    hook.load_string("latin", "t/latin.txt", "data", encoding="latin-1")
    hook.load_bytes(b"\x00\x01", "t/bytes.bin", "data")
    hook.load_file_obj(io.BytesIO(b"from a file object"), "s3://data/t/obj.txt")  # URL key, bucket None
    hook.load_string("packed", "t/packed.txt.gz", "data", compression="gzip")
    assert hook.read_key("t/str.txt", "data") == "héllo"
    assert hook.read_key("s3://data/t/obj.txt") == "from a file object"
    assert body(s3, "data", "t/bytes.bin") == b"\x00\x01"
    assert body(s3, "data", "t/latin.txt") == "latin".encode("latin-1")
    assert gzip.decompress(body(s3, "data", "t/packed.txt.gz")) == b"packed"


def test_replace_false_refuses_an_existing_key(hook) -> None:
    hook.load_string("one", "k.txt", "data")
    with pytest.raises(ValueError, match=r"The key k.txt already exists \(s3://data/k.txt\)"):
        hook.load_string("two", "k.txt", "data")
    hook.load_string("two", "k.txt", "data", replace=True)
    assert hook.read_key("k.txt", "data") == "two"


def test_bad_arguments_are_clear(hook) -> None:
    with pytest.raises(TypeError, match="load_string needs str, not bytes"):
        hook.load_string(b"x", "k", "data")
    with pytest.raises(TypeError, match="load_bytes needs bytes, not str"):
        hook.load_bytes("x", "k", "data")
    with pytest.raises(ValueError, match="compression 'zip' is not supported"):
        hook.load_string("x", "k", "data", compression="zip")
    with pytest.raises(TradewindException, match="no bucket_name given and connection 'aws_default' has no default"):
        hook.load_string("x", "relative/key")
    with pytest.raises(FileNotFoundError, match="is not a file"):
        hook.load_file("/nonexistent/file.csv", "k", "data")


def test_load_file_plain_gzip_encrypted_and_acl(s3, hook, tmp_path: Path) -> None:
    source = tmp_path / "rows.csv"
    source.write_text("a,b\n1,2\n")
    hook.load_file(source, "in/rows.csv", "data")
    hook.load_file(str(source), "in/rows.csv.gz", "data", gzip=True)
    hook.load_file(source, "in/secret.csv", "data", encrypt=True, acl_policy="public-read")
    assert body(s3, "data", "in/rows.csv") == b"a,b\n1,2\n"
    assert gzip.decompress(body(s3, "data", "in/rows.csv.gz")) == b"a,b\n1,2\n"
    head = s3.client().head_object(Bucket="data", Key="in/secret.csv")
    assert head["ServerSideEncryption"] == "AES256"
    grants = s3.client().get_object_acl(Bucket="data", Key="in/secret.csv")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ" for g in grants)


def test_extra_args_apply_to_uploads(s3) -> None:
    h = S3Hook(extra_args={"ContentType": "text/csv"}, transfer_config_args={"use_threads": False})
    h.create_bucket("typed")
    h.load_string("a,b", "x.csv", "typed")
    assert s3.client().head_object(Bucket="typed", Key="x.csv")["ContentType"] == "text/csv"


def test_get_key_head_object_and_check_for_key(hook) -> None:
    hook.load_string("12345", "dir/five.txt", "data")
    obj = hook.get_key("dir/five.txt", "data")
    assert (obj.bucket_name, obj.key, obj.content_length) == ("data", "dir/five.txt", 5)
    assert hook.head_object("s3://data/dir/five.txt")["ContentLength"] == 5
    assert hook.head_object("dir/missing.txt", "data") is None
    assert hook.check_for_key("dir/five.txt", "data")
    assert hook.check_for_key("s3://data/dir/five.txt")
    assert not hook.check_for_key("dir/missing.txt", "data")
    with pytest.raises(S3KeyNotFound, match=r"s3://data/dir/missing.txt"):
        hook.get_key("dir/missing.txt", "data")
    with pytest.raises(S3KeyNotFound):
        hook.read_key("s3://data/nope")


def test_missing_bucket_errors_name_the_object(hook) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match=r"^s3://no-such-bucket/k.txt: .*NoSuchBucket") as caught:
        hook.load_string("x", "k.txt", "no-such-bucket")
    assert caught.value.response["Error"]["Code"] == "NoSuchBucket"
    with pytest.raises(ClientError, match=r"^bucket 'no-such-bucket': .*NoSuchBucket"):
        hook.list_keys("no-such-bucket")


# ---------------------------------------------------------------------------- listing
@pytest.fixture
def tree(hook) -> S3Hook:
    for key in ("logs/2024/01/a.log", "logs/2024/01/b.txt", "logs/2024/02/c.log", "logs/readme.md", "top.csv"):
        hook.load_string(key, key, "data")
    return hook


def test_list_keys_prefix_delimiter_wildcard_paging(tree) -> None:
    assert tree.list_keys("data") == ["logs/2024/01/a.log", "logs/2024/01/b.txt", "logs/2024/02/c.log",
                                      "logs/readme.md", "top.csv"]
    assert tree.list_keys("data", prefix="logs/2024/") == ["logs/2024/01/a.log", "logs/2024/01/b.txt",
                                                           "logs/2024/02/c.log"]
    assert tree.list_keys("data", prefix="logs/", delimiter="/") == ["logs/readme.md"]
    assert tree.list_keys("data", prefix="logs/*.log", apply_wildcard=True) == ["logs/2024/01/a.log",
                                                                                "logs/2024/02/c.log"]
    assert tree.list_keys("data", page_size=2, max_items=3) == ["logs/2024/01/a.log", "logs/2024/01/b.txt",
                                                                "logs/2024/02/c.log"]
    assert tree.list_keys("data", start_after_key="logs/readme.md") == ["top.csv"]


def test_list_keys_by_modification_time_and_custom_filter(tree) -> None:
    now = datetime.now(timezone.utc)
    assert tree.list_keys("data", from_datetime=now + timedelta(hours=1)) == []
    assert len(tree.list_keys("data", from_datetime=now - timedelta(hours=1))) == 5
    assert tree.list_keys("data", to_datetime=now - timedelta(hours=1)) == []

    def only_small(objects, from_datetime, to_datetime):
        return [o["Key"] for o in objects if o["Size"] < 10]

    assert tree.list_keys("data", object_filter=only_small) == ["top.csv"]


def test_list_prefixes_check_for_prefix_metadata_and_wildcards(tree) -> None:
    assert tree.list_prefixes("data", delimiter="/") == ["logs/"]
    assert tree.list_prefixes("data", prefix="logs/2024/", delimiter="/") == ["logs/2024/01/", "logs/2024/02/"]
    assert tree.check_for_prefix("logs/2024/01", "/", "data")
    assert tree.check_for_prefix("logs/", "/", "data")
    assert not tree.check_for_prefix("logs/2024/03", "/", "data")
    metadata = tree.get_file_metadata("logs/2024/01/", "data")
    assert [(m["Key"], m["Size"]) for m in metadata] == [("logs/2024/01/a.log", 18), ("logs/2024/01/b.txt", 18)]
    assert tree.check_for_wildcard_key("logs/*/02/*.log", "data")
    assert tree.get_wildcard_key("s3://data/logs/2024/0?/b.*").key == "logs/2024/01/b.txt"
    assert not tree.check_for_wildcard_key("logs/*.csv", "data")


# ---------------------------------------------------------------------------- copy, delete, download
def test_copy_object_forms_and_missing_source(s3, hook) -> None:
    from botocore.exceptions import ClientError

    hook.create_bucket("other")
    hook.load_string("payload", "src.txt", "data")
    hook.copy_object("src.txt", "dst.txt", "data", "data")
    hook.copy_object("s3://data/src.txt", "s3://other/copied/src.txt")
    response = hook.copy_object("src.txt", "meta.txt", "data", "data", meta_data_directive="REPLACE",
                                Metadata={"origin": "test"})
    assert "CopyObjectResult" in response
    assert body(s3, "data", "dst.txt") == body(s3, "other", "copied/src.txt") == b"payload"
    assert s3.client().head_object(Bucket="data", Key="meta.txt")["Metadata"] == {"origin": "test"}
    with pytest.raises(ClientError, match=r"^s3://data/x.txt \(copy of s3://data/absent.txt\): .*NoSuchKey"):
        hook.copy_object("absent.txt", "x.txt", "data", "data")


def test_delete_objects_one_and_many(tree) -> None:
    tree.delete_objects("data", "top.csv")
    tree.delete_objects("data", ["logs/2024/01/a.log", "logs/2024/01/b.txt"])
    assert tree.list_keys("data") == ["logs/2024/02/c.log", "logs/readme.md"]
    tree.delete_objects("data", ["never-existed"])  # S3 reports deleting a missing key as done
    assert tree.list_keys("data") == ["logs/2024/02/c.log", "logs/readme.md"]


def test_download_file(hook, tmp_path: Path) -> None:
    hook.load_string("content", "deep/report.csv", "data")
    plain = Path(hook.download_file("deep/report.csv", "data", local_path=str(tmp_path)))
    assert plain.parent == tmp_path and plain.name.startswith("tradewind_tmp_")
    assert plain.read_text() == "content"
    kept = Path(hook.download_file("s3://data/deep/report.csv", local_path=str(tmp_path), preserve_file_name=True))
    assert kept.name == "report.csv" and kept.parent.parent == tmp_path and kept.read_text() == "content"
    flat = Path(hook.download_file("deep/report.csv", "data", local_path=str(tmp_path), preserve_file_name=True,
                                   use_autogenerated_subdir=False))
    assert flat == tmp_path / "report.csv"
    with pytest.raises(FileExistsError, match="report.csv already exists"):
        hook.download_file("deep/report.csv", "data", local_path=str(tmp_path), preserve_file_name=True,
                           use_autogenerated_subdir=False)
    with pytest.raises(S3KeyNotFound):
        hook.download_file("deep/none.csv", "data", local_path=str(tmp_path))


def test_presigned_url_serves_the_object(hook) -> None:
    hook.load_string("signed", "p.txt", "data")
    url = hook.generate_presigned_url("get_object", {"Bucket": "data", "Key": "p.txt"}, expires_in=60)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"signed"


# ---------------------------------------------------------------------------- sensor (direct pokes)
def test_s3_key_sensor_pokes(hook) -> None:
    sensor = S3KeySensor(task_id="wait", bucket_key="in/*.csv", bucket_name="data", wildcard_match=True)
    assert not sensor.poke({})
    hook.load_string("a,b", "in/one.csv", "data")
    assert sensor.poke({})
    assert S3KeySensor(task_id="url", bucket_key="s3://data/in/one.csv").poke({})
    both = S3KeySensor(task_id="both", bucket_key=["in/one.csv", "in/two.csv"], bucket_name="data")
    assert not both.poke({})
    hook.load_string("a,b,c", "in/two.csv", "data")
    assert both.poke({})
    regex = S3KeySensor(task_id="re", bucket_key=r"in/(one|two)\.csv", bucket_name="data", use_regex=True)
    assert regex.poke({})

    seen = []

    def at_least_8_bytes(files):
        seen.append(files)
        return sum(f["Size"] for f in files) >= 8

    sized = S3KeySensor(task_id="sized", bucket_key="in/*.csv", bucket_name="data", wildcard_match=True,
                        check_fn=at_least_8_bytes)
    assert sized.poke({})
    assert seen == [[{"Size": 3}, {"Size": 5}]]
    too_big = S3KeySensor(task_id="big", bucket_key="in/one.csv", bucket_name="data",
                          check_fn=lambda files, **context: files[0]["Size"] > 100)
    assert not too_big.poke({})
    every = S3KeySensor(task_id="all", bucket_key="in/one.csv", bucket_name="data", metadata_keys=["*"],
                        check_fn=lambda files: files[0]["ContentLength"] == 3 and "ETag" in files[0])
    assert every.poke({})


def test_s3_key_sensor_and_operator_argument_errors() -> None:
    with pytest.raises(TradewindException, match="wildcard_match or use_regex, not both"):
        S3KeySensor(task_id="x", bucket_key="k", wildcard_match=True, use_regex=True)
    with pytest.raises(TypeError, match="If `bucket_name` is provided, bucket_key should be a relative path"):
        S3KeySensor(task_id="y", bucket_key="s3://b/k", bucket_name="b").poke({})
    with pytest.raises(TradewindException, match="either keys or at least one of prefix"):
        S3DeleteObjectsOperator(task_id="d", bucket="b")
    with pytest.raises(TradewindException, match="not both"):
        S3DeleteObjectsOperator(task_id="d2", bucket="b", keys=["k"], prefix="p")
    with pytest.raises(TradewindException, match="file_format 'xml' is not supported"):
        SqlToS3Operator(task_id="s", query="select 1", s3_bucket="b", s3_key="k", sql_conn_id="c", file_format="xml")
    with pytest.raises(TradewindException, match="pd_kwargs may not name the output file"):
        SqlToS3Operator(task_id="s2", query="select 1", s3_bucket="b", s3_key="k", sql_conn_id="c",
                        pd_kwargs={"path_or_buf": "x"})
    with pytest.raises(TradewindException, match="data must be str or bytes"):
        S3CreateObjectOperator(task_id="c", s3_bucket="b", s3_key="k", data=3).execute({})


# ---------------------------------------------------------------------------- through the scheduler and runner
HEADER = """
from datetime import datetime, timedelta
from tradewind import DAG, PythonOperator
from tradewind.integrations.s3 import (
    S3CopyObjectOperator, S3CreateBucketOperator, S3CreateObjectOperator, S3DeleteBucketOperator,
    S3DeleteObjectsOperator, S3KeySensor, S3ListOperator, SqlToS3Operator,
)
"""


def run_s3_dag(config, db, dag_id: str, body_text: str, header: str = HEADER) -> RunResult:
    """The DAG file (``header`` + ``body_text``) run to its end at logical date 2024-03-05."""
    return run_dag(config, db, dag_id, header + textwrap.dedent(body_text),
                   logical_date=datetime(2024, 3, 5, tzinfo=timezone.utc))


def test_operators_and_sensor_run_as_tasks(config, db, s3) -> None:
    result = run_s3_dag(config, db, "s3_ops", """
        with DAG("s3_ops", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            bucket = S3CreateBucketOperator(task_id="bucket", bucket_name="lake")
            again = S3CreateBucketOperator(task_id="bucket_again", bucket_name="lake")
            write = S3CreateObjectOperator(task_id="write", s3_bucket="lake", s3_key="raw/{{ ds }}.txt",
                                           data="rows for {{ ds }}")
            write_url = S3CreateObjectOperator(task_id="write_url", s3_key="s3://lake/raw/extra.bin",
                                               data=b"\\x01\\x02", replace=True)
            wait = S3KeySensor(task_id="wait", bucket_key=["s3://lake/raw/{{ ds }}.txt", "s3://lake/raw/*.bin"],
                               wildcard_match=True, poke_interval=0.01, timeout=30)
            copy = S3CopyObjectOperator(task_id="copy", source_bucket_key="s3://lake/raw/{{ ds }}.txt",
                                        dest_bucket_key="curated/{{ ds_nodash }}.txt", dest_bucket_name="lake")
            listing = S3ListOperator(task_id="list", bucket="lake", prefix="curated/")
            delete = S3DeleteObjectsOperator(task_id="delete", bucket="lake", prefix="raw/")
            nothing = S3DeleteObjectsOperator(task_id="delete_nothing", bucket="lake", keys=[])
            bucket >> again >> [write, write_url] >> wait >> copy >> listing >> delete >> nothing
            scratch = S3CreateBucketOperator(task_id="scratch", bucket_name="scratch")
            drop = S3DeleteBucketOperator(task_id="drop", bucket_name="scratch", force_delete=True)
            scratch >> drop
    """)
    state, tis = result.state, result.states
    assert state == "success", tis
    client = s3.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="lake").get("Contents", [])]
    assert keys == ["curated/20240305.txt"]
    assert body(s3, "lake", "curated/20240305.txt") == b"rows for 2024-03-05"
    assert "scratch" not in [b["Name"] for b in client.list_buckets()["Buckets"]]
    from runner_support import xcoms
    from tradewind.workloads import TaskKey

    with db.read_scope() as s:
        from tradewind.persist.models import DagRun

        run_id = s.scalar(select(DagRun.run_id).where(DagRun.dag_id == "s3_ops"))
    assert json.loads(xcoms(db, TaskKey("s3_ops", run_id, "list", -1, 1))["return_value"]) == ["curated/20240305.txt"]


def test_bad_bucket_or_key_fails_the_task_with_a_clear_log(config, db, s3) -> None:
    S3Hook().create_bucket("present")
    result = run_s3_dag(config, db, "s3_bad", """
        with DAG("s3_bad", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            S3CreateObjectOperator(task_id="no_bucket", s3_bucket="missing-bucket", s3_key="k.txt", data="x")
            S3CopyObjectOperator(task_id="no_source", source_bucket_key="s3://present/absent.csv",
                                 dest_bucket_key="s3://present/copy.csv")
            S3CreateObjectOperator(task_id="exists", s3_key="s3://present/dup.txt", data="x")
            S3CreateObjectOperator(task_id="exists_again", s3_key="s3://present/dup.txt", data="y")
            S3KeySensor(task_id="never", bucket_key="s3://present/never.txt", poke_interval=0.01, timeout=0.2)
    """)
    state, tis = result.state, result.states
    assert state == "failed"
    assert tis["no_bucket"] == "failed" and tis["no_source"] == "failed" and tis["never"] == "failed"
    assert "s3://missing-bucket/k.txt" in result.logs["no_bucket"]
    assert "NoSuchBucket" in result.logs["no_bucket"]
    assert "copy of s3://present/absent.csv" in result.logs["no_source"]
    assert "timed out" in result.logs["never"]
    # one of the two writers of dup.txt ran first; the other found the key and refused to replace it
    assert sorted([tis["exists"], tis["exists_again"]]) == ["failed", "success"]


@pytest.fixture
def listings_db(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "listings.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE listing (id INTEGER, city TEXT, price REAL, rooms INTEGER, day TEXT)")
        conn.executemany("INSERT INTO listing VALUES (?, ?, ?, ?, ?)", [
            (1, "Lisbon", 80.5, 2, "2024-03-05"), (2, "Porto", 60.0, None, "2024-03-05"),
            (3, "Lisbon", 120.0, 3, "2024-03-05"), (4, "Faro", 70.0, 1, "2024-03-04"),
        ])
    monkeypatch.setenv("TRADEWIND_CONN_LISTINGS", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


def test_sql_to_s3_csv_json_parquet_and_parts(config, db, s3, listings_db) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    import pandas

    S3Hook().create_bucket("exports")
    result = run_s3_dag(config, db, "sql_s3", """
        Q = "SELECT id, city, price, rooms FROM listing WHERE day = '{{ ds }}' ORDER BY id"
        with DAG("sql_s3", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            SqlToS3Operator(task_id="csv", query=Q, sql_conn_id="listings", s3_bucket="exports",
                            s3_key="csv/{{ ds }}.csv", pd_kwargs={"index": False})
            SqlToS3Operator(task_id="json", query="SELECT id, city FROM listing WHERE id < ? ORDER BY id",
                            parameters=[3], sql_conn_id="listings", s3_bucket=None,
                            s3_key="s3://exports/json/{{ ds }}.json", file_format="json",
                            pd_kwargs={"orient": "records"})
            SqlToS3Operator(task_id="parquet", query=Q, sql_conn_id="listings", s3_bucket="exports",
                            s3_key="pq/{{ ds }}.parquet", file_format="parquet")
            SqlToS3Operator(task_id="parts", query="SELECT id FROM listing ORDER BY id", sql_conn_id="listings",
                            s3_bucket="exports", s3_key="parts/ids.csv", max_rows_per_file=3,
                            pd_kwargs={"index": False})
            SqlToS3Operator(task_id="groups", query="SELECT id, city FROM listing ORDER BY id",
                            sql_conn_id="listings", s3_bucket="exports", s3_key="by_city/listing.csv",
                            groupby_kwargs={"by": "city"}, pd_kwargs={"index": False})
    """)
    state, tis = result.state, result.states
    assert state == "success", tis
    assert body(s3, "exports", "csv/2024-03-05.csv").decode() == (
        "id,city,price,rooms\n1,Lisbon,80.5,2\n2,Porto,60.0,\n3,Lisbon,120.0,3\n")
    assert json.loads(body(s3, "exports", "json/2024-03-05.json")) == [
        {"id": 1, "city": "Lisbon"}, {"id": 2, "city": "Porto"}]
    frame = pandas.read_parquet(io.BytesIO(body(s3, "exports", "pq/2024-03-05.parquet")))
    assert frame["id"].tolist() == [1, 2, 3] and frame["city"].tolist() == ["Lisbon", "Porto", "Lisbon"]
    assert body(s3, "exports", "parts/ids.csv_0").decode() == "id\n1\n2\n3\n"
    assert body(s3, "exports", "parts/ids.csv_1").decode() == "id\n4\n"
    assert body(s3, "exports", "by_city/listing.csv_Lisbon").decode() == "id,city\n1,Lisbon\n3,Lisbon\n"
    assert body(s3, "exports", "by_city/listing.csv_Faro").decode() == "id,city\n4,Faro\n"


def test_sql_to_s3_refuses_to_overwrite_and_bad_sql_fails(config, db, s3, listings_db) -> None:
    pytest.importorskip("pandas")
    hook = S3Hook()
    hook.create_bucket("exports")
    hook.load_string("old", "fixed.csv", "exports")
    result = run_s3_dag(config, db, "sql_s3_bad", """
        with DAG("sql_s3_bad", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            SqlToS3Operator(task_id="keep", query="SELECT 1 AS one", sql_conn_id="listings", s3_bucket="exports",
                            s3_key="fixed.csv")
            SqlToS3Operator(task_id="replace", query="SELECT 1 AS one", sql_conn_id="listings",
                            s3_bucket="exports", s3_key="replaced.csv", replace=True)
            SqlToS3Operator(task_id="bad_sql", query="SELECT nope FROM missing_table", sql_conn_id="listings",
                            s3_bucket="exports", s3_key="never.csv")
    """)
    tis = result.states
    assert tis == {"keep": "failed", "replace": "success", "bad_sql": "failed"}
    assert "The key fixed.csv already exists" in result.logs["keep"]
    assert "missing_table" in result.logs["bad_sql"]
    assert hook.read_key("fixed.csv", "exports") == "old"
    assert hook.read_key("replaced.csv", "exports") == ",one\n0,1\n"  # pandas' default writes the index
    assert not hook.check_for_key("never.csv", "exports")


def test_airflow_provider_paths_run_unchanged(config, db, s3) -> None:
    """A DAG file written for Airflow's amazon provider imports its names from the provider paths."""
    result = run_s3_dag(config, db, "s3_airflow", """
        from datetime import datetime
        from airflow import DAG
        from airflow.operators.python import PythonOperator
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3CreateObjectOperator
        from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
        from airflow.providers.amazon.aws.transfers.sql_to_s3 import SqlToS3Operator

        def shout(**context):
            hook = S3Hook(aws_conn_id="aws_default")
            text = hook.read_key(key="in/{}.txt".format(context["ds"]), bucket_name="af-bucket")
            hook.load_string(text.upper(), key="s3://af-bucket/out/loud.txt", replace=True)
            return hook.list_keys(bucket_name="af-bucket", prefix="out/")

        with DAG("s3_airflow", schedule_interval=None, start_date=datetime(2024, 1, 1)) as dag:
            bucket = S3CreateBucketOperator(task_id="bucket", bucket_name="af-bucket")
            put = S3CreateObjectOperator(task_id="put", s3_bucket="af-bucket", s3_key="in/{{ ds }}.txt",
                                         data="quiet {{ ds }}")
            wait = S3KeySensor(task_id="wait", bucket_name="af-bucket", bucket_key="in/{{ ds }}.txt",
                               poke_interval=0.01, timeout=30)
            loud = PythonOperator(task_id="loud", python_callable=shout)
            assert SqlToS3Operator.template_ext == (".sql",)
            bucket >> put >> wait >> loud
    """, header="")
    state, tis = result.state, result.states
    assert state == "success", tis
    assert body(s3, "af-bucket", "out/loud.txt") == b"QUIET 2024-03-05"


def test_connections_test_uses_s3hook_for_aws(s3) -> None:
    from tradewind.definition.connection import Connection
    from tradewind.observe.connections import try_connection

    good = Connection.from_text("store", s3.connection_json())
    assert try_connection(good) == (True, "Connection successfully tested")
    wrong_secret = Connection(conn_id="store", conn_type="aws", login="tradewind-test-key", password="nope",
                              extra={"endpoint_url": "http://127.0.0.1:9", "region_name": REGION,
                                     "config_kwargs": {"retries": {"max_attempts": 1}}})
    ok, message = try_connection(wrong_secret)
    assert not ok and "127.0.0.1:9" in message and "nope" not in message
