"""What every ``/api/v2`` resource module shares: the prefix, Airflow 3's list parameters
(``limit``/``offset``, multi-field ``order_by``, ``*_pattern`` and ``*_gte/_gt/_lte/_lt`` filters)
and its collection bodies.

Sessions, lookups that 404, audit and waking the scheduler are those of ``/api/v1``
(:mod:`tradewind.observe.api.routes.common`): both versions read the same rows the same way.
"""

from __future__ import annotations

import binascii
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from fastapi import Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, false, or_
from sqlalchemy import select as select_
from sqlalchemy.orm import Session

from tradewind.observe.api.errors import ApiError, bad_request, not_found
from tradewind.observe.api.pagination import Page
from tradewind.persist.models import DagModel, DagRun, TaskInstance

API_V2 = "/api/v2"

#: Airflow 3's name of the DAG bundle that is the configured DAGs folder: every DAG, run, DAG
#: version and import error here belongs to it (and it has no versions: ``bundle_version`` is null).
BUNDLE_NAME = "dags-folder"


class Model(BaseModel):
    """Base of v2 bodies: attributes of ORM rows read directly; unknown request fields refused
    only where a module says so (Airflow 3 ignores them in most bodies)."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


def page_v2(
    request: Request,
    limit: int | None = Query(None, ge=0, description="Most items to return (default [api] fallback_page_limit, "
                                                       "at most [api] maximum_page_limit)."),
    offset: int = Query(0, ge=0, description="Number of items to skip before the first returned."),
) -> Page:
    """FastAPI dependency: Airflow 3's ``limit``/``offset`` (``limit=0`` answers only ``total_entries``)."""
    config = request.app.state.config
    maximum = config.getint("api", "maximum_page_limit")
    wanted = config.getint("api", "fallback_page_limit") if limit is None else limit
    return Page(limit=max(0, min(wanted, maximum)), offset=offset)


def order_by_query(default: str, allowed: Sequence[str]) -> Any:
    """A ``order_by`` query parameter (repeatable: several fields, ``-`` in front for descending)."""
    return Query([default], description="Attributes to order by, several allowed; prefix '-' for descending. "
                                        f"Supported: {', '.join(allowed)}")


def apply_orders(stmt: Select[Any], order_by: Sequence[str] | None, columns: Mapping[str, Any], default: str,
                 tiebreak: Sequence[Any] = ()) -> Select[Any]:
    """``stmt`` ordered by every field of ``order_by`` in turn (keys of ``columns``), then ``tiebreak``.
    An unknown field is a 400 naming the allowed ones."""
    clauses = []
    fields = [f for value in (order_by or [default]) for f in str(value).split(",") if f.strip()] or [default]
    for raw in fields:
        raw = raw.strip()
        descending = raw.startswith("-")
        name = raw[1:] if descending else raw
        column = columns.get(name)
        if column is None:
            raise bad_request(f"Ordering with '{name}' is disallowed or the attribute does not exist on the model; "
                              f"use one of: {', '.join(sorted(columns))} (prefix '-' for descending)",
                              field="order_by")
        clauses.append(column.desc() if descending else column.asc())
    return stmt.order_by(*clauses, *tiebreak)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_pattern(stmt: Select[Any], column: Any, pattern: str | None) -> Select[Any]:
    """Airflow 3's ``*_pattern``: case-insensitive substring (``%``/``_`` wildcards as SQL's),
    ``|`` between alternatives, ``~`` for everything."""
    if pattern is None or pattern == "" or pattern == "~":
        return stmt
    terms = [t for t in pattern.split("|") if t != ""]
    if not terms:
        return stmt
    if "~" in terms:
        return stmt
    return stmt.where(or_(*(column.ilike(f"%{t}%") for t in terms)))


def filter_prefix(stmt: Select[Any], column: Any, pattern: str | None) -> Select[Any]:
    """Airflow 3's ``*_prefix_pattern``: the value starts with the term (case-sensitive, ``%``
    and ``_`` literal, trailing non-alphanumerics dropped), ``|`` between alternatives."""
    if pattern is None or pattern == "" or pattern == "~":
        return stmt
    terms = []
    for term in pattern.split("|"):
        term = term.rstrip()
        while term and not term[-1].isalnum():
            term = term[:-1]
        if term == "~":
            return stmt
        if term:
            terms.append(term)
    if not terms:
        return stmt.where(false())
    return stmt.where(or_(*(column.like(f"{_like_escape(t)}%", escape="\\") for t in terms)))


