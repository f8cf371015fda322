"""Connections: how a task reaches an external system (a database, a bucket, an HTTP API).

:class:`Connection` has Airflow's fields and URI form::

    Connection(conn_id="warehouse", uri="postgresql://etl:s3cret@db:5432/sales?sslmode=require")
    Connection(conn_id="s3", conn_type="aws", extra={"endpoint_url": "http://localhost:9000"})

A connection is looked up by id (:meth:`Connection.get`, also ``BaseHook.get_connection``) in this
order: the environment variable ``TRADEWIND_CONN_<ID>`` (then Airflow's ``AIRFLOW_CONN_<ID>``),
holding a URI or a JSON object; then the installed backend — the metadata database in a task
(``tradewind connections add``; passwords and extras encrypted at rest). The definition layer
knows no database: the runner installs the backend with :func:`set_connection_backend`, as it does
for variables.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from tradewind.definition.exceptions import TradewindException
from tradewind.definition.masking import mask_secret

ENV_PREFIX = "TRADEWIND_CONN_"
AIRFLOW_ENV_PREFIX = "AIRFLOW_CONN_"

#: URI schemes whose connection type has another name (Airflow's rules).
_SCHEME_TO_TYPE = {"postgresql": "postgres"}
#: Query parameter carrying a whole JSON extra (Airflow's ``__extra__``).
_EXTRA_PARAM = "__extra__"


class ConnectionNotFound(TradewindException, KeyError):
    """No connection with that id in the environment or the backend (Airflow: AirflowNotFoundException)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "connection not found"


class InvalidConnectionError(TradewindException, ValueError):
    """A connection URI or JSON that cannot be read; the message says what is wrong."""


