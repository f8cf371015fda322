"""ObjectStoragePath on local files: URL parsing (connection id in the user info), joining, the pathlib
operations, Airflow's extensions, copy/move, XCom round trips, attach and the import paths DAG files use."""

from __future__ import annotations

import json
import sys

import pytest

pytest.importorskip("upath")

from tradewind.definition.assets import Asset  # noqa: E402
from tradewind.definition.xcom_serde import decode_xcom, serialize_xcom  # noqa: E402
from tradewind.integrations.io import store  # noqa: E402
from tradewind.integrations.io.path import ObjectStoragePath  # noqa: E402
from tradewind.integrations.io.store import ObjectStorageError, attach, get_fs, has_fs  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_stores():
    store._forget_stores()
    yield
    store._forget_stores()


# ---------------------------------------------------------------------------- parsing
def test_conn_id_in_the_user_info_is_taken_out_of_the_path_and_kept_in_str():
    path = ObjectStoragePath("s3://aws_default@my-bucket/data/x.csv")
    assert path.conn_id == "aws_default"
    assert path.protocol == "s3"
    assert path.path == "my-bucket/data/x.csv"
    assert (path.container, path.bucket, path.key) == ("my-bucket", "my-bucket", "data/x.csv")
    assert path.namespace == "s3://my-bucket"
    assert str(path) == "s3://aws_default@my-bucket/data/x.csv"
    assert ObjectStoragePath(str(path)) == path


def test_conn_id_keyword_is_the_same_as_the_user_info():
    assert ObjectStoragePath("s3://b/k", conn_id="c") == ObjectStoragePath("s3://c@b/k")
    assert ObjectStoragePath("s3://b/k").conn_id is None
    assert str(ObjectStoragePath("s3://b/k")) == "s3://b/k"


def test_conflicting_or_secret_user_info_is_refused():
    with pytest.raises(ObjectStorageError, match="disagree"):
        ObjectStoragePath("s3://one@b/k", conn_id="two")
    with pytest.raises(ObjectStorageError, match="password there is not allowed"):
        ObjectStoragePath("s3://user:secret@b/k")
    with pytest.raises(ObjectStorageError, match="conn_id=...\\) must be a string"):
        ObjectStoragePath("s3://b/k", conn_id=3)


def test_joining_keeps_class_scheme_and_connection():
    base = ObjectStoragePath("s3://conn@bucket/a/")
    child = base / "b" / "c.txt"
    assert isinstance(child, ObjectStoragePath)
    assert str(child) == "s3://conn@bucket/a/b/c.txt"
    assert child.conn_id == "conn"
    assert child.name == "c.txt" and child.suffix == ".txt" and child.stem == "c"
    assert str(child.parent) == "s3://conn@bucket/a/b"
    assert child.parent.conn_id == "conn"


def test_local_paths_plain_file_url_and_relative_file_url(tmp_path, monkeypatch):
    plain = ObjectStoragePath(str(tmp_path / "x.txt"))
    url = ObjectStoragePath(f"file://{tmp_path}/x.txt")
    assert plain.protocol == url.protocol == "file"
    assert plain.path == url.path == str(tmp_path / "x.txt")
    assert plain.container == ""
    # Airflow (through fsspec) reads file://include/x as include/x under the working directory
    monkeypatch.chdir(tmp_path)
    relative = ObjectStoragePath("file://include/newsletter")
    assert relative.path == str(tmp_path / "include" / "newsletter")


def test_an_asset_or_dataset_stands_for_its_uri(tmp_path):
    asset = Asset(f"file://{tmp_path}/a.txt")
    path = ObjectStoragePath(asset, conn_id=None)
    assert path.path == str(tmp_path / "a.txt")
    path.write_text("from an asset")
    assert (tmp_path / "a.txt").read_text() == "from an asset"


