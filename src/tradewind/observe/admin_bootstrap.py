"""The first ``admin`` of a ``tradewind standalone`` home, so a laptop user can log in at once.

On the first start (no user at all) standalone creates ``admin`` with a generated password,
prints it once and keeps it in ``$TRADEWIND_HOME/standalone_admin_password.txt`` (mode 0600,
as Airflow's standalone does). Later starts only say where that file is. A home whose users
were made with ``tradewind users create`` gets no extra account.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradewind.config import Config

ADMIN_USERNAME = "admin"
PASSWORD_FILE = "standalone_admin_password.txt"


@dataclass(frozen=True)
class AdminBootstrap:
    """What happened: ``password`` is set only when the account was created just now."""

    username: str
    password_file: Path
    password: str | None

    def message(self) -> str:
        if self.password is not None:
            return (f"  login       {self.username} / {self.password}  (shown once; also in {self.password_file})")
        if self.password_file.exists():
            return f"  login       {self.username}, password in {self.password_file}"
        return "  login       with a user from `tradewind users create`"


def write_secret_file(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (0600 from creation, no window with wider rights)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def ensure_admin(config: Config, db: Any) -> AdminBootstrap:
    """Create ``admin`` when the home has no user yet; report where its password lives."""
    from tradewind.persist.db import utcnow
    from tradewind.persist.queries import audit, users

    path = Path(config.home) / PASSWORD_FILE
    with db.session_scope() as session:
        if users.count_users(session) > 0:
            return AdminBootstrap(ADMIN_USERNAME, path, None)
        password = secrets.token_urlsafe(12)
        users.create_user(session, username=ADMIN_USERNAME, password=password, role="admin", now=utcnow(),
                          first_name="Admin")
        audit.record(session, "user.create", "standalone", extra={"username": ADMIN_USERNAME, "role": "admin"},
                     now=utcnow())
        write_secret_file(path, password + "\n")
    return AdminBootstrap(ADMIN_USERNAME, path, password)
