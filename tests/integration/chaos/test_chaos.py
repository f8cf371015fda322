"""Chaos, bounded for CI: seeded random ``kill -9`` of every kind of process on each set-up.

Each set-up gets about ten kills while runs flow, then a drain; every invariant of
``chaos_support`` must hold. The three set-ups run one after the other on one xdist worker
(``xdist_group("chaos")``) and take at most about five minutes together on a 2-core machine.
``bench/chaos.py`` runs the same with 100 kills per set-up and prints the figures.

Replay a failure with the seed from its message: ``TRADEWIND_CHAOS_SEED=<seed> pytest tests/integration/chaos``.
"""

from __future__ import annotations

import pytest
from chaos_support import SETUPS, Chaos, Knobs

pytestmark = [pytest.mark.slow, pytest.mark.chaos, pytest.mark.xdist_group("chaos")]

#: Bounds for CI: 10 kills per set-up (fewer if a set-up's kills take over 50 s: a helper that
#: does not come back costs its whole deadline), short tasks, a drain long enough for retries and
#: heartbeat timeouts (5 s) but not for task_queued_timeout (600 s: a run waiting for it is stuck).
#: Worst case per set-up: ~10 s start + 50 s + one 15 s helper deadline + 30 s drain.
CI_KNOBS = dict(kills=10, gap=(1.0, 2.5), helper_deadline=15.0, drain=30.0, kill_budget=50.0)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("setup", [
    "sqlite-scheduler",
    "sqlite-standalone",
    pytest.param("postgres-2-schedulers", marks=pytest.mark.postgres),
])
def test_chaos(setup, tmp_path, chaos_seed, chaos_postgres_url):
    spec = SETUPS[setup]
    db_url = chaos_postgres_url() if spec.backend == "postgres" else None
    print(f"chaos {setup}: seed {chaos_seed}")
    result = Chaos(spec, tmp_path, seed=chaos_seed, knobs=Knobs(**CI_KNOBS), db_url=db_url, say=print).run()
    print(result.summary())
    assert result.ok, result.report()