# ---------------------------------------------------------------------------- operations
def test_pathlib_operations_on_local_files(tmp_path):
    base = ObjectStoragePath(f"file://{tmp_path}/data")
    base.mkdir(parents=True, exist_ok=True)
    assert base.is_dir() and base.exists()
    text = base / "a.txt"
    text.write_text("hello")
    (base / "b.bin").write_bytes(b"\x00\x01")
    (base / "sub").mkdir()
    (base / "sub" / "c.txt").write_text("deep")

    assert text.read_text() == "hello"
    assert (tmp_path / "data" / "a.txt").read_text() == "hello"  # really on disk
    assert sorted(p.name for p in base.iterdir()) == ["a.txt", "b.bin", "sub"]
    assert sorted(p.name for p in base.glob("*.txt")) == ["a.txt"]
    assert sorted(p.name for p in base.rglob("*.txt")) == ["a.txt", "c.txt"]
    assert all(isinstance(p, ObjectStoragePath) for p in base.iterdir())
    assert text.stat().st_size == 5 and text.size() == 5
    assert text.is_file() and not text.is_dir()
    with text.open("a") as handle:
        handle.write(" world")
    with text.open("rb") as handle:
        assert handle.read() == b"hello world"
    assert text.read_block(offset=6, length=None) == b"world"
    assert text.read_block(offset=0, length=5) == b"hello"
    assert isinstance(text.ukey(), str) and text.checksum() == text.checksum()
    text.unlink()
    assert not text.exists()
    text.unlink(missing_ok=True)
    with pytest.raises(FileNotFoundError):
        text.unlink()
    with pytest.raises(FileNotFoundError):
        (base / "missing.txt").read_text()


def test_copy_and_move_on_one_store(tmp_path):
    src = ObjectStoragePath(f"file://{tmp_path}/src.txt")
    src.write_text("payload")
    copied = src.copy(ObjectStoragePath(f"file://{tmp_path}/copy.txt"))
    assert copied.read_text() == "payload" and src.exists()
    moved = src.move(f"file://{tmp_path}/moved.txt")
    assert moved.read_text() == "payload" and not src.exists()
    assert isinstance(moved, ObjectStoragePath)


def test_copy_from_another_store_into_a_local_directory_and_a_tree(tmp_path):
    memory = ObjectStoragePath("memory://osp-test/dir/a.txt")
    memory.write_text("from memory")  # a second filesystem: fsspec downloads it
    target_dir = ObjectStoragePath(f"file://{tmp_path}/into")
    target_dir.mkdir()
    memory.copy(target_dir)
    assert (tmp_path / "into" / "a.txt").read_text() == "from memory"
    memory.parent.copy(ObjectStoragePath(f"file://{tmp_path}/tree"), recursive=True)
    assert (tmp_path / "tree" / "a.txt").read_text() == "from memory"
    local = ObjectStoragePath(str(tmp_path / "into" / "a.txt"))
    local.copy("memory://osp-test/up/a.txt")  # fsspec uploads it
    assert ObjectStoragePath("memory://osp-test/up/a.txt").read_text() == "from memory"
    ObjectStoragePath("memory://osp-test").fs.rm("/osp-test", recursive=True)


# ---------------------------------------------------------------------------- XCom
def test_paths_round_trip_through_xcom_with_their_connection(tmp_path):
    paths = [ObjectStoragePath("s3://aws_default@bucket/k.txt"), ObjectStoragePath(f"file://{tmp_path}/x")]
    text = serialize_xcom({"files": paths, "one": paths[0]}, dag_id="d", task_id="t", key="return_value")
    stored = json.loads(text)
    assert stored["one"]["value"]["data"] == {"path": "s3://bucket/k.txt", "conn_id": "aws_default", "kwargs": {}}
    back = decode_xcom(stored)
    assert back["files"] == paths and back["one"] == paths[0]
    assert back["one"].conn_id == "aws_default"
    assert isinstance(back["one"], ObjectStoragePath)


def test_deserialize_refuses_a_newer_version():
    with pytest.raises(ValueError, match="newer"):
        ObjectStoragePath.deserialize({"path": "s3://b/k", "conn_id": None, "kwargs": {}}, 2)


# ---------------------------------------------------------------------------- stores and filesystems
def test_attach_shares_one_store_per_scheme_and_connection_and_files_aliases():
    first = attach("file", None)
    assert attach("file", None) is first
    assert attach("file", "other") is not first
    aliased = attach("memory", None, alias="scratch")
    assert attach(alias="scratch", protocol="memory") is aliased
    assert first.fs is first.fs  # made once, on first use


