"""Browser tests: Playwright for Python driving Debian's headless ``chromium`` against a real
``tradewind standalone`` (DAG processor, scheduler, local executor and the web server).

Fixtures:

- ``server``: the running standalone on a free localhost port (shared by the worker's browser
  tests and stopped after the last one, with Playwright and chromium: see :class:`_Shared`), with its own
  TRADEWIND_HOME and DAG folder (:data:`DAG_FILES`, including one broken file), an admin made
  with ``tradewind users create``. ``server.url``, ``server.api(method, path, json=...)`` (the REST
  API with the admin's bearer token, for setting up and checking state), ``server.wait_for_run``.
- ``browser``: headless chromium at :func:`chromium_path`.
- ``page`` (function): a fresh browser context already signed in as the admin (the session
  signs in once through the real ``/login`` form and reuses its cookie), with a Playwright trace
  recorded and saved under ``tests/browser/artifacts/`` when the test fails.
- ``anonymous_page`` (function): a fresh context with no session.
- ``screenshot`` (function): ``screenshot(page, name)`` saves ``tests/browser/artifacts/<name>.png``
  (git-ignored).

Every test under ``tests/browser`` is marked ``browser`` and put in the xdist group ``browser``,
so under ``pytest -n 2 --dist loadgroup`` they share one worker, one server and one browser,
and do not fight the other worker for the two cores.

Chromium comes from Debian (``scripts/install-services.sh``; Playwright's own browser download is
not used). ``TRADEWIND_TEST_CHROMIUM`` names another binary. When chromium or the ``playwright``
package is missing the tests are skipped — unless ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_support import (ADMIN, ADMIN_PASSWORD, ARTIFACTS, DAG_FILES, DAG_IDS, HERE, INSTALL_HINT,
                             PAGE_TIMEOUT_MS, Server, chromium_path, login)
from cli_support import TRADEWIND, Home, free_port, wait_for
from service_support import unavailable


def _unavailable(reason: str) -> None:
    unavailable(f"the browser tests cannot run: {reason}")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's loadgroup reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every browser test ``browser`` and keep them in one xdist group (one worker)."""
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item so ``page`` knows whether to save its trace."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class _Shared:
    """The standalone server, Playwright and chromium shared by this worker's browser tests.

    Not session fixtures: they must end as soon as the browser tests are done (see
    :func:`pytest_runtest_teardown`). Playwright's sync API keeps an event loop running in the
    main thread and the server is a child process, both of which would break later tests on the
    same xdist worker (``asyncio.run`` refuses to start, child-process checks see strays).
    """

    server: Server | None = None
    process: subprocess.Popen | None = None
    playwright: Any = None
    chromium: Any = None
    storage_state: dict[str, Any] | None = None

    @classmethod
    def stop(cls) -> None:
        if cls.chromium is not None:
            cls.chromium.close()
        if cls.playwright is not None:
            cls.playwright.stop()
        if cls.process is not None:
            cls.process.send_signal(signal.SIGTERM)
            try:
                cls.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                cls.process.kill()
                cls.process.wait(timeout=10)
        cls.server = cls.process = cls.playwright = cls.chromium = cls.storage_state = None


def _is_browser_test(item: pytest.Item | None) -> bool:
    return item is not None and Path(str(item.path)).parent == Path(__file__).parent


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """After the last browser test of this worker (and its fixtures' teardown), stop the server,
    Playwright and chromium."""
    try:
        return (yield)
    finally:
        if _is_browser_test(item) and not _is_browser_test(nextitem):
            _Shared.stop()


def pytest_sessionfinish(session: pytest.Session) -> None:
    _Shared.stop()  # an interrupted run