class Connection:
    """One connection (Airflow's ``airflow.models.Connection`` fields and methods)."""

    def __init__(
        self,
        conn_id: str | None = None,
        conn_type: str | None = None,
        description: str | None = None,
        host: str | None = None,
        login: str | None = None,
        password: str | None = None,
        schema: str | None = None,
        port: int | None = None,
        extra: str | dict[str, Any] | None = None,
        uri: str | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.description = description
        if uri is not None:
            if any(v is not None for v in (conn_type, host, login, password, schema, port, extra)):
                raise InvalidConnectionError(
                    f"connection {conn_id!r}: give either uri or the separate fields, not both")
            parsed = _parse_uri(uri, conn_id)
            conn_type, host, login, password, schema, port, extra = (
                parsed["conn_type"], parsed["host"], parsed["login"], parsed["password"], parsed["schema"],
                parsed["port"], parsed["extra"])
        self.conn_type = conn_type
        self.host = host
        self.login = login
        self.password = password
        self.schema = schema
        self.port = _port(port, conn_id)
        self.extra = _extra_text(extra, conn_id)

    # ------------------------------------------------------------------ accessors
    @property
    def extra_dejson(self) -> dict[str, Any]:
        """The extra as a dict ({} when empty or not a JSON object)."""
        if not self.extra:
            return {}
        try:
            value = json.loads(self.extra)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def get_uri(self) -> str:
        """The URI form (Airflow's): ``type://login:password@host:port/schema?extra``."""
        scheme = (self.conn_type or "").replace("_", "-")
        netloc = ""
        if self.login is not None or self.password is not None:
            netloc = quote(self.login or "", safe="")
            if self.password is not None:
                netloc += ":" + quote(self.password, safe="")
            netloc += "@"
        netloc += quote(self.host or "", safe="")
        if self.port is not None:
            netloc += f":{self.port}"
        uri = f"{scheme}://{netloc}"
        if self.schema:
            uri += "/" + quote(self.schema, safe="")
        extra = self.extra_dejson
        if extra:
            if all(isinstance(v, str) for v in extra.values()):
                uri += "?" + urlencode(extra)
            else:
                uri += "?" + urlencode({_EXTRA_PARAM: json.dumps(extra, sort_keys=True)})
        return uri

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-able values (the ``connections export`` and env-var JSON form)."""
        return {"conn_id": self.conn_id, "conn_type": self.conn_type, "description": self.description,
                "host": self.host, "login": self.login, "password": self.password, "schema": self.schema,
                "port": self.port, "extra": self.extra_dejson or (self.extra or None)}

    def as_json(self) -> str:
        data = self.to_dict()
        data.pop("conn_id")
        return json.dumps({k: v for k, v in data.items() if v is not None}, sort_keys=True)

    @classmethod
    def from_json(cls, value: str, conn_id: str | None = None) -> "Connection":
        try:
            data = json.loads(value)
        except ValueError as exc:
            raise InvalidConnectionError(f"connection {conn_id!r}: not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidConnectionError(f"connection {conn_id!r}: JSON must be an object")
        known = {"conn_type", "description", "host", "login", "password", "schema", "port", "extra"}
        unknown = sorted(set(data) - known - {"conn_id"})
        if unknown:
            raise InvalidConnectionError(f"connection {conn_id!r}: unknown field(s) {', '.join(unknown)}")
        return cls(conn_id=conn_id or data.get("conn_id"), **{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_text(cls, conn_id: str, value: str) -> "Connection":
        """A connection from an environment variable's value: JSON when it starts with ``{``, else a URI."""
        text = value.strip()
        return cls.from_json(text, conn_id) if text.startswith("{") else cls(conn_id=conn_id, uri=text)

    # ------------------------------------------------------------------- lookup
    @classmethod
    def get(cls, conn_id: str) -> "Connection":
        """The connection ``conn_id``: environment first, then the backend; else :class:`ConnectionNotFound`."""
        return get_connection(conn_id)

    get_connection_from_secrets = get  # Airflow's name

    def get_hook(self, *, hook_params: dict[str, Any] | None = None) -> Any:
        """The hook registered for this connection's ``conn_type``, built for this connection
        (Airflow's ``Connection.get_hook``): ``HookClass(**{conn_name_attr: conn_id}, **hook_params)``.

        Which class serves a type is decided by the resolver installed with
        :func:`set_hook_resolver` (:mod:`tradewind.compat` installs it in every process that runs
        DAG code): Tradewind's own hooks, then the installed providers' ``connection-types``.
        """
        if hook_params is not None and not isinstance(hook_params, dict):
            raise TypeError(f"Connection.get_hook: hook_params must be a dict, not {type(hook_params).__name__}")
        if _hook_resolver is None:
            raise TradewindException(
                f"Connection.get_hook({self.conn_id!r}): no hook resolver is installed in this process "
                "(tradewind.compat.install() installs it; DAG-running processes call it)")
        hook_class = _hook_resolver(self.conn_type or "")
        if hook_class is None:
            raise TradewindException(f'Unknown hook type "{self.conn_type}" (connection {self.conn_id!r})')
        attr = getattr(hook_class, "conn_name_attr", None) or "conn_id"
        return hook_class(**{attr: self.conn_id}, **(hook_params or {}))

    def __repr__(self) -> str:
        return f"Connection(conn_id={self.conn_id!r}, conn_type={self.conn_type!r}, host={self.host!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Connection) and self.to_dict() == other.to_dict()


class ConnectionBackend(Protocol):
    """Where connections are stored (the metadata database in a task)."""

    def get(self, conn_id: str) -> Connection | None: ...


_backend: ConnectionBackend | None = None


def set_connection_backend(backend: ConnectionBackend | None) -> ConnectionBackend | None:
    """Install the backend :func:`get_connection` falls back to; returns the previous one."""
    global _backend
    previous, _backend = _backend, backend
    return previous


#: conn_type -> hook class (None when no hook serves that type). The definition layer may not
#: import integrations or compat, so the table lives above it and is installed here.
HookResolver = Callable[[str], "type | None"]
_hook_resolver: HookResolver | None = None


def set_hook_resolver(resolver: HookResolver | None) -> HookResolver | None:
    """Install what :meth:`Connection.get_hook` asks for a conn_type's hook class; returns the previous one."""
    global _hook_resolver
    previous, _hook_resolver = _hook_resolver, resolver
    return previous


def get_connection(conn_id: str) -> Connection:
    """The connection ``conn_id`` (environment, then backend); its secrets are registered for masking."""
    name = conn_id.upper()
    for prefix in (ENV_PREFIX, AIRFLOW_ENV_PREFIX):
        value = os.environ.get(prefix + name)
        if value:
            return _masked(Connection.from_text(conn_id, value))
    if _backend is not None:
        found = _backend.get(conn_id)
        if found is not None:
            return _masked(found)
    raise ConnectionNotFound(
        f"The conn_id `{conn_id}` isn't defined: set {ENV_PREFIX}{name} or add it with "
        f"`tradewind connections add {conn_id} ...`")


# ------------------------------------------------------------------------ helpers
def _masked(conn: Connection) -> Connection:
    """Register the password and secret-looking extra values, so a task log shows ``***`` for them."""
    if conn.password:
        mask_secret(conn.password)
        mask_secret(quote(conn.password, safe=""))  # as it appears inside get_uri()
    extra = conn.extra_dejson
    if extra:
        mask_secret(extra, "extra")
    return conn


def _parse_uri(uri: str, conn_id: str | None) -> dict[str, Any]:
    if uri.count("://") == 2:
        # Airflow's get_uri() writes a host that carries its own protocol (an http connection's
        # "https://api.example.com") as http://https://api.example.com: read it back the same way.
        scheme, _, rest = uri.partition("://")
        protocol, _, tail = rest.partition("://")
        if not protocol or any(ch in protocol for ch in "@:/?"):
            raise InvalidConnectionError(f"connection {conn_id!r}: {uri!r} is not a valid connection URI")
        parsed = _parse_uri(f"{scheme}://{tail}", conn_id)
        parsed["host"] = f"{protocol}://{parsed['host'] or ''}"
        return parsed
    if uri.count("://") > 2:
        raise InvalidConnectionError(f"connection {conn_id!r}: {uri!r} has more than two '://'")
    if "://" not in uri:
        raise InvalidConnectionError(f"connection {conn_id!r}: {uri!r} is not a URI (expected type://...)")
    parts = urlsplit(uri)
    scheme = parts.scheme.replace("-", "_")
    conn_type = _SCHEME_TO_TYPE.get(scheme, scheme)
    if not conn_type:
        raise InvalidConnectionError(f"connection {conn_id!r}: the URI has no scheme (connection type)")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidConnectionError(f"connection {conn_id!r}: bad port in URI: {exc}") from None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if _EXTRA_PARAM in query:
        try:
            extra: Any = json.loads(query.pop(_EXTRA_PARAM))
        except ValueError as exc:
            raise InvalidConnectionError(f"connection {conn_id!r}: {_EXTRA_PARAM} is not JSON: {exc}") from None
        if query:
            raise InvalidConnectionError(f"connection {conn_id!r}: {_EXTRA_PARAM} cannot be mixed with other "
                                         "query parameters")
    else:
        extra = query or None
    return {
        "conn_type": conn_type,
        "host": unquote(parts.hostname) if parts.hostname else None,
        "login": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "schema": unquote(parts.path[1:]) if parts.path and parts.path != "/" else None,
        "port": port,
        "extra": extra,
    }


def _port(port: Any, conn_id: str | None) -> int | None:
    if port in (None, ""):
        return None
    try:
        value = int(port)
    except (TypeError, ValueError):
        raise InvalidConnectionError(f"connection {conn_id!r}: port {port!r} is not a number") from None
    if not 0 < value < 65536:
        raise InvalidConnectionError(f"connection {conn_id!r}: port {value} is out of range 1-65535")
    return value


def _extra_text(extra: str | dict[str, Any] | None, conn_id: str | None) -> str | None:
    if extra is None or extra == "":
        return None
    if isinstance(extra, dict):
        return json.dumps(extra, sort_keys=True)
    if isinstance(extra, str):
        return extra
    raise InvalidConnectionError(f"connection {conn_id!r}: extra must be a JSON string or a dict, "
                                 f"not {type(extra).__name__}")
