"""UI hardening: author-, user- and log-controlled text never becomes script, every response
carries the security headers, log/code views read only their own files, secrets stay masked.

The page checks walk every GET page route the app has (whoever added it), filled with the ids of
a DAG whose every author-controlled string is an XSS payload, so a new page is covered as soon as
it is registered.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from api_support import Api, make_api, run_to_end, store_dag_file
from ui_support import browser

from tradewind.observe.api.auth import _flat_routes
from tradewind.observe.ui.pages import STATIC_DIR
from tradewind.parse.dagbag import FileParseResult, ImportErrorInfo
from tradewind.persist.queries import dags as dag_queries

SCRIPT = "<script>alert(1)</script>"
ATTR = '"><img src=x onerror=alert(2)>'
PAYLOADS = (SCRIPT, ATTR, "</script><script>alert(3)</script>")
SECRETS = ("hunter2-pw", "s3cr3t-tok", "k3y-123", "conf-pass-9")

DAGS = '''
from tradewind import task

def produce(ti, conf_text, api_key):
    print("log line <script>alert(1)</script> and \\"><img src=x onerror=alert(2)>")
    ti.xcom_push(key="evil", value={"html": "</script><script>alert(3)</script>", "password": "hunter2-pw"})
    ti.xcom_push(key="auth_token", value="s3cr3t-tok")
    return "\\"><img src=x onerror=alert(2)>"

with DAG("xss_dag", start_date=datetime(2024, 1, 1), schedule=None, tags=["<script>alert(1)</script>"],
         description="<script>alert(1)</script>",
         doc_md="# Doc\\n<script>alert(1)</script>\\n[x](javascript:alert(1)) \\"><img src=x onerror=alert(2)>",
         params={"<script>alert(1)</script>": Param("\\"><img src=x onerror=alert(2)>", type="string",
                                                     description="</script><script>alert(3)</script>")}):
    PythonOperator(task_id="produce", python_callable=produce,
                   task_display_name="<script>alert(1)</script>",
                   doc_md="\\"><img src=x onerror=alert(2)>",
                   op_kwargs={"conf_text": "{{ dag_run.conf.get('note', '') }}", "api_key": "k3y-123"})
'''


@pytest.fixture
def api(config, db) -> Api:
    store_dag_file(config, db, "xss_dag", DAGS)
    broken = ImportErrorInfo(str(Path(config.dags_folder) / "broken.py"), 3,
                             f"SyntaxError: {SCRIPT} {ATTR}", f"Traceback\n{SCRIPT}")
    with db.session_scope() as session:
        dag_queries.store_file_results(session, [FileParseResult(broken.filename, dags=[], errors=[broken])],
                                       datetime.now(timezone.utc))
    client = make_api(config, db)
    run = client.post("dags/xss_dag/dagRuns", json={
        "dag_run_id": "r1", "logical_date": "2024-02-01T00:00:00Z",
        "conf": {"note": SCRIPT, "db_password": "conf-pass-9"}})
    assert run.status_code == 200, run.text
    assert run_to_end(config, db, "xss_dag", "r1") == "success"
    for key, value in (("plain_var", ATTR), ("smtp_password", "hunter2-pw")):
        assert client.post("variables", json={"key": key, "value": value, "description": SCRIPT}).status_code == 200
    return client


IDS = {"dag_id": "xss_dag", "run_id": "r1", "dag_run_id": "r1", "task_id": "produce"}


#: The OpenAPI documents and the Swagger UI / ReDoc pages (not UI pages: their own script policy).
API_DOCS = ("/openapi.json", "/docs", "/redoc")


def page_paths(app) -> list[str]:
    """Every GET page of the UI with its path parameters filled from :data:`IDS`."""
    paths = []
    for route in _flat_routes(app.routes):
        path = getattr(route, "path", "")
        if "GET" not in (getattr(route, "methods", None) or ()):
            continue
        if path.startswith(("/api/", "/ui/data/", "/static", "/login", "/logout", "/auth/")) or path == "/":
            continue
        if path == "/favicon.ico":  # the icon, not a page
            continue
        if path in API_DOCS:  # the API's documents and docs pages: test_api_openapi.py checks them and their CSP
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", path)
        if any(n not in IDS for n in names):
            continue
        paths.append(re.sub(r"{(\w+)(?::\w+)?}", lambda m: IDS[m.group(1)], path))
    return paths


def data_paths(app) -> list[str]:
    """Every GET ``/ui/data`` endpoint with its path parameters filled (downloads excluded: the
    test checks the XCom value download on its own)."""
    paths = []
    for route in _flat_routes(app.routes):
        path = getattr(route, "path", "")
        if not path.startswith("/ui/data/") or "GET" not in (getattr(route, "methods", None) or ()):
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", path)
        if any(n not in IDS for n in names) or path.endswith(("/download", "/xcom/value")):
            continue
        paths.append(re.sub(r"{(\w+)(?::\w+)?}", lambda m: IDS[m.group(1)], path))
    return paths


class _Audit(HTMLParser):
    """Collects what could execute in a page: script elements, event-handler attributes, js: URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []
        self.js_urls: list[str] = []
        self.inline_styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts.append(found)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action", "formaction") and value and \
                    value.strip().lower().startswith(("javascript:", "data:text/html")):
                self.js_urls.append(f"<{tag} {name}={value!r}>")
            if name == "style":
                self.inline_styles.append(f"<{tag} style={value!r}>")


