"""How long a good DAG file waits for the database beside hanging ones (issue 11).

Three cases, each timed from the DAG processor's start (or from the new file's creation) until
the good DAG is stored, with the real DAG processor, real parse children and real SQLite:

- ``alone``: one good file in the folder;
- ``beside N hanging``: the good file sorts after N files that never finish importing
  (``while True: pass``), the worst order for it;
- ``added beside N hanging``: a good file written into that folder while the processor runs.

Defaults as shipped: ``[scheduler] parsing_processes`` 2, ``[core] dagbag_import_timeout`` 30.
Prints the median and the range of ``--runs`` runs per case (load average shown: this machine
is shared, so compare figures taken at a similar load).

    .venv/bin/python bench/dag_isolation.py --runs 5 --hanging 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import select

from tradewind.config import Config
from tradewind.persist.db import Database
from tradewind.persist.migrate import upgrade
from tradewind.persist.models import DagModel
from tradewind.schedule.dag_processor import DagProcessor

HANG = "# tradewind dag\nwhile True:\n    pass\n"
GOOD = "from tradewind import DAG\nwith DAG({dag_id!r}, schedule=None) as dag:\n    pass\n"


def _stored(db: Database, dag_id: str) -> bool:
    with db.session_scope() as session:
        return session.scalar(select(DagModel.dag_id).where(DagModel.dag_id == dag_id)) is not None


def _wait_stored(db: Database, dag_id: str, deadline: float = 120.0) -> float:
    start = time.monotonic()
    while not _stored(db, dag_id):
        if time.monotonic() - start > deadline:
            raise SystemExit(f"{dag_id} was not stored within {deadline:g}s")
        time.sleep(0.01)
    return time.monotonic() - start


def one_run(hanging: int, *, add_later: bool) -> float:
    """Seconds until the good DAG is stored (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="tw-bench-iso-") as tmp:
        home = Path(tmp)
        config = Config.load(home=home, environ={}, overrides={"core": {"load_examples": "False"}})
        config.ensure_home()
        dags = Path(config.dag_folders()[0])
        for n in range(hanging):
            (dags / f"a_hang_{n:02d}.py").write_text(HANG)
        if not add_later:
            (dags / "z_good.py").write_text(GOOD.format(dag_id="good"))
        db = Database.from_config(config)
        upgrade(db)
        processor = DagProcessor(config, db)
        stop = threading.Event()
        thread = threading.Thread(target=processor.run_forever, args=(stop,), daemon=True)
        started = time.monotonic()
        thread.start()
        try:
            if add_later:
                time.sleep(1.0)  # the hanging files are all in flight by now
                started = time.monotonic()
                (dags / "z_good.py").write_text(GOOD.format(dag_id="good"))
            _wait_stored(db, "good")
            return time.monotonic() - started
        finally:
            stop.set()
            thread.join(timeout=60)
            db.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hanging", type=int, default=20)
    args = parser.parse_args(argv)
    cases = [("alone", 0, False), (f"beside {args.hanging} hanging", args.hanging, False),
             (f"added beside {args.hanging} hanging", args.hanging, True)]
    print(f"load average before: {os.getloadavg()[0]:.1f} (2-core machine); {args.runs} runs per case")
    for name, hanging, add_later in cases:
        times = [one_run(hanging, add_later=add_later) for _ in range(args.runs)]
        print(f"{name:>28}: median {statistics.median(times):.2f} s  (min {min(times):.2f}, max {max(times):.2f})")
        sys.stdout.flush()
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
