"""XCom values beyond plain JSON: the types Airflow's serde carries, in a JSON envelope of our own.

A value made only of JSON types (``str``, ``int``, ``float``, ``bool``, ``None``, lists and
dicts) is stored exactly as before this module existed: its JSON text, nothing added. Anything
else that Airflow's ``airflow.serialization.serde`` round-trips is stored as an *envelope*, a
JSON object that names the type and keeps the data readable in the UI and the API::

    {"__tradewind_type__": "tuple", "__version__": 1, "value": [1, 2]}
    {"__tradewind_type__": "pandas.DataFrame", "__version__": 1, "value": {"schema": ..., "data": [...]}}

and comes back, on ``xcom_pull`` (and mapped-task expansion), as the type Airflow returns:

========================================  =========================================================
pushed                                    pulled
========================================  =========================================================
tuple (and namedtuple), set, frozenset    tuple, set, frozenset (a namedtuple as a plain tuple)
datetime.datetime / date / timedelta      the same type (aware datetimes keep their zone)
pendulum DateTime                         pendulum DateTime
decimal.Decimal                           Decimal (exact: kept as its text, where Airflow uses a float)
numpy scalars (int*, uint*, float*,       the same numpy scalar type (a float64 nested in plain
bool_, complex*)                          JSON is a float, as it always was here: it is one)
pandas.DataFrame                          DataFrame (JSON "table" orient: index and dtypes kept)
dataclasses, attrs classes                the class, rebuilt from its ``init`` fields (nested too)
pydantic models                           the model (``model_validate`` of ``model_dump(mode="json")``)
objects with ``serialize()`` and a        ``cls.deserialize(data, version)`` (Airflow's protocol)
classmethod ``deserialize(data, version)``
========================================  =========================================================

Beyond Airflow's list (each harmless and common in DAG files): ``uuid.UUID``, ``pathlib`` paths
and numpy arrays of numbers, booleans or strings. Anything else fails with
:class:`XComNotSerializable` naming the type, the task, the key and where in the value it sits.
A plain dict that itself holds the ``__tradewind_type__`` key is refused too (it would be read
back as an envelope), as Airflow refuses its own reserved keys.

Pure Python, imported by the worker side (runtime), the definition layer (mapping) and anyone
reading stored XComs; heavy libraries (pandas, numpy, pendulum) are imported only when a value
needs them.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any

from tradewind.definition.exceptions import XComNotSerializable

__all__ = ["TYPE_KEY", "decode_xcom", "encode_xcom", "is_envelope", "serialize_xcom", "serialize_xcom_with_copy"]

TYPE_KEY = "__tradewind_type__"
VERSION_KEY = "__version__"
VALUE_KEY = "value"
_VERSION = 1


class _Refused(Exception):
    """A value the encoder cannot carry; ``where`` is its position inside the pushed value."""

    def __init__(self, kind: str, where: str, why: str = "") -> None:
        super().__init__(kind)
        self.kind, self.where, self.why = kind, where, why


def serialize_xcom(value: Any, *, dag_id: str, task_id: str, key: str) -> str:
    """JSON text of an XCom value (see the module docstring), or :class:`XComNotSerializable`."""
    return serialize_xcom_with_copy(value, dag_id=dag_id, task_id=task_id, key=key)[0]


def serialize_xcom_with_copy(value: Any, *, dag_id: str, task_id: str, key: str) -> tuple[str, Any]:
    """(JSON text, that text decoded): the stored form and a copy of it user code cannot mutate."""
    if not _is_numpy(value):
        # Fast path, all in C: JSON that reads back equal is plain JSON, stored exactly as always
        # (a tuple reads back as a list, which is not equal, so it takes the typed path below).
        try:
            text = json.dumps(value, allow_nan=False, ensure_ascii=False)
            copy = json.loads(text)
            if TYPE_KEY not in text and copy == value:
                return text, copy
        except (TypeError, ValueError, RecursionError):
            pass
    try:
        text = json.dumps(encode_xcom(value), allow_nan=False, ensure_ascii=False)
        return text, json.loads(text)
    except _Refused as exc:
        where = f" at {exc.where}" if exc.where else ""
        why = f" ({exc.why})" if exc.why else ""
        raise XComNotSerializable(
            f"task {dag_id}.{task_id}: XCom {key!r} value of type {exc.kind}{where} cannot be stored{why}; "
            "XCom carries JSON values and the types Airflow serialises (tuple, set, frozenset, datetime, date, "
            "timedelta, pendulum DateTime, Decimal, UUID, Path, numpy scalars and arrays, pandas DataFrame, "
            "dataclasses, attrs classes, pydantic models), or set do_xcom_push=False"
        ) from None
    except (TypeError, ValueError) as exc:
        raise XComNotSerializable(
            f"task {dag_id}.{task_id}: XCom {key!r} value of type {type(value).__name__} is not JSON-serialisable "
            f"({exc}), or set do_xcom_push=False"
        ) from None


# ------------------------------------------------------------------------------- encoding
_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})


def encode_xcom(value: Any) -> Any:
    """``value`` as JSON-ready Python objects: plain JSON unchanged, other types as envelopes.

    The common case (plain JSON) is checked by exact type first and no path is kept while
    walking; where a refused value sits is worked out only when one is found.
    """
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return value
    if kind is list:
        return _encode_items(value)
    if kind is dict:
        return _encode_dict(value)
    if isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, float)) and not _is_numpy(value):
        return value  # int/float subclasses (IntEnum, IntFlag) are stored as their value, like json does
    if isinstance(value, list):
        return _encode_items(value)
    if isinstance(value, dict):
        return _encode_dict(value)
    encoder = _encoder_for(value)
    if encoder is None:
        raise _Refused(_type_name(kind), "")
    name, data = encoder(value)
    return {TYPE_KEY: name, VERSION_KEY: _VERSION, VALUE_KEY: data}


def _encode_items(items: Any) -> list[Any]:
    try:
        return [encode_xcom(v) for v in items]
    except _Refused:
        pass
    for index, item in enumerate(items):  # the slow path, only to say where the refused value is
        try:
            encode_xcom(item)
        except _Refused as exc:
            exc.where = f"[{index}]{exc.where}"
            raise
    raise AssertionError("unreachable: an item was refused, then accepted")  # pragma: no cover


def _encode_fields(obj: Any, names: list[str]) -> dict[str, Any]:
    out = {}
    for name in names:
        try:
            out[name] = encode_xcom(getattr(obj, name))
        except _Refused as exc:
            exc.where = f".{name}{exc.where}"
            raise
    return out


def _encode_dict(value: dict[Any, Any]) -> dict[Any, Any]:
    if TYPE_KEY in value:
        raise _Refused("dict", "", f"its key {TYPE_KEY!r} is reserved for typed XCom values")
    out: dict[Any, Any] = {}
    for k, v in value.items():
        # Non-string keys that JSON turns into strings (as it always did) stay allowed.
        if type(k) is not str and (not (k is None or isinstance(k, (str, int, float, bool))) or _is_numpy(k)):
            raise _Refused(f"dict key {_type_name(type(k))}", "", "dict keys must be strings or numbers")
        try:
            out[k] = encode_xcom(v)
        except _Refused as exc:
            exc.where = f"[{k!r}]{exc.where}"
            raise
    return out


def _is_numpy(value: Any) -> bool:
    return type(value).__module__ == "numpy"


def _type_name(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _encoder_for(value: Any) -> Callable[[Any], tuple[str, Any]] | None:
    if isinstance(value, tuple):
        return _encode_collection
    if isinstance(value, (set, frozenset)):
        return _encode_collection
    if isinstance(value, (datetime, date, timedelta)):
        return _encode_time
    if isinstance(value, Decimal):
        return lambda v: ("decimal.Decimal", str(v))
    if isinstance(value, uuid.UUID):
        return lambda v: ("uuid.UUID", str(v))
    if isinstance(value, PurePath):
        return lambda v: ("pathlib." + ("PurePath" if type(v).__name__.startswith("Pure") else "Path"), str(v))
    if _is_numpy(value):
        return _encode_numpy
    if _is_dataframe(value):
        return _encode_dataframe
    if isinstance(value, Enum):
        return None  # plain Enums: Airflow refuses them too (str/int enums were handled as values)
    return _object_encoder(value)


def _encode_collection(value: Any) -> tuple[str, Any]:
    # A namedtuple comes back as a plain tuple, as in Airflow.
    kind = "tuple" if isinstance(value, tuple) else "frozenset" if isinstance(value, frozenset) else "set"
    items = list(value)
    if kind in ("set", "frozenset"):
        try:
            items = sorted(items)  # a stable order, so the stored text does not vary between runs
        except TypeError:
            pass
    return kind, _encode_items(items)


def _zone_name(tzinfo: Any) -> str | None:
    # Named zones (zoneinfo's key, pendulum's name) are kept so DST rules survive; a fixed
    # offset is already in the ISO text.
    name = getattr(tzinfo, "key", None) or getattr(tzinfo, "name", None)
    if isinstance(name, str) and ("/" in name or name == "UTC"):
        return name
    return None


def _encode_time(value: Any) -> tuple[str, Any]:
    if isinstance(value, datetime):
        kind = "pendulum.DateTime" if type(value).__module__.startswith("pendulum") else "datetime.datetime"
        data: dict[str, Any] = {"iso": value.isoformat()}
        zone = _zone_name(value.tzinfo) if value.tzinfo is not None else None
        if zone:
            data["tz"] = zone
        return kind, data
    if isinstance(value, date):
        return "datetime.date", value.isoformat()
    return "datetime.timedelta", value.total_seconds()


def _encode_numpy(value: Any) -> tuple[str, Any]:
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufcUS?":
            raise _Refused(f"numpy.ndarray of dtype {value.dtype}", "", "only arrays of numbers, booleans or "
                           "strings can be stored")
        if value.dtype.kind == "c":
            items: Any = np.stack([value.real, value.imag], axis=-1).tolist()
        else:
            items = value.tolist()
        return "numpy.ndarray", {"dtype": value.dtype.str, "shape": list(value.shape), "data": items}
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":
        scalar = value.item()
        data = [scalar.real, scalar.imag] if isinstance(scalar, complex) else scalar
        if isinstance(data, float) and data != data or data in (float("inf"), float("-inf")):
            data = repr(float(data))  # JSON has no NaN/inf; the text is parsed back by numpy
        return f"numpy.{type(value).__name__}", data
    raise _Refused(_type_name(type(value)), "")


def _is_dataframe(value: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _encode_dataframe(value: Any) -> tuple[str, Any]:
    try:
        text = value.to_json(orient="table", date_format="iso", date_unit="ns")
    except (ValueError, NotImplementedError) as exc:
        raise _Refused("pandas.DataFrame", "", f"pandas cannot write it as a JSON table: {exc}") from None
    # The table schema names dtypes coarsely (a datetime column's unit, for one, is lost):
    # keep each column's exact dtype beside it and restore it after reading.
    return "pandas.DataFrame", {"table": json.loads(text), "dtypes": [str(d) for d in value.dtypes]}


def _object_encoder(value: Any) -> Callable[[Any], tuple[str, Any]] | None:
    cls = type(value)
    if callable(getattr(value, "serialize", None)) and callable(getattr(cls, "deserialize", None)):
        return lambda v: ("object", {"class": _class_path(cls), "version": getattr(cls, "__version__", 0),
                                     "data": encode_xcom(v.serialize())})
    if dataclasses.is_dataclass(value):
        return lambda v: ("dataclass", {"class": _class_path(cls), "fields": _encode_fields(
            v, [f.name for f in dataclasses.fields(v) if f.init])})
    attrs = sys.modules.get("attr")
    if attrs is not None and attrs.has(cls):
        return lambda v: ("attrs", {"class": _class_path(cls), "fields": _encode_fields(
            v, [a.name for a in attrs.fields(cls) if a.init])})
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return lambda v: ("pydantic", {"class": _class_path(cls), "data": v.model_dump(mode="json")})
    return None


# ------------------------------------------------------------------------------- decoding
def is_envelope(value: Any) -> bool:
    """Whether a JSON-decoded value is one of our typed envelopes."""
    return isinstance(value, dict) and isinstance(value.get(TYPE_KEY), str) and VALUE_KEY in value


def decode_xcom(value: Any) -> Any:
    """The inverse of :func:`encode_xcom` on JSON-decoded data; plain JSON comes back unchanged
    (the very same objects, when nothing in them is typed)."""
    kind = type(value)
    if kind is list:
        for index, item in enumerate(value):
            if type(item) in _PLAIN_SCALARS:
                continue
            decoded = decode_xcom(item)
            if decoded is not item:  # something typed inside: a new list from here on
                return [*value[:index], decoded, *(decode_xcom(v) for v in value[index + 1:])]
        return value
    if kind is dict:
        if is_envelope(value):
            return _decode_envelope(value)
        for key, item in value.items():
            if type(item) in _PLAIN_SCALARS:
                continue
            if decode_xcom(item) is not item:
                return {k: decode_xcom(v) for k, v in value.items()}
        return value
    return value


def _decode_envelope(envelope: dict[str, Any]) -> Any:
    kind = envelope[TYPE_KEY]
    version = envelope.get(VERSION_KEY, _VERSION)
    if not isinstance(version, int) or version > _VERSION:
        raise ValueError(f"XCom value of type {kind} has envelope version {version!r}, newer than this "
                         f"Tradewind reads ({_VERSION})")
    data = envelope[VALUE_KEY]
    decoder = _DECODERS.get(kind)
    if decoder is None and kind.startswith("numpy."):
        decoder = _decode_numpy_scalar
    if decoder is None:
        raise ValueError(f"XCom value has an unknown type {kind!r} (stored by a newer Tradewind?)")
    return decoder(kind, data)


def _decode_datetime(kind: str, data: dict[str, Any]) -> datetime:
    moment = datetime.fromisoformat(data["iso"])
    zone = data.get("tz")
    if kind == "pendulum.DateTime":
        import pendulum

        result = pendulum.instance(moment)
        return result.in_timezone(zone) if zone else result
    if zone:
        from zoneinfo import ZoneInfo

        moment = moment.astimezone(ZoneInfo(zone))
    return moment


def _decode_numpy_scalar(kind: str, data: Any) -> Any:
    import numpy as np

    cls = getattr(np, kind.removeprefix("numpy."), None)
    if not (isinstance(cls, type) and issubclass(cls, np.generic)):
        raise ValueError(f"XCom value has an unknown numpy type {kind!r}")
    if isinstance(data, list):
        return cls(complex(data[0], data[1]))
    return cls(float(data)) if isinstance(data, str) else cls(data)


def _decode_ndarray(kind: str, data: dict[str, Any]) -> Any:
    import numpy as np

    dtype = np.dtype(data["dtype"])
    if dtype.kind == "c":
        pairs = np.array(data["data"], dtype=float)
        array = (pairs[..., 0] + 1j * pairs[..., 1]).astype(dtype) if pairs.size else np.array([], dtype=dtype)
    else:
        array = np.array(data["data"], dtype=dtype)
    return array.reshape(data["shape"])


def _decode_dataframe(kind: str, data: Any) -> Any:
    import io

    import pandas

    frame = pandas.read_json(io.StringIO(json.dumps(data["table"])), orient="table")
    for position, wanted in enumerate(data.get("dtypes") or []):
        if position < frame.shape[1] and str(frame.dtypes.iloc[position]) != wanted:
            try:
                frame.isetitem(position, frame.iloc[:, position].astype(wanted))
            except (TypeError, ValueError):
                pass  # keep what the table schema gave; the values are the same
    return frame


def _import_class(path: str) -> type:
    module_name, _, qualname = path.partition(":")
    module = sys.modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ValueError(f"XCom value of class {path.replace(':', '.')} cannot be read: its module "
                             f"{module_name!r} cannot be imported here ({exc})") from None
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ValueError(f"XCom value of class {path.replace(':', '.')} cannot be read: no such class in "
                             f"module {module_name!r}")
    if not isinstance(target, type):
        raise ValueError(f"XCom value names {path.replace(':', '.')}, which is not a class")
    return target


def _decode_fields(kind: str, data: dict[str, Any]) -> Any:
    cls = _import_class(data["class"])
    ok = dataclasses.is_dataclass(cls) if kind == "dataclass" else sys.modules["attr"].has(cls) \
        if "attr" in sys.modules else False
    if not ok:
        raise ValueError(f"XCom value names {data['class']} as a {kind} class, and it is not one")
    return cls(**{name: decode_xcom(v) for name, v in data["fields"].items()})


def _decode_pydantic(kind: str, data: dict[str, Any]) -> Any:
    cls = _import_class(data["class"])
    if not callable(getattr(cls, "model_validate", None)):
        raise ValueError(f"XCom value names {data['class']} as a pydantic model, and it is not one")
    return cls.model_validate(data["data"])


def _decode_object(kind: str, data: dict[str, Any]) -> Any:
    cls = _import_class(data["class"])
    return cls.deserialize(decode_xcom(data["data"]), data.get("version", 0))  # type: ignore[attr-defined]


def _decode_path(kind: str, data: str) -> Any:
    from pathlib import Path, PurePath

    return PurePath(data) if kind == "pathlib.PurePath" else Path(data)


_DECODERS: dict[str, Callable[[str, Any], Any]] = {
    "tuple": lambda _k, d: tuple(decode_xcom(d)),
    "set": lambda _k, d: set(decode_xcom(d)),
    "frozenset": lambda _k, d: frozenset(decode_xcom(d)),
    "datetime.datetime": _decode_datetime,
    "pendulum.DateTime": _decode_datetime,
    "datetime.date": lambda _k, d: date.fromisoformat(d),
    "datetime.timedelta": lambda _k, d: timedelta(seconds=d),
    "decimal.Decimal": lambda _k, d: Decimal(d),
    "uuid.UUID": lambda _k, d: uuid.UUID(d),
    "pathlib.Path": _decode_path,
    "pathlib.PurePath": _decode_path,
    "numpy.ndarray": _decode_ndarray,
    "pandas.DataFrame": _decode_dataframe,
    "dataclass": _decode_fields,
    "attrs": _decode_fields,
    "pydantic": _decode_pydantic,
    "object": _decode_object,
}
