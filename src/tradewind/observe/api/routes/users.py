"""``/api/v1/users``: list, get, create, update (role, password, active, names, email) and delete users.

Airflow's paths and fields: a user has ``username``, ``email``, ``first_name``, ``last_name``,
``active``, ``roles`` (a list of ``{"name": ...}``; Tradewind users have exactly one role, also
given as ``role``), ``created_on``, ``last_login``, ``login_count``, ``failed_login_count``. The
password is write-only and never returned. Admin only (resource ``user``).

Two guards Airflow does not have keep the instance manageable: an admin cannot delete,
deactivate or demote their own account, and the last active admin cannot be removed,
deactivated or demoted (409 in each case).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from tradewind.observe.api import v1_models as m
from tradewind.observe.api.auth import auth_service
from tradewind.observe.api.errors import bad_request, conflict, not_found, unprocessable
from tradewind.observe.api.pagination import Page, apply_order, page_params, paginate
from tradewind.observe.api.routes.common import API, audit, can, masked_fields, now, read, user_of, write
from tradewind.persist.models import User
from tradewind.persist.queries import users as user_queries

router = APIRouter(prefix=API, tags=["User"])

ORDER = {"id": User.id, "username": User.username, "email": User.email, "first_name": User.first_name,
         "last_name": User.last_name, "role": User.role, "created_on": User.created_at,
         "last_login": User.last_login}
#: Fields PATCH may change (Airflow's update_mask names).
PATCHABLE = ("email", "first_name", "last_name", "roles", "role", "password", "active")


class RoleRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class UserBody(BaseModel):
    """``POST /users`` (Airflow's body; ``role`` is accepted as a shorthand for ``roles``)."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=user_queries.USERNAME_MAX_LEN)
    password: str = Field(min_length=1, max_length=4096)
    email: str | None = Field(None, max_length=512)
    first_name: str = Field("", max_length=256)
    last_name: str = Field("", max_length=256)
    roles: list[RoleRef] | None = None
    role: str | None = None
    active: bool = True


class UserPatchBody(BaseModel):
    """``PATCH /users/{username}``: any of the fields; ``update_mask`` limits which are applied."""

    model_config = ConfigDict(extra="forbid")
    username: str | None = None
    password: str | None = Field(None, min_length=1, max_length=4096)
    email: str | None = Field(None, max_length=512)
    first_name: str | None = Field(None, max_length=256)
    last_name: str | None = Field(None, max_length=256)
    roles: list[RoleRef] | None = None
    role: str | None = None
    active: bool | None = None


def user_dict(user: User) -> dict[str, Any]:
    created = user.created_at.isoformat() if user.created_at else None
    return {
        "username": user.username,
        **({"email": user.email} if user.email else {}),  # Airflow 2 leaves out an unset email (never "")
        "first_name": user.first_name or "",
        "last_name": user.last_name or "",
        "active": bool(user.active),
        "role": user.role,
        "roles": [{"name": user.role}],
        "created_on": created,
        "changed_on": created,
        "last_login": user.last_login.isoformat() if user.last_login else None,
        "login_count": user.login_count or 0,
        "failed_login_count": user.fail_login_count or 0,
    }


def _role_of(roles: list[RoleRef] | None, role: str | None) -> str | None:
    """The one role a body names (``roles`` or ``role``); 422 naming the field when it is not usable."""
    if roles is not None and role is not None:
        raise unprocessable("give roles or role, not both", field="role")
    if roles is not None:
        if len(roles) != 1:
            raise unprocessable(f"a user has exactly one role; got {len(roles)}", field="roles")
        role = roles[0].name
    if role is None:
        return None
    try:
        return user_queries.normalise_role(role)
    except user_queries.UserError as exc:
        raise unprocessable(str(exc), field="roles" if roles is not None else "role") from None


def _user_or_404(session: Any, username: str) -> User:
    user = user_queries.get_user(session, username)
    if user is None:
        raise not_found(f"The User with username `{username}` was not found", title="User not found")
    return user


def _active_admins(session: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(User).where(
        User.role == "admin", User.active.is_(True))) or 0)


def _keep_an_admin(session: Any, user: User, principal: Any, doing: str) -> None:
    """409 when ``doing`` would take the caller's own admin rights or the last active admin away."""
    if user.username == user_of(principal):
        raise conflict(f"you cannot {doing} your own account; ask another admin", title="Cannot change yourself")
    if user.role == "admin" and user.active and _active_admins(session) <= 1:
        raise conflict(f"cannot {doing} {user.username!r}: it is the last active admin", title="Last admin")