def filter_name(stmt: Select[Any], column: Any, pattern: str | None, prefix: str | None) -> Select[Any]:
    """``stmt`` narrowed by a ``*_pattern`` and a ``*_prefix_pattern`` on the same column (Airflow 3
    pairs them on every name it filters by)."""
    return filter_prefix(filter_pattern(stmt, column, pattern), column, prefix)


def filter_range(stmt: Select[Any], column: Any, *, gte: datetime | float | None = None,
                 gt: datetime | float | None = None, lte: datetime | float | None = None,
                 lt: datetime | float | None = None) -> Select[Any]:
    """Airflow 3's ``<field>_gte``/``_gt``/``_lte``/``_lt`` bounds on one column."""
    if gte is not None:
        stmt = stmt.where(column >= gte)
    if gt is not None:
        stmt = stmt.where(column > gt)
    if lte is not None:
        stmt = stmt.where(column <= lte)
    if lt is not None:
        stmt = stmt.where(column < lt)
    return stmt


def filter_in(stmt: Select[Any], column: Any, values: Sequence[Any] | None) -> Select[Any]:
    """Only rows whose ``column`` is one of ``values`` (no filter when none are given)."""
    if not values:
        return stmt
    return stmt.where(column.in_(list(values)))


# ------------------------------------------------------------------ display names
def dag_display_names(session: Any, dag_ids: Sequence[str]) -> dict[str, str]:
    """dag_id -> ``dag_display_name`` of its latest version (the dag_id when it has none)."""
    from tradewind.persist.queries import dags as dag_queries

    names = {dag_id: dag_id for dag_id in dag_ids}
    names.update(dag_queries.latest_display_names(session, names))
    return names


def task_display_names(session: Any, dag_ids: Sequence[str]) -> dict[tuple[str, str], str]:
    """(dag_id, task_id) -> ``task_display_name`` from each DAG's latest snapshot (tasks missing
    from it are left out: callers fall back to the task_id)."""
    from tradewind.persist.queries import dags as dag_queries

    out: dict[tuple[str, str], str] = {}
    for dag_id in sorted(set(dag_ids)):
        latest = dag_queries.latest_snapshot(session, dag_id)
        if latest is None:
            continue
        for task in latest[1].tasks.values():
            out[(dag_id, task.task_id)] = task.task_display_name or task.task_id
    return out


# ------------------------------------------------------------------ bulk bodies
class BulkActionOnExistence(str, Enum):
    """What a bulk ``create`` does with an entity that already exists."""

    FAIL = "fail"
    SKIP = "skip"
    OVERWRITE = "overwrite"


class BulkActionNotOnExistence(str, Enum):
    """What a bulk ``update``/``delete`` does with an entity that does not exist."""

    FAIL = "fail"
    SKIP = "skip"


EntityT = TypeVar("EntityT", bound=BaseModel)


class BulkCreateAction(BaseModel, Generic[EntityT]):
    model_config = ConfigDict(extra="forbid")

    action: Literal["create"] = Field(description="The action to be performed on the entities.")
    entities: list[EntityT] = Field(description="A list of entities to be created.")
    action_on_existence: BulkActionOnExistence = BulkActionOnExistence.FAIL


class BulkUpdateAction(BaseModel, Generic[EntityT]):
    model_config = ConfigDict(extra="forbid")

    action: Literal["update"] = Field(description="The action to be performed on the entities.")
    entities: list[EntityT] = Field(description="A list of entities to be updated.")
    update_mask: list[str] | None = None
    action_on_non_existence: BulkActionNotOnExistence = BulkActionNotOnExistence.FAIL


class BulkDeleteAction(BaseModel, Generic[EntityT]):
    model_config = ConfigDict(extra="forbid")

    action: Literal["delete"] = Field(description="The action to be performed on the entities.")
    entities: list[str | EntityT] = Field(description="A list of entity id/key or entity objects to be deleted.")
    action_on_non_existence: BulkActionNotOnExistence = BulkActionNotOnExistence.FAIL


class BulkBody(BaseModel, Generic[EntityT]):
    """Airflow 3's bulk body: actions run in order, each reported under its kind in :class:`BulkResponse`."""

    model_config = ConfigDict(extra="forbid")

    actions: list[Annotated[BulkCreateAction[EntityT] | BulkUpdateAction[EntityT] | BulkDeleteAction[EntityT],
                            Field(discriminator="action")]]


class BulkActionResponse(BaseModel):
    """Keys that succeeded and errors (``{"error", "status_code"}``) of one kind of action."""

    success: list[str] = Field(default_factory=list, description="A list of unique id/key representing successful "
                                                                 "operations.")
    errors: list[dict[str, Any]] = Field(default_factory=list, description="A list of errors encountered during the "
                                                                           "operation.")