def test_attach_with_a_ready_filesystem_is_used_by_paths_on_that_scheme():
    from fsspec.implementations.memory import MemoryFileSystem

    fs = MemoryFileSystem()
    attach(fs=fs)  # protocol read from the filesystem, as the ftp example does
    path = ObjectStoragePath("memory://attached/x.txt")
    assert path.fs is fs
    path.write_text("via the attached fs")
    assert fs.cat("/attached/x.txt") == b"via the attached fs"
    fs.rm("/attached", recursive=True)


def test_unknown_scheme_and_encryption_are_clear_errors():
    assert not has_fs("nosuchscheme")
    assert has_fs("file") and has_fs("s3")
    with pytest.raises(ObjectStorageError, match="'nosuchscheme' is not known to fsspec"):
        get_fs("nosuchscheme")
    with pytest.raises(ObjectStorageError, match="encryption_type"):
        attach("file", None, encryption_type="aes")
    with pytest.raises(ObjectStorageError, match="needs a protocol"):
        attach()


def test_a_named_connection_that_does_not_exist_is_named_for_other_schemes():
    from tradewind.definition.connection import ConnectionNotFound

    with pytest.raises(ConnectionNotFound, match="no_such_conn"):
        get_fs("ftp", "no_such_conn")


# ---------------------------------------------------------------------------- import paths
def test_airflow_import_paths_resolve_to_ours():
    import tradewind.compat

    tradewind.compat.install()
    from airflow.io import attach as io_attach
    from airflow.io.path import ObjectStoragePath as AirflowPath
    from airflow.io.store import ObjectStore
    from airflow.providers.common.io.operators.file_transfer import FileTransferOperator
    from airflow.sdk import ObjectStoragePath as SdkPath
    from airflow.sdk.io import ObjectStoragePath as SdkIoPath

    assert AirflowPath is SdkPath is SdkIoPath is ObjectStoragePath
    assert io_attach is attach and ObjectStore is store.ObjectStore
    assert FileTransferOperator.__module__ == "tradewind.integrations.io.operators"


