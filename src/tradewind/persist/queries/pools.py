"""Pools: named slot budgets that limit how many task instances run at once.

``default_pool`` always exists (created by the migration step) and cannot be
deleted, as in Airflow. Usage counts slots of task instances that are
``running`` or ``queued`` (each weighs its ``pool_slots``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradewind.persist.models import Pool, TaskInstance

DEFAULT_POOL = "default_pool"
DEFAULT_POOL_DESCRIPTION = "Default pool"


class PoolError(ValueError):
    """A pool operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class PoolUsage:
    """A pool with its current usage. ``open_slots`` may be negative when over-committed."""

    pool: str
    slots: int
    description: str | None
    running: int  # slots used by running task instances
    queued: int  # slots used by queued task instances

    @property
    def open_slots(self) -> int:
        return self.slots - self.running - self.queued


def ensure_default_pool(session: Session, slots: int = 128) -> Pool:
    """Create ``default_pool`` with ``slots`` if missing; an existing row is left unchanged."""
    existing = session.get(Pool, DEFAULT_POOL)
    if existing is not None:
        return existing
    try:
        # A savepoint, so losing a race with another process does not spoil the caller's transaction.
        with session.begin_nested():
            pool = Pool(pool=DEFAULT_POOL, slots=slots, description=DEFAULT_POOL_DESCRIPTION)
            session.add(pool)
    except IntegrityError:
        pool = session.get(Pool, DEFAULT_POOL, populate_existing=True)
        assert pool is not None
    return pool


def get_pool(session: Session, name: str) -> Pool | None:
    return session.get(Pool, name)


def _validate(name: str, slots: int) -> None:
    if not name or not name.strip():
        raise PoolError("pool name must not be empty")
    if len(name) > 250:
        raise PoolError(f"pool name {name[:40]!r}... is longer than 250 characters")
    if isinstance(slots, bool) or not isinstance(slots, int):
        raise PoolError(f"pool {name!r}: slots must be an integer, got {slots!r}")
    if slots < 0:
        raise PoolError(f"pool {name!r}: slots must be >= 0, got {slots}")


def set_pool(session: Session, name: str, slots: int, description: str | None = None) -> Pool:
    """Create or update a pool (Airflow's ``pools set``)."""
    _validate(name, slots)
    pool = session.get(Pool, name)
    if pool is None:
        pool = Pool(pool=name, slots=slots, description=description)
        session.add(pool)
    else:
        pool.slots = slots
        pool.description = description
    session.flush()
    return pool


def delete_pool(session: Session, name: str) -> bool:
    """Delete a pool; False if it did not exist. ``default_pool`` cannot be deleted."""
    if name == DEFAULT_POOL:
        raise PoolError("default_pool cannot be deleted (set its slots instead)")
    pool = session.get(Pool, name)
    if pool is None:
        return False
    session.delete(pool)
    session.flush()
    return True


def list_pools(session: Session) -> list[Pool]:
    return list(session.scalars(select(Pool).order_by(Pool.pool)))


def _slots_by_pool_and_state(session: Session, pool: str | None = None) -> dict[tuple[str, str], int]:
    query = (
        select(TaskInstance.pool, TaskInstance.state, func.coalesce(func.sum(TaskInstance.pool_slots), 0))
        .where(TaskInstance.state.in_(("running", "queued")))
        .group_by(TaskInstance.pool, TaskInstance.state)
    )
    if pool is not None:
        query = query.where(TaskInstance.pool == pool)
    return {(p, s): int(n) for p, s, n in session.execute(query)}


def _usage(pool: Pool, used: dict[tuple[str, str], int]) -> PoolUsage:
    return PoolUsage(
        pool=pool.pool,
        slots=pool.slots,
        description=pool.description,
        running=used.get((pool.pool, "running"), 0),
        queued=used.get((pool.pool, "queued"), 0),
    )


def list_pools_with_usage(session: Session) -> list[PoolUsage]:
    """Every pool, by name, with slots used by running and queued task instances."""
    used = _slots_by_pool_and_state(session)
    return [_usage(p, used) for p in list_pools(session)]


def pool_usage(session: Session, name: str) -> PoolUsage | None:
    """One pool's usage, or None if there is no such pool."""
    pool = session.get(Pool, name)
    if pool is None:
        return None
    return _usage(pool, _slots_by_pool_and_state(session, name))
