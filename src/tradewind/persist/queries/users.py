"""API/UI users (table ``ab_user``): create, find, list, delete, change passwords, check logins.

Passwords are stored only as argon2id hashes (``argon2-cffi``'s defaults, re-hashed on login
when those defaults get stronger). Roles are Airflow's four: :data:`VALID_ROLES`, weakest first;
what each may do is the API's business (``observe/api/auth.py``), not the database's.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.persist.models import User

#: Airflow's default roles, weakest first (the API's ``Role`` enum has the same values).
VALID_ROLES: tuple[str, ...] = ("viewer", "user", "op", "admin")
USERNAME_MAX_LEN = 512


class UserError(ValueError):
    """A user cannot be created or changed as asked; the message says why."""


class UserExistsError(UserError):
    """``create_user`` with a username that is taken."""


class UserNotFoundError(UserError):
    """An action on a username that has no user."""


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (with its own random salt)."""
    if not isinstance(password, str) or password == "":
        raise UserError("the password must not be empty")
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches the stored hash; False for a wrong password or a broken hash."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("tradewind-no-such-user")


def normalise_role(role: str) -> str:
    """``Admin``/``admin`` -> ``admin``; UserError naming the valid roles otherwise."""
    value = str(role).strip().lower()
    if value not in VALID_ROLES:
        raise UserError(f"unknown role {role!r}; valid roles: {', '.join(VALID_ROLES)}")
    return value


def validate_username(username: str) -> str:
    """The username if it is usable: 1-512 printable characters without spaces."""
    if not isinstance(username, str) or not username:
        raise UserError("the username must not be empty")
    if len(username) > USERNAME_MAX_LEN:
        raise UserError(f"the username is longer than {USERNAME_MAX_LEN} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in username):
        raise UserError(f"the username {username!r} contains spaces or control characters")
    return username


def get_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def count_users(session: Session, *, role: str | None = None) -> int:
    query = select(func.count()).select_from(User)
    if role is not None:
        query = query.where(User.role == role)
    return int(session.scalar(query) or 0)


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    now: datetime,
    email: str | None = None,
    first_name: str = "",
    last_name: str = "",
    active: bool = True,
) -> User:
    """Add a user; UserExistsError when the username is taken, UserError for bad input."""
    validate_username(username)
    role = normalise_role(role)
    if get_user(session, username) is not None:
        raise UserExistsError(f"user {username!r} already exists")
    user = User(
        username=username,
        email=email or None,
        first_name=first_name or "",
        last_name=last_name or "",
        role=role,
        password_hash=hash_password(password),
        active=active,
        created_at=now,
        login_count=0,
        fail_login_count=0,
    )
    session.add(user)
    session.flush()
    return user


def _existing(session: Session, username: str) -> User:
    user = get_user(session, username)
    if user is None:
        raise UserNotFoundError(f"user {username!r} does not exist")
    return user


def delete_user(session: Session, username: str) -> None:
    """Remove a user (its tokens stop working); UserNotFoundError when there is none."""
    session.delete(_existing(session, username))
    session.flush()


def set_password(session: Session, username: str, password: str) -> User:
    """Replace a user's password (its older tokens stop working); UserNotFoundError when missing."""
    user = _existing(session, username)
    user.password_hash = hash_password(password)
    session.flush()
    return user


def set_active(session: Session, username: str, active: bool) -> User:
    user = _existing(session, username)
    user.active = active
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str, *, now: datetime) -> User | None:
    """The active user whose password matches, counting the login; None otherwise.

    A missing user is checked against a dummy hash so the answer takes as long as for a real one
    (timing does not reveal which usernames exist). Failures are counted on the user row.
    """
    user = get_user(session, username) if isinstance(username, str) and username else None
    if user is None:
        verify_password(_dummy_hash(), password or "")
        return None
    if not verify_password(user.password_hash, password or "") or not user.active:
        user.fail_login_count = (user.fail_login_count or 0) + 1
        session.flush()
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = _hasher().hash(password)
    user.last_login = now
    user.login_count = (user.login_count or 0) + 1
    session.flush()
    return user


def user_dict(user: User) -> dict[str, Any]:
    """A user as plain data for listings (never the hash)."""
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email or "",
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "active": bool(user.active),
        "created_at": user.created_at.isoformat() if user.created_at else None,
        "last_login": user.last_login.isoformat() if user.last_login else None,
    }
