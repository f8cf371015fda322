"""ObjectStoragePath and FileTransferOperator on S3: the local S3-compatible server (moto's server
process, tests/s3server.py) reached through s3fs with options read from our aws connection."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("s3fs")  # the s3 fixture fails instead under CI=true when the server is missing

from tradewind.integrations.io import store  # noqa: E402
from tradewind.integrations.io.operators import FileTransferOperator  # noqa: E402
from tradewind.integrations.io.path import ObjectStoragePath  # noqa: E402
from tradewind.integrations.io.store import get_fs  # noqa: E402


@pytest.fixture
def bucket(s3):
    """Bucket ``data`` on the test server; ``aws_default`` points at the server (the s3 fixture)."""
    store._forget_stores()
    s3.client().create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield s3
    store._forget_stores()


def _body(s3, key: str) -> bytes:
    return s3.client().get_object(Bucket="data", Key=key)["Body"].read()


def test_connection_becomes_s3fs_options(s3, monkeypatch):
    monkeypatch.setenv("TRADEWIND_CONN_MY_S3", s3.connection_json(verify="false"))
    fs = get_fs("s3", "my_s3")
    assert fs.key == "tradewind-test-key" and fs.secret == "tradewind-test-secret"
    assert fs.endpoint_url == s3.endpoint_url
    assert fs.client_kwargs == {"region_name": "eu-west-1", "verify": "false"}


def test_write_read_list_stat_delete_through_the_conn_id_in_the_url(bucket):
    base = ObjectStoragePath("s3://aws_default@data/reports/")
    report = base / "2024" / "r.csv"
    report.write_text("a,b\n1,2\n")
    assert _body(bucket, "reports/2024/r.csv") == b"a,b\n1,2\n"  # checked with boto3, not through s3fs
    assert report.exists() and report.is_file()
    assert report.read_text() == "a,b\n1,2\n"
    assert report.stat().st_size == 8 and report.size() == 8
    assert report.stat()["ETag"] and report.stat()["conn_id"] == "aws_default"  # S3's own metadata, as Airflow
    assert [p.name for p in (base / "2024").iterdir()] == ["r.csv"]
    assert [str(p) for p in base.glob("*/*.csv")] == ["s3://aws_default@data/reports/2024/r.csv"]
    with report.open("rb") as handle:
        assert handle.read(3) == b"a,b"
    assert report.read_block(offset=4, length=None) == b"1,2\n"
    report.unlink()
    assert not report.exists()
    assert "Contents" not in bucket.client().list_objects_v2(Bucket="data")


def test_mkdir_on_a_bucket_creates_it_as_the_tutorial_does(bucket):
    base = ObjectStoragePath("s3://aws_default@airflow-tutorial-data/")
    base.mkdir(exist_ok=True)
    (base / "x.parquet").write_bytes(b"PAR1")
    assert bucket.client().get_object(Bucket="airflow-tutorial-data", Key="x.parquet")["Body"].read() == b"PAR1"


def test_conn_id_keyword_and_a_missing_object(bucket):
    path = ObjectStoragePath("s3://data/none.txt", conn_id="aws_default")
    assert not path.exists()
    with pytest.raises(FileNotFoundError):
        path.read_text()


def test_copy_s3_to_local_and_local_to_s3_and_move_within_s3(bucket, tmp_path):
    bucket.client().put_object(Bucket="data", Key="in/a.txt", Body=b"alpha")
    src = ObjectStoragePath("s3://aws_default@data/in/a.txt")
    local = src.copy(ObjectStoragePath(f"file://{tmp_path}/out/a.txt"))
    assert (tmp_path / "out" / "a.txt").read_bytes() == b"alpha" and local.protocol == "file"

    (tmp_path / "up.txt").write_text("upload")
    ObjectStoragePath(str(tmp_path / "up.txt")).copy("s3://aws_default@data/up/up.txt")
    assert _body(bucket, "up/up.txt") == b"upload"

    moved = src.move(ObjectStoragePath("s3://aws_default@data/done/a.txt"))
    assert _body(bucket, "done/a.txt") == b"alpha" and not src.exists() and moved.exists()


def test_file_transfer_operator_s3_to_local(bucket, tmp_path):
    bucket.client().put_object(Bucket="data", Key="lyrics/song.txt", Body=b"la la")
    op = FileTransferOperator(task_id="transfer", src="s3://data/lyrics/song.txt", source_conn_id="aws_default",
                              dst=f"file://{tmp_path}/song.txt")
    op.execute({})
    assert (tmp_path / "song.txt").read_bytes() == b"la la"
    from tradewind.definition.exceptions import TradewindException

    with pytest.raises(TradewindException, match="already exists; pass overwrite=True"):
        op.execute({})
    bucket.client().put_object(Bucket="data", Key="lyrics/song.txt", Body=b"new words")
    FileTransferOperator(task_id="again", src=ObjectStoragePath("s3://aws_default@data/lyrics/song.txt"),
                         dst=f"file://{tmp_path}/song.txt", overwrite=True).execute({})
    assert (tmp_path / "song.txt").read_bytes() == b"new words"


def test_a_connection_that_does_not_exist_falls_back_to_the_aws_environment(bucket, monkeypatch):
    # As S3Hook (and Airflow): boto's own credential chain, here the AWS_* variables.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", bucket.endpoint_url)
    path = ObjectStoragePath("s3://no_such_connection@data/env.txt")
    path.write_text("env")
    assert _body(bucket, "env.txt") == b"env"


def test_serialised_path_reads_back_in_a_fresh_store(bucket):
    path = ObjectStoragePath("s3://aws_default@data/x.json")
    path.write_text(json.dumps({"n": 1}))
    data = path.serialize()
    store._forget_stores()
    assert json.loads(ObjectStoragePath.deserialize(data, 1).read_text()) == {"n": 1}


def test_copy_between_two_remote_stores_streams_and_keeps_the_key_in_a_directory(bucket):
    source = ObjectStoragePath("memory://osp-remote/in/deep/x.txt")
    source.write_text("across stores")
    source.copy(ObjectStoragePath("s3://aws_default@data/exact.txt"))
    assert _body(bucket, "exact.txt") == b"across stores"
    source.copy(ObjectStoragePath("s3://aws_default@data/into/"))  # a directory: the source's key is kept
    assert _body(bucket, "into/osp-remote/in/deep/x.txt") == b"across stores"
    from tradewind.integrations.io.store import ObjectStorageError

    with pytest.raises(ObjectStorageError, match="recursive=True"):
        source.parent.copy(ObjectStoragePath("s3://aws_default@data/tree/"))
    source.parent.parent.copy(ObjectStoragePath("s3://aws_default@data/tree/"), recursive=True)
    assert _body(bucket, "tree/deep/x.txt") == b"across stores"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ObjectStoragePath("memory://osp-remote/none").copy("s3://aws_default@data/x")
    source.fs.rm("/osp-remote", recursive=True)


def test_copy_to_a_local_directory_written_with_a_slash_keeps_each_name(bucket, tmp_path, monkeypatch):
    for name in ("1.txt", "2.txt"):
        bucket.client().put_object(Bucket="data", Key=f"poems/{name}", Body=name.encode())
    monkeypatch.chdir(tmp_path)
    local_dir = ObjectStoragePath("file://include/poems/")  # relative to the working directory, as Airflow
    for file in ObjectStoragePath("s3://aws_default@data/poems/").iterdir():
        file.copy(dst=local_dir)
    assert sorted(p.name for p in (tmp_path / "include" / "poems").iterdir()) == ["1.txt", "2.txt"]
    assert (tmp_path / "include" / "poems" / "2.txt").read_bytes() == b"2.txt"


def test_copy_within_s3_into_a_prefix_written_with_a_slash(bucket):
    bucket.client().put_object(Bucket="data", Key="ingest/kirk/q_kirk_1.txt", Body=b"quote")
    train = ObjectStoragePath("s3://data/train/", conn_id="aws_default")
    ObjectStoragePath("s3://aws_default@data/ingest/kirk/q_kirk_1.txt").copy(dst=train)
    assert _body(bucket, "train/q_kirk_1.txt") == b"quote"  # a server-side copy under the prefix
    assert [p.name for p in train.iterdir() if p.is_file()] == ["q_kirk_1.txt"]