def _start_server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    home = Home(tmp_path_factory.mktemp("browser") / "home")
    # Parse new files quickly; the tests never wait on a timer otherwise.
    home.env.update({"TRADEWIND__SCHEDULER__DAG_DIR_LIST_INTERVAL": "1"})
    for name, source in DAG_FILES.items():
        (home.path / "dags" / name).write_text(source)
    home.ok("db", "migrate")
    home.ok("users", "create", "--username", ADMIN, "--password", ADMIN_PASSWORD, "--role", "admin",
            "--email", "admin@example.com", "--firstname", "Browser", "--lastname", "Admin")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "standalone.log"
    with open(log_path, "w") as log:
        _Shared.process = subprocess.Popen(
            [TRADEWIND, "standalone", "--port", str(port), "--host", "127.0.0.1"],
            env=home.env, stdout=log, stderr=subprocess.STDOUT, text=True)
    wait_for(lambda: httpx.get(f"{url}/api/v1/health", timeout=2).json()["scheduler"]["status"] == "healthy",
             deadline=90, interval=0.2, what=f"standalone health (log: {log_path})")
    answer = httpx.post(f"{url}/api/v1/auth/token", json={"username": ADMIN, "password": ADMIN_PASSWORD},
                        timeout=90)  # waits for the full app to be built; minutes on a loaded machine
    assert answer.status_code == 201, answer.text
    srv = Server(home=home, url=url, token=answer.json()["access_token"], process=_Shared.process)

    def parsed() -> bool:
        listed = {d["dag_id"] for d in srv.ok("GET", "dags", params={"limit": 100})["dags"]}
        errors = srv.ok("GET", "importErrors")["total_entries"]
        return set(DAG_IDS) <= listed and errors >= 1

    wait_for(parsed, deadline=60, interval=0.2, what="the DAG processor to parse the browser DAGs")
    return srv


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    if _Shared.server is None:
        try:
            _Shared.server = _start_server(tmp_path_factory)
        except BaseException:
            _Shared.stop()
            raise
    return _Shared.server


@pytest.fixture
def browser() -> Any:
    if _Shared.chromium is None:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            _unavailable("the 'playwright' package is not installed (pip install -e '.[dev]')")
        executable = chromium_path()
        if executable is None:
            _unavailable(f"chromium is not installed; {INSTALL_HINT}")
        from playwright.sync_api import expect

        expect.set_options(timeout=PAGE_TIMEOUT_MS)
        _Shared.playwright = sync_playwright().start()
        _Shared.chromium = _Shared.playwright.chromium.launch(executable_path=executable, headless=True)
    return _Shared.chromium


@pytest.fixture
def admin_storage_state(browser: Any, server: Server) -> dict[str, Any]:
    """Sign in once through the real login form; later contexts reuse the session cookie."""
    if _Shared.storage_state is None:
        context = browser.new_context(base_url=server.url)
        page = context.new_page()
        login(page, ADMIN, ADMIN_PASSWORD)
        _Shared.storage_state = context.storage_state()
        context.close()
    return _Shared.storage_state


def _context_fixture(request: pytest.FixtureRequest, browser: Any, server: Server,
                     storage_state: dict[str, Any] | None) -> Iterator[Any]:
    context = browser.new_context(base_url=server.url, storage_state=storage_state,
                                  viewport={"width": 1400, "height": 900})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    context.tracing.start(screenshots=True, snapshots=True)
    page = context.new_page()
    console_errors: list[str] = []
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    page.console_errors = console_errors
    yield page
    call = getattr(request.node, "report_call", None)
    if call is not None and call.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        trace = ARTIFACTS / f"trace-{request.node.name}.zip"
        context.tracing.stop(path=str(trace))
        page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"), full_page=True)
    else:
        context.tracing.stop()
    context.close()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Any, server: Server,
         admin_storage_state: dict[str, Any]) -> Iterator[Any]:
    """A new tab signed in as the admin; ``page.console_errors`` collects uncaught script errors."""
    yield from _context_fixture(request, browser, server, admin_storage_state)


@pytest.fixture
def anonymous_page(request: pytest.FixtureRequest, browser: Any, server: Server) -> Iterator[Any]:
    """A new tab with no session."""
    yield from _context_fixture(request, browser, server, None)


@pytest.fixture
def screenshot() -> Any:
    """``screenshot(page, name)`` saves a full-page ``tests/browser/artifacts/<name>.png``."""

    def save(page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