class BulkResponse(BaseModel):
    """One :class:`BulkActionResponse` per kind of action the request held (None for the others)."""

    create: BulkActionResponse | None = None
    update: BulkActionResponse | None = None
    delete: BulkActionResponse | None = None


@dataclass
class BulkHandler:
    """How one resource's bulk body is applied: each callable works in the given session and raises
    :class:`ApiError` (or ``ValueError``) for an entity it cannot handle."""

    noun: str  #: plural used in messages, e.g. "variables"
    key_name: str  #: the identifying field, e.g. "key"
    key_of: Callable[[Any], str]
    exists: Callable[[Session, str], bool]
    create: Callable[[Session, Any], None]
    update: Callable[[Session, Any, list[str] | None], None]
    delete: Callable[[Session, str], None]


def _bulk_error(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ApiError):
        return {"error": exc.detail, "status_code": exc.status}
    return {"error": str(exc), "status_code": 400}


def _missing_or_existing(session: Session, handler: BulkHandler, keys: list[str], *, existing: bool) -> list[str]:
    return [k for k in keys if handler.exists(session, k) == existing]


def _apply_each(session: Session, keys: list[str], items: list[Any], work: Callable[[Any], None],
                result: BulkActionResponse) -> None:
    """``work`` on each item in its own savepoint: a failing item is an error, the others still apply."""
    for key, item in zip(keys, items):
        try:
            with session.begin_nested():
                work(item)
        except (ApiError, ValueError) as exc:
            result.errors.append(_bulk_error(exc))
        else:
            result.success.append(key)


def _bulk_create(session: Session, handler: BulkHandler, action: BulkCreateAction[Any],
                 result: BulkActionResponse) -> None:
    keys = [handler.key_of(e) for e in action.entities]
    present = _missing_or_existing(session, handler, keys, existing=True)
    policy = action.action_on_existence
    if present and policy == BulkActionOnExistence.FAIL:
        result.errors.append({"error": f"The {handler.noun} with these {handler.key_name}s: {present} already exist.",
                              "status_code": 409})
        return
    chosen = [(k, e) for k, e in zip(keys, action.entities)
              if k not in present or policy == BulkActionOnExistence.OVERWRITE]

    def work(entity: Any) -> None:
        key = handler.key_of(entity)
        if key in present:
            handler.update(session, entity, None)
        else:
            handler.create(session, entity)

    _apply_each(session, [k for k, _ in chosen], [e for _, e in chosen], work, result)


def _bulk_update(session: Session, handler: BulkHandler, action: BulkUpdateAction[Any],
                 result: BulkActionResponse) -> None:
    keys = [handler.key_of(e) for e in action.entities]
    missing = _missing_or_existing(session, handler, keys, existing=False)
    if missing and action.action_on_non_existence == BulkActionNotOnExistence.FAIL:
        result.errors.append({"error": f"The {handler.noun} with these {handler.key_name}s: {missing} were not found.",
                              "status_code": 404})
        return
    chosen = [(k, e) for k, e in zip(keys, action.entities) if k not in missing]
    _apply_each(session, [k for k, _ in chosen], [e for _, e in chosen],
                lambda entity: handler.update(session, entity, action.update_mask), result)


def _bulk_delete(session: Session, handler: BulkHandler, action: BulkDeleteAction[Any],
                 result: BulkActionResponse) -> None:
    keys = [e if isinstance(e, str) else handler.key_of(e) for e in action.entities]
    missing = _missing_or_existing(session, handler, keys, existing=False)
    if missing and action.action_on_non_existence == BulkActionNotOnExistence.FAIL:
        result.errors.append({"error": f"The {handler.noun} with these {handler.key_name}s: {missing} were not found.",
                              "status_code": 404})
        return
    chosen = [k for k in keys if k not in missing]
    _apply_each(session, chosen, chosen, lambda key: handler.delete(session, key), result)


def run_bulk(session: Session, body: BulkBody[Any], handler: BulkHandler) -> BulkResponse:
    """Apply every action of ``body`` in order. An action whose policy is ``fail`` and that meets
    existing (create) or missing (update/delete) entities changes nothing and reports one error
    naming them; otherwise each entity is applied on its own and reported as a success or an error."""
    response = BulkResponse()
    for action in body.actions:
        result = getattr(response, action.action) or BulkActionResponse()
        setattr(response, action.action, result)
        if isinstance(action, BulkCreateAction):
            _bulk_create(session, handler, action, result)
        elif isinstance(action, BulkUpdateAction):
            _bulk_update(session, handler, action, result)
        else:
            _bulk_delete(session, handler, action, result)
    return response


