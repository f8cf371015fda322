"""The restart policy of supervised helpers, stepped with an injected clock, and the restart
loop of a helper thread (real threads, no sleeps longer than the policy asks)."""

from __future__ import annotations

import threading

from tradewind.execute.supervision import RestartBackoff, describe_exit, run_restarting
from tradewind.observe.runtime import Services


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_describe_exit():
    assert describe_exit(-9) == "killed by signal SIGKILL (9)"
    assert describe_exit(-15) == "killed by signal SIGTERM (15)"
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(None) == "ended (exit status unknown)"


def test_first_death_restarts_at_once_then_backs_off_and_reports_a_crash_loop():
    clock = Clock()
    backoff = RestartBackoff("DAG processor", first_delay=0.5, max_delay=4, window=60, crash_loop_after=3,
                             clock=clock)
    assert backoff.problem() is None
    assert backoff.died("killed by signal SIGKILL (9)") == 0.0
    assert backoff.problem() == "DAG processor is down: killed by signal SIGKILL (9); restarting"
    backoff.started()
    assert backoff.problem() is None and backoff.restarts == 1
    clock.now += 1
    assert backoff.died("exited with code 1") == 0.5
    backoff.started()
    clock.now += 1
    assert backoff.died("exited with code 1") == 1.0
    backoff.started()
    assert backoff.crash_looping
    assert backoff.problem() == ("DAG processor is crash-looping: died 3 times in the last 60s "
                                 "(last: exited with code 1)")
    for expected in (2.0, 4.0, 4.0):  # capped at max_delay
        clock.now += 1
        assert backoff.died("exited with code 1") == expected
        backoff.started()
    # Healthy again once the deaths age out of the window.
    clock.now += 57  # the 4th-newest death (at +3 s) is 59 s old
    assert backoff.crash_looping
    clock.now += 2  # now only the two newest are within the window
    assert not backoff.crash_looping and backoff.problem() is None
    # Once no death is left in the window, the next one is restarted at once again.
    clock.now += 2
    assert backoff.died("exited with code 1") == 0.0


def test_run_restarting_restarts_a_failing_helper_until_stop():
    stop = threading.Event()
    backoff = RestartBackoff("triggerer", first_delay=0.01, window=60, crash_loop_after=3)
    calls = []

    def helper(event: threading.Event) -> None:
        calls.append(backoff.problem())
        if len(calls) < 4:
            raise RuntimeError(f"boom {len(calls)}")
        event.wait()

    thread = threading.Thread(target=run_restarting, args=(helper, stop, backoff))
    thread.start()
    try:
        deadline = threading.Event()
        while len(calls) < 4 and not deadline.wait(0.01):
            pass
        # The 4th run sees itself reported as crash-looping (3 deaths within the window).
        assert calls[0] is None
        assert calls[3] == ("triggerer is crash-looping: died 3 times in the last 60s "
                            "(last: raised RuntimeError: boom 3)")
        assert backoff.restarts == 3
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_services_restart_helpers_but_stop_everything_when_the_scheduler_fails():
    services = Services()
    backoff = RestartBackoff("triggerer", first_delay=0.01)
    helper_runs = []

    def helper(stop: threading.Event) -> None:
        helper_runs.append(1)
        if len(helper_runs) == 1:
            raise RuntimeError("helper broke")
        stop.wait()

    scheduler_may_fail = threading.Event()

    def scheduler(stop: threading.Event) -> None:
        scheduler_may_fail.wait(5)
        raise RuntimeError("scheduler broke")

    services.add("tradewind-triggerer", helper, restart=backoff)
    services.add("tradewind-scheduler", scheduler)
    services.start()
    while len(helper_runs) < 2 and not services.stop_event.wait(0.01):
        pass
    assert len(helper_runs) == 2 and not services.stop_event.is_set()
    assert services.failed == []
    scheduler_may_fail.set()
    assert services.stop_event.wait(5)
    assert services.join(5) == []
    assert [(name, str(exc)) for name, exc in services.failed] == [("tradewind-scheduler", "scheduler broke")]
