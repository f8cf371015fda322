"""Filesystems behind object storage paths: ``attach`` and the connection -> fsspec options mapping.

Airflow's ``airflow.io.store.attach(protocol, conn_id, alias=None, encryption_type="", fs=None,
**kwargs)`` returns an :class:`ObjectStore`: one fsspec filesystem for a scheme and a connection,
created on first use and shared by every path on that scheme and connection in the process. A DAG
file may attach a filesystem of its own (``attach("ftp", fs=FTPFileSystem(...))``); paths on that
scheme then use it.

How a connection becomes fsspec storage options (Airflow's providers do the same per scheme):

* ``s3`` / ``s3a``: the ``aws`` connection as :class:`~tradewind.integrations.s3.S3Hook` reads it --
  login/password (or extra ``aws_access_key_id``/``aws_secret_access_key``), extra
  ``aws_session_token``, ``endpoint_url``, ``region_name``, ``verify``, ``config_kwargs`` -- into
  s3fs's ``key``/``secret``/``token``/``endpoint_url``/``client_kwargs``/``config_kwargs``. With no
  connection id, or one that does not exist, s3fs uses boto's own credential chain (``AWS_*``).
* ``file`` / ``local``: no options; a connection id is ignored (there is nothing to configure).
* ``gs``/``gcs``: a ``google_cloud_platform`` connection's extra ``project`` and ``key_path`` or
  ``keyfile_dict`` (gcsfs's ``project`` and ``token``);
* ``abfs``/``az``/``adl``: a ``wasb``/``adls`` connection -- login (or host) is the account name, the
  password its key (or a service principal's secret with extra ``client_id``/``tenant_id``), extra
  ``connection_string``/``sas_token`` as they are;
* any other scheme fsspec knows (``ftp``, ``http``, ``memory``...):
  the connection's extra, as a dict, is passed to the fsspec filesystem as its options (plus
  ``host``/``port``/``username``/``password`` for ``ftp`` and ``sftp``). The fsspec implementation
  (``gcsfs``, ``adlfs``...) must be installed; otherwise the error names the package.

fsspec itself is imported only when a filesystem is first needed.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from tradewind.definition.connection import ConnectionNotFound, get_connection
from tradewind.definition.exceptions import TradewindException

__all__ = ["ObjectStore", "attach", "get_fs", "has_fs", "register_filesystem", "ObjectStorageError"]

_S3_SCHEMES = ("s3", "s3a", "s3n")
_LOCAL_SCHEMES = ("file", "local")
_GCS_SCHEMES = ("gs", "gcs")
_AZURE_SCHEMES = ("abfs", "abfss", "az", "adl")
#: Schemes whose connection host/port/login/password are the filesystem's own arguments.
_HOST_SCHEMES = ("ftp", "sftp", "ssh")
#: fsspec implementations that live in packages of their own, for the install hint.
_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "abfs": "adlfs", "az": "adlfs",
             "abfss": "adlfs", "adl": "adlfs", "sftp": "paramiko", "ssh": "paramiko"}

_lock = threading.Lock()
#: (scheme, conn_id) and aliases -> the store attached under that key in this process.
_stores: dict[Any, ObjectStore] = {}
#: Filesystem factories registered for a scheme: ``factory(conn_id, storage_options) -> fs``.
_factories: dict[str, Any] = {}


class ObjectStorageError(TradewindException, ValueError):
    """A path, scheme or connection the object storage API cannot use (the message says which)."""


def _require_fsspec() -> Any:
    try:
        import fsspec
    except ImportError as exc:
        raise ObjectStorageError("object storage (ObjectStoragePath, airflow.io) needs fsspec and "
                                 "universal_pathlib: pip install 'tradewind[io]'") from exc
    return fsspec


def register_filesystem(scheme: str, factory: Any) -> None:
    """Use ``factory(conn_id, storage_options) -> fsspec filesystem`` for ``scheme`` from now on
    (what an Airflow provider's ``get_fs`` does for its schemes)."""
    if not callable(factory):
        raise ObjectStorageError(f"register_filesystem({scheme!r}, ...): factory must be callable, "
                                 f"not {type(factory).__name__}")
    with _lock:
        _factories[scheme] = factory
        for key in [k for k in _stores if isinstance(k, tuple) and k[0] == scheme]:
            del _stores[key]


def has_fs(scheme: str) -> bool:
    """Whether a filesystem can be made for ``scheme`` (registered here or known to fsspec and installed)."""
    if scheme in _factories:
        return True
    fsspec = _require_fsspec()
    try:
        fsspec.get_filesystem_class(scheme)
    except (ValueError, ImportError):
        return False
    return True


def get_fs(scheme: str, conn_id: str | None = None, storage_options: dict[str, Any] | None = None) -> Any:
    """A new fsspec filesystem for ``scheme`` configured from connection ``conn_id`` (Airflow's
    ``airflow.io.get_fs``); ``storage_options`` override what the connection gives."""
    scheme = scheme or "file"
    options = dict(storage_options or {})
    factory = _factories.get(scheme)
    if factory is not None:
        return factory(conn_id, options)
    fsspec = _require_fsspec()
    try:
        cls = fsspec.get_filesystem_class(scheme)
    except ValueError:
        raise ObjectStorageError(f"object storage scheme {scheme!r} is not known to fsspec; attach a "
                                 f"filesystem for it with attach({scheme!r}, fs=...)") from None
    except ImportError as exc:
        package = _PACKAGES.get(scheme, "the fsspec implementation for it")
        raise ObjectStorageError(f"object storage scheme {scheme!r} needs {package}, which is not installed: "
                                 f"pip install {package if scheme in _PACKAGES else '...'} ({exc})") from None
    return cls(**{**_connection_options(scheme, conn_id), **options})


def _connection_options(scheme: str, conn_id: str | None) -> dict[str, Any]:
    if scheme in _LOCAL_SCHEMES or scheme == "memory":
        return {}
    if scheme in _S3_SCHEMES:
        return _s3_options(conn_id)
    if not conn_id:
        return {}
    conn = get_connection(conn_id)  # ConnectionNotFound names the id: a named connection must exist
    if scheme in _GCS_SCHEMES:
        return _gcs_options(conn.extra_dejson)
    if scheme in _AZURE_SCHEMES:
        return _azure_options(conn)
    options = dict(conn.extra_dejson)
    if scheme in _HOST_SCHEMES:
        for name, value in (("host", conn.host), ("port", conn.port), ("username", conn.login),
                            ("password", conn.password)):
            if value:
                options.setdefault(name, value)
    return options


def _extra_value(extra: dict[str, Any], name: str, conn_type: str) -> Any:
    """An extra field by its name or by Airflow's older ``extra__<conn_type>__<name>`` form."""
    value = extra.get(name)
    return value if value not in (None, "") else extra.get(f"extra__{conn_type}__{name}")


def _gcs_options(extra: dict[str, Any]) -> dict[str, Any]:
    """gcsfs options from a ``google_cloud_platform`` connection: project, and the key file (a path or
    its JSON) as gcsfs's ``token``; without a key gcsfs uses Google's default credentials."""
    options: dict[str, Any] = {}
    project = _extra_value(extra, "project", "google_cloud_platform")
    if project:
        options["project"] = project
    key_path = _extra_value(extra, "key_path", "google_cloud_platform")
    keyfile = _extra_value(extra, "keyfile_dict", "google_cloud_platform")
    if key_path:
        options["token"] = key_path
    elif keyfile:
        try:
            options["token"] = json.loads(keyfile) if isinstance(keyfile, str) else dict(keyfile)
        except (TypeError, ValueError):
            raise ObjectStorageError("google_cloud_platform connection: extra keyfile_dict is not a JSON "
                                     "object") from None
    return options


def _azure_options(conn: Any) -> dict[str, Any]:
    """adlfs options from a ``wasb``/``adls`` connection: the account (login, else host) and its key
    (password), or the extra's connection string, SAS token or service principal."""
    extra = conn.extra_dejson
    options: dict[str, Any] = {}
    account = conn.login or conn.host
    if account:
        options["account_name"] = account
    for name in ("connection_string", "sas_token", "tenant_id", "client_id", "client_secret", "account_key"):
        value = _extra_value(extra, name, conn.conn_type or "wasb")
        if value:
            options[name] = value
    if conn.password:
        # With a service principal the password is its secret; otherwise it is the account key.
        options.setdefault("client_secret" if "client_id" in options else "account_key", conn.password)
    return options


def _s3_options(conn_id: str | None) -> dict[str, Any]:
    """s3fs options from an aws connection, read the way S3Hook reads it (one reading of the extra)."""
    from tradewind.integrations.s3.hooks import S3Hook

    if conn_id:
        try:
            get_connection(conn_id)
        except ConnectionNotFound:
            conn_id = None  # as S3Hook: boto's own credential chain
    if not conn_id:
        return {}
    settings = S3Hook(aws_conn_id=conn_id)._connection_settings()
    options: dict[str, Any] = {}
    for ours, theirs in (("aws_access_key_id", "key"), ("aws_secret_access_key", "secret"),
                         ("aws_session_token", "token"), ("endpoint_url", "endpoint_url"),
                         ("profile_name", "profile")):
        if settings.get(ours):
            options[theirs] = settings[ours]
    client_kwargs = {name: settings[name] for name in ("region_name", "verify") if settings.get(name) is not None}
    if client_kwargs:
        options["client_kwargs"] = client_kwargs
    if settings.get("config_kwargs"):
        options["config_kwargs"] = dict(settings["config_kwargs"])
    return options


class ObjectStore:
    """One filesystem for one scheme and connection (Airflow's ``airflow.io.store.ObjectStore``).

    ``fs`` is made on first use, so a DAG file that builds paths at import time does not read a
    connection while it is parsed."""

    def __init__(self, protocol: str, conn_id: str | None, fs: Any = None, **kwargs: Any) -> None:
        self.protocol = protocol
        self.conn_id = conn_id
        self.storage_options = kwargs
        self._fs = fs

    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs = get_fs(self.protocol, self.conn_id, self.storage_options)
        return self._fs

    @property
    def fsid(self) -> str:
        """An identifier of the filesystem: the same for stores that reach the same place."""
        fsid = getattr(self.fs, "fsid", None) if self._fs is not None else None
        if isinstance(fsid, str):
            return fsid
        return f"{self.protocol}-{self.conn_id or 'env'}"

    def serialize(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "conn_id": self.conn_id}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectStore) and (self.protocol, self.conn_id) == (other.protocol, other.conn_id) \
            and (self._fs is other._fs or self._fs is None or other._fs is None)

    def __hash__(self) -> int:
        return hash((self.protocol, self.conn_id))

    def __repr__(self) -> str:
        return f"ObjectStore(protocol={self.protocol!r}, conn_id={self.conn_id!r})"