# ------------------------------------------------------------------ shared by dag runs, task instances, versions
def row_uuid(kind: str, row_id: int) -> UUID:
    """A stable UUID for an integer primary key where Airflow 3 has a UUID (task instances).
    ``kind`` (the table) keeps the UUIDs of different tables apart. (DAG versions use
    :func:`tradewind.observe.api.v2.dag_versions.version_uuid`.)"""
    return uuid5(NAMESPACE_URL, f"tradewind:{kind}:{row_id}")


def dag_or_404_v2(session: Session, dag_id: str) -> DagModel:
    """The DAG, or Airflow 3's 404 (``The Dag with ID: `x` was not found``)."""
    dag = session.get(DagModel, dag_id)
    if dag is None:
        raise not_found(f"The Dag with ID: `{dag_id}` was not found")
    return dag


def run_or_404_v2(session: Session, dag_id: str, run_id: str) -> DagRun:
    """The run, or Airflow 3's 404 naming both ids."""
    run = session.scalars(select_(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one_or_none()
    if run is None:
        raise not_found(f"The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was not found")
    return run


def ti_or_404_v2(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskInstance:
    """The task instance, or Airflow 3's 404 naming the four keys."""
    ti = session.scalars(select_(TaskInstance).where(
        TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id,
        TaskInstance.map_index == map_index)).one_or_none()
    if ti is None:
        raise not_found(f"The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: `{task_id}` "
                        f"and map_index: `{map_index}` was not found")
    return ti


def cursor_window(page: Page, cursor: str | None) -> Page:
    """Airflow 3's ``cursor`` pagination on top of limit/offset: a cursor is an opaque token for
    the offset of the page it starts (``""`` is the first page). A token we did not hand out is a
    400 naming ``cursor``."""
    if cursor is None:
        return page
    if cursor == "":
        return Page(limit=page.limit, offset=0)
    try:
        offset = int(urlsafe_b64decode(cursor.encode("ascii")).decode("ascii").removeprefix("offset:"))
    except (ValueError, UnicodeError, binascii.Error):
        raise bad_request(f"cursor {cursor!r} is not one this server handed out (use next_cursor or "
                          "previous_cursor of a previous page, or an empty string for the first)",
                          field="cursor") from None
    if offset < 0:
        raise bad_request(f"cursor {cursor!r} is not one this server handed out", field="cursor")
    return Page(limit=page.limit, offset=offset)


def cursor_links(page: Page, cursor: str | None, total: int) -> dict[str, Any]:
    """``next_cursor``/``previous_cursor`` of a page read with :func:`cursor_window` (nothing when
    the client paged by offset)."""
    if cursor is None:
        return {}

    def token(offset: int) -> str:
        return urlsafe_b64encode(f"offset:{offset}".encode("ascii")).decode("ascii")

    following = page.offset + page.limit
    return {"next_cursor": token(following) if page.limit and following < total else None,
            "previous_cursor": token(max(0, page.offset - page.limit)) if page.offset > 0 else None}


def action_error(exc: Exception) -> ApiError:
    """The API's error for an action's refusal: 404 (not found), 409 (conflict), else 400, naming the field."""
    from tradewind.schedule.action_support import Conflict, NotFound

    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    errors = [{"loc": ["body", *str(e.get("field", "")).split(".")], **e} for e in getattr(exc, "errors", [])]
    return ApiError(status, getattr(exc, "message", str(exc)), title=getattr(exc, "title", None),
                    field=getattr(exc, "field", None), errors=errors or None)


@contextmanager
def acting(request: Request, principal: Any) -> Iterator[tuple[Session, Any]]:
    """A write transaction for :mod:`tradewind.schedule.actions` calls: yields (session, actor),
    turns an action's refusal into the API's error (:func:`action_error`) and, once committed,
    wakes the scheduler if an action asked for it."""
    from tradewind.schedule.action_support import ActionError, Actor, wake_after

    db = request.app.state.db
    try:
        with db.session_scope() as session:
            yield session, Actor(getattr(principal, "username", None), "api")
    except ActionError as exc:
        raise action_error(exc) from None
    wake_after(db, session)


#: ``responses=`` of a route whose success answer is JSON ``null`` (as Airflow 3's are): documents it.
NULL_BODY = {"content": {"application/json": {"schema": {"type": "null"}}}, "description": "null"}