def assert_page_is_inert(path: str, response) -> None:
    html = response.text
    for payload in PAYLOADS:
        assert payload not in html, f"{path}: raw {payload!r} in the page"
    audit = _Audit()
    audit.feed(html)
    for script in audit.scripts:
        if "src" in script:
            assert script["src"].startswith("/static/"), f"{path}: script from {script['src']}"
        else:
            assert script.get("type") == "application/json", f"{path}: inline executable script {script}"
    assert not audit.handlers, f"{path}: event handler attributes {audit.handlers}"
    assert not audit.js_urls, f"{path}: script URLs {audit.js_urls}"
    assert not audit.inline_styles, f"{path}: style attributes (blocked by the CSP) {audit.inline_styles}"
    # JSON islands end only at their own closing tag: the payloads' "</script>" is escaped inside.
    for island in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S):
        assert "<" not in island, f"{path}: unescaped '<' in a JSON island"


def assert_security_headers(path: str, response, *, html: bool) -> None:
    headers = response.headers
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, (path, csp)
    assert "default-src 'self'" in csp if html else "default-src 'none'" in csp, (path, csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, (path, csp)
    assert headers.get("x-content-type-options") == "nosniff", path
    assert headers.get("x-frame-options") == "DENY", path


def test_every_page_escapes_author_text_and_sends_security_headers(api) -> None:
    admin = browser(api, "admin")
    paths = page_paths(api.client.app)
    assert "/dags" in paths and "/dags/xss_dag/runs/r1/tasks/produce" in paths
    for path in paths:
        response = admin.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("text/html"), path
        assert_security_headers(path, response, html=True)
        assert_page_is_inert(path, response)
        if path.endswith("/code"):
            continue  # the DAG file itself, as its author wrote it (Airflow shows it too)
        for secret in SECRETS:
            assert secret not in response.text, f"{path}: secret {secret!r} shown"


def test_ui_data_endpoints_mask_secrets_and_are_json(api) -> None:
    admin = browser(api, "admin")
    paths = data_paths(api.client.app)
    assert "/ui/data/dags/xss_dag/runs/r1/tasks/produce/xcom" in paths
    for path in paths:
        response = admin.get(path, params={"run_id": "r1", "dag_run_id": "r1"})  # for endpoints that need one
        assert response.status_code in (200, 304), (path, response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("application/json"), path
        assert_security_headers(path, response, html=False)
        for secret in SECRETS:
            assert secret not in response.text, f"{path}: secret {secret!r} returned"
    download = admin.get("/ui/data/dags/xss_dag/runs/r1/tasks/produce/xcom/value", params={"key": "evil"})
    assert download.status_code == 200 and "attachment" in download.headers.get("content-disposition", "")
    assert not download.headers["content-type"].startswith("text/html")
    assert_security_headers("xcom/value", download, html=False)
    # Author text reaches scripts as JSON strings (shown with textContent), unchanged.
    xcom = admin.get("/ui/data/dags/xss_dag/runs/r1/tasks/produce/xcom").json()
    evil = next(x["value"] for x in xcom["xcom_entries"] if x["key"] == "evil")
    assert "</script><script>alert(3)</script>" in evil and '"password": "***"' in evil


def test_api_and_static_responses_carry_the_headers_too(api) -> None:
    admin = browser(api, "admin")
    checks = {
        "/api/v1/dags": False, "/api/v1/dags/nope": False, "/api/v1/health": False,
        "/static/core.js": False, "/login": True,
        "/api/v1/dags/xss_dag/dagRuns/r1/taskInstances/produce/logs/1": False,
    }
    for path, html in checks.items():
        response = admin.get(path)
        assert_security_headers(path, response, html=html)
    log = admin.get("/api/v1/dags/xss_dag/dagRuns/r1/taskInstances/produce/logs/1",
                    headers={"Accept": "text/plain"})
    assert log.headers["content-type"].startswith("text/plain") and log.headers["x-content-type-options"] == "nosniff"
    assert SCRIPT in log.text  # logs are text, served as text: the browser never renders them as HTML


def test_ui_scripts_never_parse_strings_as_html() -> None:
    """Every UI script builds the DOM with text (tw.el / textContent): no HTML sinks, no eval."""
    sinks = re.compile(r"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|"
                       r"setAttribute\(\s*['\"]on|\.srcdoc|createContextualFragment|DOMParser")
    offenders = []
    for script in sorted(STATIC_DIR.rglob("*.js")):
        if "vendor" in script.parts:
            continue
        for number, line in enumerate(script.read_text().splitlines(), 1):
            if sinks.search(line):
                offenders.append(f"{script.name}:{number}: {line.strip()}")
    assert not offenders, offenders


TRAVERSALS = ("..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%5C..%5Cetc%5Cpasswd",
              "....%2F%2F....%2F%2Fetc", "%252e%252e%252fetc", "..", "%2e%2e")


@pytest.mark.parametrize("bad", TRAVERSALS)
def test_log_and_code_views_refuse_path_traversal(api, bad) -> None:
    admin = browser(api, "admin")
    targets = [
        f"/api/v1/dags/xss_dag/dagRuns/r1/taskInstances/{bad}/logs/1",
        f"/api/v1/dags/xss_dag/dagRuns/{bad}/taskInstances/produce/logs/1",
        f"/api/v1/dags/{bad}/dagRuns/r1/taskInstances/produce/logs/1",
        f"/ui/data/dags/xss_dag/runs/r1/tasks/{bad}/logs/1/download",
        f"/ui/data/dags/xss_dag/runs/{bad}/tasks/produce/logs/1/download",
        f"/ui/data/dags/{bad}/runs/r1/tasks/produce/logs/1/download",
        f"/api/v1/dagSources/{bad}",
        f"/dags/xss_dag/runs/{bad}/tasks/produce",
    ]
    for path in targets:
        response = admin.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert "root:" not in response.text and "def produce" not in response.text


def test_run_ids_cannot_steer_log_files_out_of_their_folder(api, config) -> None:
    for run_id in ("../../dag_id=xss_dag/run_id=r1", "a/b", "a\\b", "bad\nline"):
        response = api.post("dags/xss_dag/dagRuns", json={"dag_run_id": run_id})
        assert response.status_code == 422, (run_id, response.text)
        assert response.json()["field"] == "dag_run_id"
    from tradewind.observe.api.routes.logs import owned_log_file
    from tradewind.workloads import TaskKey

    base = Path(config.logs_folder)
    own = owned_log_file(base, TaskKey("xss_dag", "r1", "produce", -1, 1))
    assert own is not None and own.is_file()
    for key in (TaskKey("xss_dag", "../../x", "produce", -1, 1), TaskKey("xss_dag", "r1", "a/../../b", -1, 1),
                TaskKey("xss_dag", "r1", "produce\x00", -1, 1)):
        assert owned_log_file(base, key) is None, key
    # A symlink planted where a try's log would be cannot read a file outside the log folder.
    outside = base.parent / "outside.txt"
    outside.write_text("not a log")
    link = base / "dag_id=xss_dag" / "run_id=r1" / "task_id=produce" / "attempt=9.log"
    link.symlink_to(outside)
    assert owned_log_file(base, TaskKey("xss_dag", "r1", "produce", -1, 9)) is None
