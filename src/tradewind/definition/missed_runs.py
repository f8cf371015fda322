"""The missed-run policy: what the scheduler does with runs whose time has already passed.

A run is *missed* when the scheduler first considers it well after its ``run_after``: the
DAG is new with a start date in the past, the scheduler was down, or the DAG was paused.
Airflow only knows ``catchup`` (all or the latest); Tradewind's ``missed_runs`` DAG argument
names four policies (see ``docs/missed-runs.md``):

- ``"all"``: create every missed run, oldest first (``catchup=True``);
- ``"latest"``: only the most recent missed run (``catchup=False``, the default);
- ``"none"``: none; the next run is the first whose ``run_after`` has not passed yet;
- a ``timedelta`` (or ``MissedRuns.within(...)``): the missed runs whose ``run_after`` lies
  within that window before now.

A run the scheduler sees less than :data:`MISSED_RUN_GRACE` after its ``run_after`` is on
time, never missed: a busy scheduler's small delay must not make ``"none"`` drop runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tradewind.definition.exceptions import InvalidTaskArgumentError

#: How late the scheduler may see a run and still treat it as on time (not missed).
MISSED_RUN_GRACE = timedelta(minutes=1)

ALL = "all"
LATEST = "latest"
NONE = "none"
WINDOW = "window"
_NAMED = (ALL, LATEST, NONE)


@dataclass(frozen=True)
class MissedRuns:
    """One missed-run policy; ``window`` is set only for the ``"window"`` policy."""

    policy: str
    window: timedelta | None = None

    def __post_init__(self) -> None:
        if self.policy in _NAMED:
            if self.window is not None:
                raise InvalidTaskArgumentError(f"missed-run policy {self.policy!r} takes no window")
        elif self.policy == WINDOW:
            if not isinstance(self.window, timedelta) or self.window <= timedelta(0):
                raise InvalidTaskArgumentError(f"a missed-run window must be a positive timedelta, got {self.window!r}")
        else:
            raise InvalidTaskArgumentError(
                f"unknown missed-run policy {self.policy!r}: use 'all', 'latest', 'none' or a timedelta window"
            )

    @classmethod
    def within(cls, window: timedelta) -> "MissedRuns":
        """The missed runs whose ``run_after`` is at most ``window`` before now."""
        return cls(WINDOW, window)

    @property
    def catchup(self) -> bool:
        """The Airflow ``catchup`` value this policy corresponds to (only ``"all"`` catches up)."""
        return self.policy == ALL

    def cutoff_age(self) -> timedelta | None:
        """How old a run's ``run_after`` may be for the run to be created; None: no limit (``all``/``latest``)."""
        if self.policy == NONE:
            return MISSED_RUN_GRACE
        if self.policy == WINDOW:
            return max(self.window, MISSED_RUN_GRACE)  # type: ignore[type-var]
        return None

    def serialize(self) -> str | dict[str, float]:
        """``"all"``/``"latest"``/``"none"`` or ``{"window": seconds}`` (the snapshot form)."""
        if self.policy == WINDOW:
            return {"window": self.window.total_seconds()}  # type: ignore[union-attr]
        return self.policy

    @classmethod
    def deserialize(cls, data: Any, *, catchup: bool) -> "MissedRuns":
        """Inverse of :meth:`serialize`; None (snapshots from before this field) follows ``catchup``."""
        if data is None:
            return cls(ALL if catchup else LATEST)
        if isinstance(data, dict):
            return cls.within(timedelta(seconds=data["window"]))
        return cls(data)

    def __str__(self) -> str:
        return f"window {self.window}" if self.policy == WINDOW else self.policy


def resolve_missed_runs(missed_runs: Any, catchup: bool | None, *, dag_id: str) -> MissedRuns:
    """The DAG's policy from its ``missed_runs`` and ``catchup`` arguments (None: not given).

    ``catchup=True`` means ``"all"`` and ``catchup=False`` ``"latest"``; given together, they must
    agree (``catchup=False`` agrees with every policy but ``"all"``), else a clear error.
    """
    where = f"DAG {dag_id!r}"
    if missed_runs is None:
        return MissedRuns(ALL if catchup else LATEST)
    if isinstance(missed_runs, MissedRuns):
        policy = missed_runs
    elif isinstance(missed_runs, timedelta):
        try:
            policy = MissedRuns.within(missed_runs)
        except InvalidTaskArgumentError as exc:
            raise InvalidTaskArgumentError(f"{where}: missed_runs: {exc}") from None
    elif isinstance(missed_runs, str) and missed_runs.strip().lower() in _NAMED:
        policy = MissedRuns(missed_runs.strip().lower())
    else:
        raise InvalidTaskArgumentError(
            f"{where}: missed_runs must be 'all', 'latest', 'none', a timedelta window or a MissedRuns, "
            f"got {missed_runs!r}"
        )
    if catchup is not None and bool(catchup) != policy.catchup:
        raise InvalidTaskArgumentError(
            f"{where}: catchup={catchup!r} contradicts missed_runs={str(policy)!r} "
            f"(catchup=True means missed_runs='all'); pass only missed_runs"
        )
    return policy
