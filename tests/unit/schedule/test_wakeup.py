"""Cross-process scheduler wake-ups: a notification wakes a listening scheduler's loop;
without a listener notifying is a harmless no-op."""

from __future__ import annotations

import subprocess
import sys

from tradewind.schedule.executor_interface import Waker
from tradewind.schedule.wakeup import WakeListener, notify_scheduler


def test_notify_wakes_a_listener(any_db) -> None:
    waker = Waker()
    listener = WakeListener(any_db, waker)
    assert listener.start() and listener.listening
    try:
        assert not waker.wait(0)
        assert notify_scheduler(any_db)
        assert waker.wait(30)
        assert notify_scheduler(any_db)  # and again: each notification wakes it
        assert waker.wait(30)
    finally:
        listener.close()
    assert not listener.listening


def test_notify_from_another_process_wakes_the_listener(db) -> None:
    waker = Waker()
    listener = WakeListener(db, waker)
    assert listener.start()
    try:
        code = ("import sys; from tradewind.persist.db import Database; "
                "from tradewind.schedule.wakeup import notify_scheduler; "
                "sys.exit(0 if notify_scheduler(Database.from_url(sys.argv[1])) else 1)")
        done = subprocess.run([sys.executable, "-c", code, str(db.engine.url)], timeout=60)
        assert done.returncode == 0
        assert waker.wait(30)
    finally:
        listener.close()


def test_notify_without_listener_is_a_quiet_no_op(db) -> None:
    assert notify_scheduler(db) is False


def test_second_listener_on_one_sqlite_database_backs_off(db) -> None:
    first, second = WakeListener(db, Waker()), WakeListener(db, Waker())
    assert first.start()
    try:
        assert not second.start()
        assert not second.listening
    finally:
        first.close()
        second.close()
    third = WakeListener(db, Waker())  # the address is free again after close
    assert third.start()
    third.close()


def test_scheduler_listens_while_it_runs_forever(config, db) -> None:
    import threading
    import time

    from schedhelp import SteppingExecutor

    from tradewind.schedule.scheduler import Scheduler

    executor = SteppingExecutor(db)
    scheduler = Scheduler(config, db, executor)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not notify_scheduler(db):  # the listener is up once the loop has started
            assert time.monotonic() < deadline, "the scheduler never listened for wake-ups"
            time.sleep(0.05)
    finally:
        stop.set()
        executor.waker.wake()
        thread.join(30)
    assert not thread.is_alive()
    assert notify_scheduler(db) is False  # it stopped listening when it stopped
