"""Run one try in a process of its own with the metadata database as its store.

    python -m tradewind.execute.local_try --workload '<Workload JSON>'

The server side's twin of ``python -m tradewind.execute.runner`` (which runs a try through the
execution API and never opens the database): same runner, same exit codes
(:mod:`tradewind.workloads`), but a :class:`~tradewind.execute.db_store.DbTryStore` on the
database of ``[database]`` (from the workload's ``environ`` or this process's environment).
"""

from __future__ import annotations

import sys

from tradewind.execute.runner import run_in_try_process, workload_from_argv


def main(argv: list[str] | None = None) -> int:
    workload = workload_from_argv("python -m tradewind.execute.local_try", argv)
    if isinstance(workload, int):
        return workload
    from tradewind.config import Config
    from tradewind.execute.db_store import DbTryStore
    from tradewind.persist.db import Database

    config = Config.load()
    db = Database.from_config(config)
    try:
        return run_in_try_process(workload, config=config, store=DbTryStore(db, config))
    finally:
        db.engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
