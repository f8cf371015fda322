"""``ObjectStoragePath``: Airflow's path on object storage (AIP-58), on universal_pathlib and fsspec.

A ``pathlib``-like path whose operations go to an fsspec filesystem chosen by the URL's scheme and
configured from an Airflow-style connection (see :mod:`tradewind.integrations.io.store`)::

    base = ObjectStoragePath("s3://aws_default@my-bucket/data/")     # connection id in the user info
    base = ObjectStoragePath("s3://my-bucket/data/", conn_id="aws_default")  # the same
    (base / "x.csv").write_text("a,b\\n")
    local = ObjectStoragePath("file:///tmp/out")                     # or a plain "/tmp/out"

What Airflow adds to universal_pathlib's ``UPath`` is here with Airflow's behaviour: ``conn_id``,
``container``/``bucket``, ``key``, ``namespace``, ``read_block``, ``sign``, ``size``, ``ukey``,
``checksum``, ``copy``/``move`` (a server-side copy on one store, streamed between stores, so
``s3 -> file`` works), ``serialize``/``deserialize`` (so a path travels through XCom), and an
``Asset``/``Dataset`` accepted in place of its URI. ``str(path)`` keeps the connection id
(``s3://aws_default@bucket/key``), as in Airflow, so the text form round-trips.

The filesystem is made on first use, never while a DAG file is parsed.
"""

from __future__ import annotations

import shutil
import warnings
from typing import Any, ClassVar
from urllib.parse import urlsplit

try:
    from upath.implementations.cloud import CloudPath
    from upath._protocol import get_upath_protocol
except ImportError as exc:  # the io extra is not installed: say so where the DAG file imports the name
    raise ImportError("ObjectStoragePath needs universal_pathlib and fsspec, which are not installed: "
                      "pip install 'tradewind[io]'") from exc

from tradewind.integrations.io.store import ObjectStorageError, attach

__all__ = ["ObjectStoragePath"]

_LOCAL = ("", "file", "local")


def _as_path_arg(arg: Any) -> Any:
    """An Asset/Dataset stands for its URI (Airflow 2.9+); anything else is left to UPath."""
    uri = getattr(arg, "uri", None)
    if isinstance(uri, str) and hasattr(arg, "asset_type"):
        return uri
    return arg


def _split_conn_id(arg: Any, storage_options: dict[str, Any]) -> Any:
    """``scheme://conn_id@bucket/key`` -> ``scheme://bucket/key``, the connection id kept as an option."""
    if not isinstance(arg, str) or "://" not in arg:
        return arg
    parts = urlsplit(arg)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return arg
    if ":" in userinfo:
        raise ObjectStorageError(f"ObjectStoragePath({arg!r}): the user info of the URL is a connection id; "
                                 "a password there is not allowed (keep secrets in the connection)")
    if userinfo and storage_options.get("conn_id") not in (None, userinfo):
        raise ObjectStorageError(f"ObjectStoragePath({arg!r}): connection {userinfo!r} in the URL and "
                                 f"conn_id={storage_options['conn_id']!r} disagree")
    if userinfo:
        storage_options["conn_id"] = userinfo
    return parts._replace(netloc=host).geturl()