@router.get("/users", summary="List users", response_model=m.UserCollection, response_model_exclude_unset=True)
def list_users(request: Request, page: Page = Depends(page_params),
               order_by: str | None = Query(None, description="username (default), id, email, role, created_on, "
                                                             "last_login, ...; '-' for descending"),
               _user: Any = can("user", "read")) -> dict[str, Any]:
    stmt = apply_order(select(User), order_by, ORDER, "username", tiebreak=(User.id,))
    with read(request) as session:
        rows, total = paginate(session, stmt, page)
        return {"users": [user_dict(u) for u in rows], "total_entries": total}


@router.get("/users/{username}", summary="Get a user", response_model=m.UserOut, response_model_exclude_unset=True)
def get_user(request: Request, username: str, _user: Any = can("user", "read")) -> dict[str, Any]:
    with read(request) as session:
        return user_dict(_user_or_404(session, username))


@router.post("/users", summary="Create a user", response_model=m.UserOut, response_model_exclude_unset=True)
def create_user(request: Request, body: UserBody, principal: Any = can("user", "create")) -> dict[str, Any]:
    role = _role_of(body.roles, body.role)
    if role is None:
        raise unprocessable("a new user needs a role (roles: [{\"name\": \"viewer\"}] or role)", field="roles")
    with write(request) as session:
        try:
            user = user_queries.create_user(session, username=body.username, password=body.password, role=role,
                                            now=now(), email=body.email, first_name=body.first_name,
                                            last_name=body.last_name, active=body.active)
        except user_queries.UserExistsError as exc:
            raise conflict(str(exc), title="User already exists") from None
        except user_queries.UserError as exc:
            field = "password" if "password" in str(exc) else "username"
            raise unprocessable(str(exc), field=field) from None
        audit(session, principal, "user.create", extra={"username": body.username, "role": role})
        return user_dict(user)


@router.patch("/users/{username}", summary="Update a user (update_mask: email, first_name, last_name, roles, "
                                            "password, active)", response_model=m.UserOut, response_model_exclude_unset=True)
def patch_user(
    request: Request,
    username: str,
    body: UserPatchBody,
    update_mask: list[str] | None = Query(None, description="Fields to update; all given ones when omitted."),
    principal: Any = can("user", "edit"),
) -> dict[str, Any]:
    if body.username is not None and body.username != username:
        raise bad_request(f"users cannot be renamed: username '{body.username}' in the body differs from "
                          f"'{username}' in the path", field="username")
    given = [f for f in PATCHABLE if f in body.model_fields_set]
    fields = masked_fields(update_mask, given, PATCHABLE, ignored={"username"})
    role = _role_of(body.roles if fields & {"roles"} else None, body.role if "role" in fields else None)
    if "password" in fields and not body.password:
        raise bad_request("update_mask names password but the body gives none", field="password")
    if "active" in fields and body.active is None:
        raise bad_request("update_mask names active but the body gives none", field="active")
    with write(request) as session:
        user = _user_or_404(session, username)
        if role is not None and role != user.role and user.role == "admin":
            _keep_an_admin(session, user, principal, "demote")
        if "active" in fields and body.active is False and user.active:
            _keep_an_admin(session, user, principal, "deactivate")
        if role is not None:
            user.role = role
        for name in ("email", "first_name", "last_name"):
            if name in fields:
                value = getattr(body, name)
                setattr(user, name, (value or None) if name == "email" else (value or ""))
        if "active" in fields:
            user.active = bool(body.active)
        if "password" in fields:
            user_queries.set_password(session, username, body.password or "")
        session.flush()
        audit(session, principal, "user.edit", extra={"username": username, "fields": sorted(fields - {"username"})})
        out = user_dict(user)
    auth_service(request).forget_user(username)  # role/password/active changes apply at once here
    return out


@router.delete("/users/{username}", status_code=204, summary="Delete a user")
def delete_user(request: Request, username: str, principal: Any = can("user", "delete")) -> Response:
    with write(request) as session:
        user = _user_or_404(session, username)
        _keep_an_admin(session, user, principal, "delete")
        user_queries.delete_user(session, username)
        audit(session, principal, "user.delete", extra={"username": username})
    auth_service(request).forget_user(username)
    return Response(status_code=204)
