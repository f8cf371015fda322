"""A real ``tradewind api-server`` process on a given database, for tests of the execution API.

:func:`start_api_server` migrates the database, starts the server on a free port with that
database and its own ``TRADEWIND_HOME`` and waits for ``/api/v1/health``; the returned
:class:`RunningApiServer` carries the :class:`Config` and :class:`Database` the test uses to set
up data and to issue try tokens (same home, so the same API secret key). :func:`stop_api_server`
stops it (SIGTERM, then SIGKILL) and disposes of the test's engine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from service_support import free_port, stop_process
from tradewind.config import Config
from tradewind.persist.db import Database

TRADEWIND = str(Path(sys.executable).parent / "tradewind")


@dataclass
class RunningApiServer:
    config: Config
    db: Database
    url: str
    proc: subprocess.Popen[str]

    @property
    def execution_url(self) -> str:
        """What ``[core] execution_api_server_url`` of a worker names."""
        return f"{self.url}/execution/"


def start_api_server(home: Path, database_url: str, *, deadline: float = 60.0) -> RunningApiServer:
    (home / "dags").mkdir(parents=True, exist_ok=True)
    config = Config.load(home=home, environ={}, overrides={"core": {"load_examples": "False"},
                                                            "database": {"url": database_url}})
    config.ensure_home()
    db = Database.from_config(config)
    from tradewind.persist.migrate import upgrade

    upgrade(db, default_pool_slots=128)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND")}
    env.update({"TRADEWIND_HOME": str(home), "TRADEWIND__DATABASE__URL": database_url,
                "TRADEWIND__API__PORT": str(port), "TRADEWIND__API__HOST": "127.0.0.1",
                "TRADEWIND__CORE__LOAD_EXAMPLES": "False"})
    log = home / "api-server.log"  # a file, not a pipe nobody reads (a full pipe would block the server)
    with open(log, "w") as out:
        proc = subprocess.Popen([TRADEWIND, "api-server"], env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    end = time.monotonic() + deadline
    while True:
        if proc.poll() is not None:
            db.engine.dispose()
            raise AssertionError(f"the API server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > end:
            stop_process(proc, timeout=10)
            db.engine.dispose()
            raise AssertionError(f"the API server did not answer /api/v1/health within {deadline:.0f} s")
        time.sleep(0.1)
    return RunningApiServer(config=config, db=db, url=base, proc=proc)


def stop_api_server(server: RunningApiServer) -> None:
    stop_process(server.proc, timeout=30)
    server.db.engine.dispose()