class ObjectStoragePath(CloudPath):
    """A path on object storage; see the module docstring."""

    __version__: ClassVar[int] = 1
    # One class for every scheme (as Airflow): the filesystem differs, the path API does not.
    _protocol_dispatch = False

    def __new__(cls, *args: Any, protocol: str | None = None, conn_id: str | None = None,
                **storage_options: Any) -> ObjectStoragePath:
        args = tuple(_as_path_arg(a) for a in args)
        if protocol is None:
            # Named explicitly: UPath refuses a subclass it has no registered protocol for.
            protocol = get_upath_protocol(args[0] if args else "", storage_options=storage_options) or "file"
        with warnings.catch_warnings():
            # universal_pathlib deprecates _protocol_dispatch=False for new code; it is what keeps
            # one class across schemes, as Airflow's own ObjectStoragePath does.
            warnings.simplefilter("ignore", DeprecationWarning)
            return super().__new__(cls, *args, protocol=protocol, **storage_options)

    def __init__(self, *args: Any, protocol: str | None = None, conn_id: str | None = None,
                 **storage_options: Any) -> None:
        args = tuple(_as_path_arg(a) for a in args)
        if conn_id is not None and not isinstance(conn_id, str):
            raise ObjectStorageError(f"ObjectStoragePath(conn_id=...) must be a string, not {type(conn_id).__name__}")
        storage_options.setdefault("conn_id", conn_id)
        if args:
            args = (_split_conn_id(args[0], storage_options), *args[1:])
        if protocol is None:
            protocol = get_upath_protocol(args[0] if args else "", storage_options=storage_options) or "file"
        super().__init__(*args, protocol=protocol, **storage_options)

    @classmethod
    def _fs_factory(cls, urlpath: str, protocol: str, storage_options: Any) -> Any:
        options = dict(storage_options)
        conn_id = options.pop("conn_id", None)
        return attach(protocol or "file", conn_id, **options).fs

    # ------------------------------------------------------------------ Airflow's properties
    @property
    def conn_id(self) -> str | None:
        return self.storage_options.get("conn_id")

    @property
    def container(self) -> str:
        """The bucket (or container) the path is in: the first part after the scheme."""
        if self.protocol in _LOCAL:
            return ""
        return self.path.split("/", 1)[0]

    @property
    def bucket(self) -> str:
        return self.container

    @property
    def key(self) -> str:
        """The path inside the bucket, without a leading slash."""
        path = self.path
        if self.container and path.startswith(self.container):
            path = path[len(self.container):]
        return path.lstrip("/")

    @property
    def namespace(self) -> str:
        return f"{self.protocol}://{self.container}" if self.container else self.protocol

    def __str__(self) -> str:
        text = super().__str__()
        conn_id = self.conn_id
        if conn_id and self.protocol and text.startswith(f"{self.protocol}://"):
            return f"{self.protocol}://{conn_id}@{text[len(self.protocol) + 3:]}"
        return text

    @property
    def drive(self) -> str:
        """The bucket, as universal_pathlib names it (without the connection id ``str`` shows)."""
        if self._relative_base is not None:
            return ""
        return self.parser.splitroot(super().__str__())[0]

    def __hash__(self) -> int:
        return hash((str(self), self.protocol))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectStoragePath) and str(self) == str(other)

    # ------------------------------------------------------------------ Airflow's methods
    def stat(self, *, follow_symlinks: bool = True) -> _StatResult:  # type: ignore[override]
        """``st_size``, ``st_mtime``, ``st_mode``... and, as a dict, the store's own metadata (``ETag``,
        ``ContentType`` on S3) plus ``protocol`` and ``conn_id``, as Airflow's ``stat_result``."""
        upath_stat = super().stat(follow_symlinks=follow_symlinks)
        return _StatResult(upath_stat, {**upath_stat.as_info(), "protocol": self.protocol, "conn_id": self.conn_id})

    def samefile(self, other_path: Any) -> bool:
        """Whether ``other_path`` is this object on the same store (and connection)."""
        if not isinstance(other_path, ObjectStoragePath) or not self.samestore(other_path):
            return False
        return self.path == other_path.path or self.stat().st_ino == other_path.stat().st_ino != 0

    def read_block(self, offset: int, length: int | None, delimiter: bytes | None = None) -> bytes:
        """``length`` bytes from ``offset`` (all to the end when None), optionally cut at ``delimiter``."""
        if length is None:
            with self.open("rb") as handle:
                handle.seek(offset)
                return handle.read()
        return self.fs.read_block(self.path, offset=offset, length=length, delimiter=delimiter)

    def sign(self, expiration: int = 100, **kwargs: Any) -> str:
        """A signed URL to the object, valid ``expiration`` seconds (where the filesystem can make one)."""
        return self.fs.sign(self.path, expiration=expiration, **kwargs)

    def size(self) -> int:
        return int(self.fs.size(self.path))

    def ukey(self) -> str:
        """A hash of the object's properties, which changes when the object does."""
        return self.fs.ukey(self.path)

    def checksum(self) -> int:
        return self.fs.checksum(self.path)

    def samestore(self, other: Any) -> bool:
        """Whether ``other`` is on the same filesystem and connection (a copy can stay on the server)."""
        return isinstance(other, ObjectStoragePath) and self.protocol == other.protocol \
            and self.conn_id == other.conn_id and dict(self.storage_options) == dict(other.storage_options)

    def copy(self, dst: Any, recursive: bool = False, **kwargs: Any) -> ObjectStoragePath:  # type: ignore[override]
        """Copy to ``dst`` (a path or URL string), as Airflow: on one store the server copies; between a
        local file and a store fsspec uploads or downloads; between two stores the bytes stream through
        this process, and into a directory (an existing one, or a key ending in ``/``) a file keeps its key."""
        target = dst if isinstance(dst, ObjectStoragePath) else ObjectStoragePath(dst)
        if self.samestore(target) or self.protocol in _LOCAL or target.protocol in _LOCAL:
            # fsspec's own copy/upload/download; a directory target ("x/", or one that exists) receives
            # the file under its name, as fsspec's copy rules say for a path ending in "/".
            where = target.path + "/" if _is_directory_target(target) and not target.path.endswith("/") \
                else target.path
            if self.samestore(target):
                self.fs.copy(self.path, where, recursive=recursive, **kwargs)
            elif self.protocol in _LOCAL:
                target.fs.put(self.path, where, recursive=recursive, **kwargs)
            else:
                if target.protocol in _LOCAL and where.endswith("/"):
                    target.mkdir(parents=True, exist_ok=True)
                self.fs.get(self.path, where, recursive=recursive, **kwargs)
            return target
        if not self.exists():
            raise FileNotFoundError(f"{self} does not exist")
        if not self.is_dir():
            return _stream_into(self, target)
        if not recursive:
            raise ObjectStorageError(f"copy {self} -> {target}: the source is a directory; pass recursive=True")
        for source in self.rglob("*"):
            if source.is_file():
                _stream_into(source, target / source.path[len(self.path):].lstrip("/"))
        return target

    def move(self, path: Any, recursive: bool = False, **kwargs: Any) -> ObjectStoragePath:  # type: ignore[override]
        """Move to ``path``: a rename on one store, a copy then a delete across stores."""
        target = path if isinstance(path, ObjectStoragePath) else ObjectStoragePath(path)
        if self.samestore(target):
            self.fs.move(self.path, target.path, recursive=recursive, **kwargs)
            return target
        copied = self.copy(target, recursive=recursive, **kwargs)
        self.fs.rm(self.path, recursive=recursive)
        return copied

    @classmethod
    def cwd(cls) -> ObjectStoragePath:  # type: ignore[override]
        """The local working directory (Airflow's answer on every scheme)."""
        import os

        return cls(os.getcwd())

    @classmethod
    def home(cls) -> ObjectStoragePath:  # type: ignore[override]
        """The local home directory (Airflow's answer on every scheme)."""
        import os

        return cls(os.path.expanduser("~"))

    def rename(self, target: Any, **kwargs: Any) -> ObjectStoragePath:  # type: ignore[override]
        """Rename to ``target``: a path or URL, or a relative name, taken next to this path (a sibling,
        as universal_pathlib did for Airflow 2.8's DAGs: ``file.replace("0_" + file.name)``)."""
        if isinstance(target, str) and "://" not in target and not target.startswith("/"):
            target = self.parent / target
        elif not isinstance(target, ObjectStoragePath):
            target = ObjectStoragePath(target)
        if not self.samestore(target):
            raise ObjectStorageError(f"rename {self} -> {target}: not on the same store; use move()")
        self.fs.mv(self.path, target.path, **kwargs)
        return target

    def replace(self, target: Any) -> ObjectStoragePath:  # type: ignore[override]
        """Rename to ``target``, replacing it if it exists."""
        return self.rename(target)

    # ------------------------------------------------------------------ XCom (Airflow's serde protocol)
    def serialize(self) -> dict[str, Any]:
        options = dict(self.storage_options)
        conn_id = options.pop("conn_id", None)
        return {"path": super().__str__(), "conn_id": conn_id, "kwargs": options}

    @classmethod
    def deserialize(cls, data: dict[str, Any], version: int) -> ObjectStoragePath:
        if version > cls.__version__:
            raise ValueError(f"ObjectStoragePath serialised with version {version}, newer than this one "
                             f"({cls.__version__})")
        return cls(data["path"], conn_id=data.get("conn_id"), **dict(data.get("kwargs") or {}))


class _StatResult(dict):
    """A dict of the store's metadata whose ``st_*`` attributes are the ``os.stat_result`` fields."""

    def __init__(self, upath_stat: Any, info: dict[str, Any]) -> None:
        super().__init__(info)
        self._stat = upath_stat

    def __getattr__(self, name: str) -> Any:
        if name.startswith("st_"):
            return getattr(self._stat, name)
        raise AttributeError(name)


def _is_directory_target(target: ObjectStoragePath) -> bool:
    """A bucket, a path written with a trailing "/" or an existing directory."""
    # universal_pathlib drops a trailing "/" from the path; the text the user wrote still has it.
    raw = getattr(target, "_raw_urlpaths", None) or ("",)
    return not target.key or str(raw[-1]).endswith("/") or target.is_dir()


def _stream_into(source: ObjectStoragePath, target: ObjectStoragePath) -> ObjectStoragePath:
    """Copy one file's bytes between two stores; a directory target receives it under the source's key."""
    if _is_directory_target(target):
        target = target / source.key
    with source.open("rb") as reader, target.open("wb") as writer:
        shutil.copyfileobj(reader, writer)
    return target