def test_the_operator_module_does_not_load_fsspec():
    import subprocess

    code = ("import sys; import tradewind.integrations.io.operators; "
            "print('fsspec' in sys.modules, 'upath' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_file_transfer_operator_refuses_other_types():
    from tradewind.definition.exceptions import TradewindException
    from tradewind.integrations.io.operators import FileTransferOperator

    with pytest.raises(TradewindException, match="src must be a URL string or an ObjectStoragePath, not int"):
        FileTransferOperator(task_id="t", src=1, dst="file:///tmp/x")


def test_rename_and_replace_take_a_relative_name_as_a_sibling(tmp_path):
    path = ObjectStoragePath(f"file://{tmp_path}/poems/1.txt")
    path.parent.mkdir()
    path.write_text("roses")
    renamed = path.replace("0_" + path.name)  # as Airflow 2.8 guides' DAGs do
    assert renamed.path == str(tmp_path / "poems" / "0_1.txt")
    assert (tmp_path / "poems" / "0_1.txt").read_text() == "roses" and not path.exists()
    back = renamed.rename(ObjectStoragePath(f"file://{tmp_path}/poems/1.txt"))
    assert back.read_text() == "roses"
    with pytest.raises(ObjectStorageError, match="not on the same store; use move"):
        back.rename("memory://elsewhere/1.txt")


def test_drive_and_anchor_name_the_bucket_without_the_connection():
    path = ObjectStoragePath("s3://conn@bucket/k/x.txt")
    assert (path.drive, path.anchor) == ("bucket", "bucket/")
    assert str(path.relative_to(ObjectStoragePath("s3://conn@bucket/k"))) == "x.txt"


def test_stat_has_st_fields_and_the_store_metadata_and_walk_lists_the_tree(tmp_path):
    base = ObjectStoragePath(f"file://{tmp_path}")
    (base / "a" / "b").mkdir(parents=True)
    (base / "a" / "b" / "x.txt").write_text("12345")
    st = (base / "a" / "b" / "x.txt").stat()
    assert st.st_size == 5 and st.st_mtime > 0 and st["size"] == 5
    assert (st["protocol"], st["conn_id"]) == ("file", None)
    assert (base / "a" / "b" / "x.txt").samefile(ObjectStoragePath(str(tmp_path / "a" / "b" / "x.txt")))
    walked = [(str(top.relative_to(base)), dirs, files) for top, dirs, files in base.walk()]
    assert walked == [(".", ["a"], []), ("a", ["b"], []), ("a/b", [], ["x.txt"])]


def test_an_asset_takes_a_path_as_its_uri_without_the_connection_id(recwarn):
    asset = Asset(uri=ObjectStoragePath("s3://aws_default@bucket/data/x.csv"))
    assert asset.uri == asset.name == "s3://bucket/data/x.csv"
    assert not [w for w in recwarn if "user info" in str(w.message)]
    assert ObjectStoragePath(asset).path == "bucket/data/x.csv"


def test_a_paths_own_options_override_and_do_not_leak_into_the_shared_store(tmp_path):
    target = ObjectStoragePath(f"file://{tmp_path}/deep/er/x.txt", auto_mkdir=True)
    assert target.fs.auto_mkdir is True
    target.write_text("parents made by the filesystem option")
    assert (tmp_path / "deep" / "er" / "x.txt").exists()
    assert ObjectStoragePath(f"file://{tmp_path}/y.txt").fs.auto_mkdir is False
    assert attach("file", None).fs.auto_mkdir is False


def test_a_scheme_whose_package_is_missing_names_the_package():
    from importlib.util import find_spec

    if find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here")
    with pytest.raises(ObjectStorageError, match="scheme 'gs' needs gcsfs, which is not installed"):
        get_fs("gs")
    with pytest.raises(ObjectStorageError, match="needs gcsfs"):
        ObjectStoragePath("gs://bucket/x").exists()


def test_without_the_io_extra_the_import_error_names_it():
    import subprocess

    code = ("import sys; sys.modules['upath'] = None; sys.modules['upath.implementations.cloud'] = None\n"
            "import tradewind.compat; tradewind.compat.install()\n"
            "try:\n    from airflow.io.path import ObjectStoragePath\nexcept ImportError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "ObjectStoragePath needs universal_pathlib and fsspec" in out and "tradewind[io]" in out


def test_google_and_azure_connections_become_their_filesystems_options(monkeypatch, tmp_path):
    # The option mapping only (gcsfs/adlfs need not be installed): what get_fs passes to the filesystem.
    from tradewind.integrations.io.store import _connection_options

    key = tmp_path / "key.json"
    monkeypatch.setenv("TRADEWIND_CONN_MY_GCP", json.dumps({
        "conn_type": "google_cloud_platform", "extra": {"project": "p1", "key_path": str(key)}}))
    monkeypatch.setenv("TRADEWIND_CONN_OLD_GCP", json.dumps({
        "conn_type": "google_cloud_platform",
        "extra": {"extra__google_cloud_platform__keyfile_dict": '{"type": "service_account"}'}}))
    monkeypatch.setenv("TRADEWIND_CONN_MY_WASB", json.dumps({
        "conn_type": "wasb", "login": "acct", "password": "k3y", "extra": {"sas_token": "sv=1"}}))
    monkeypatch.setenv("TRADEWIND_CONN_MY_SP", json.dumps({
        "conn_type": "wasb", "host": "acct2", "password": "s3cret", "extra": {"client_id": "c", "tenant_id": "t"}}))
    assert _connection_options("gs", "my_gcp") == {"project": "p1", "token": str(key)}
    assert _connection_options("gcs", "old_gcp") == {"token": {"type": "service_account"}}
    assert _connection_options("abfs", "my_wasb") == {"account_name": "acct", "account_key": "k3y", "sas_token": "sv=1"}
    assert _connection_options("az", "my_sp") == {"account_name": "acct2", "client_id": "c", "tenant_id": "t",
                                                  "client_secret": "s3cret"}
    assert _connection_options("gs", None) == {}


def test_pickle_copy_and_rewrapping_keep_the_connection():
    import copy
    import pickle

    path = ObjectStoragePath("s3://conn@bucket/k/x.txt")
    for other in (pickle.loads(pickle.dumps(path)), copy.deepcopy(path), ObjectStoragePath(path)):
        assert other == path and other.conn_id == "conn" and isinstance(other, ObjectStoragePath)