def attach(
    protocol: str | None = None,
    conn_id: str | None = None,
    alias: str | None = None,
    encryption_type: str | None = "",
    fs: Any = None,
    **kwargs: Any,
) -> ObjectStore:
    """The store for ``protocol`` and ``conn_id``, made once per process and shared (Airflow's ``attach``).

    ``fs`` attaches a ready filesystem (its ``protocol`` is used when none is given); ``alias`` also
    files the store under that name; other keyword arguments are fsspec storage options."""
    if encryption_type:
        raise ObjectStorageError(f"attach(encryption_type={encryption_type!r}): encrypted object stores are not "
                                 "supported; configure encryption in the filesystem's storage options")
    if fs is not None and protocol is None:
        fs_protocol = getattr(fs, "protocol", None)
        protocol = fs_protocol[0] if isinstance(fs_protocol, (tuple, list)) else fs_protocol
    if not protocol:
        raise ObjectStorageError("attach() needs a protocol (or an fs= whose protocol it can read)")
    key = (protocol, conn_id)
    with _lock:
        store = _stores.get(alias) if alias else None
        if store is None and fs is None and not kwargs:
            store = _stores.get(key)
        if store is None:
            store = ObjectStore(protocol, conn_id, fs, **kwargs)
            if not kwargs:  # a path's own options make a store for it alone, never the shared one
                _stores[key] = store
        if alias:
            _stores[alias] = store
    return store


def _forget_stores() -> None:
    """Drop every attached store (tests; a forked task starts from the parent's stores otherwise)."""
    with _lock:
        _stores.clear()
