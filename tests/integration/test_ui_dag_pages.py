"""Per-DAG pages (frame, Grid, Runs, Details, Code) rendered by the real app for each role."""

from __future__ import annotations

import os
import re

from api_support import ROLES, store_dag_file


SOURCE = '''
DOC = """
# Loader

Loads **rows**. <script>alert("doc")</script>

[bad link](javascript:alert(1)) and [good link](https://example.com/x)
"""

with DAG("loader", start_date=datetime(2024, 1, 1), schedule="@daily", tags=["etl", "<b>tag</b>"],
         description="Loads <rows>", doc_md=DOC, dag_display_name="Loader <3", max_active_runs=3,
         params={"rows": Param(5, type="integer", minimum=1, description="how many <rows>")}) as dag:
    # a comment with </script><script>alert("code")</script>
    EmptyOperator(task_id="extract") >> EmptyOperator(task_id="load")
'''

VIEWS = ("grid", "runs", "details", "code")


def test_every_view_renders_for_every_role_with_the_frame(api, config, db) -> None:
    store_dag_file(config, db, "loader_file", SOURCE)
    for role in ROLES:
        for view in VIEWS:
            page = api.get(f"/dags/loader/{view}", as_=role)
            assert page.status_code == 200, (role, view, page.text[:300])
            html = page.text
            assert "Loader &lt;3" in html and "@daily" in html
            assert re.search(rf'<a href="/dags/loader/{view}" class="active" aria-current="page">', html)
            for tab in ("Grid", "Graph", "Gantt", "Task Duration", "Task Tries", "Calendar", "Code", "Details", "Runs"):
                assert f">{tab}</a>" in html
            assert '<script src="/static/dag_header.js"></script>' in html
            assert "&lt;b&gt;tag&lt;/b&gt;" in html and "<b>tag</b>" not in html
            assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_header_offers_only_what_the_role_may_do(api, config, db) -> None:
    store_dag_file(config, db, "loader_file", SOURCE)
    viewer = api.get("/dags/loader/grid", as_="viewer").text
    assert 'id="dag-trigger"' not in viewer
    assert re.search(r'id="dag-pause-toggle"[^>]*checked[^>]*disabled', viewer)
    user = api.get("/dags/loader/grid", as_="user").text
    assert 'id="dag-trigger"' in user
    assert re.search(r'id="dag-pause-toggle"[^>]*checked>', user)  # enabled
    data = user.split('id="page-data">', 1)[1].split("</script>", 1)[0]
    assert '"can_edit_runs": true' in data and '"can_trigger": true' in data
    assert '"can_edit_runs": false' in viewer.split('id="page-data">', 1)[1]
    api.patch("dags/loader", json={"is_paused": True}, as_="user")
    paused = api.get("/dags/loader/runs", as_="user").text
    assert re.search(r'id="dag-pause-toggle" aria-label="Active \(unpaused\)">', paused)  # unchecked


def test_pages_need_a_session_or_token_and_unknown_dags_get_a_404_page(api, config, db) -> None:
    store_dag_file(config, db, "loader_file", SOURCE)
    for view in VIEWS:
        response = api.get(f"/dags/loader/{view}", as_=None, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next=/dags/loader/{view}"
        missing = api.get(f"/dags/nope/{view}", as_="viewer")
        assert missing.status_code == 404 and "No DAG with id <code>nope</code>" in missing.text
    home = api.get("/dags/loader", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/dags/loader/grid"
    # A DAG id is never a path: traversal-looking ids are just unknown DAGs.
    assert api.get("/dags/..%2F..%2Fetc%2Fpasswd/code").status_code == 404


def test_details_shows_attributes_params_and_safe_markdown(api, config, db) -> None:
    store_dag_file(config, db, "loader_file", SOURCE)
    html = api.get("/dags/loader/details", as_="viewer").text
    assert "<dt>Max active runs</dt><dd>3</dd>" in html
    assert "<dt>Schedule</dt><dd class=\"mono\">@daily</dd>" in html
    assert "<dt>Catchup</dt><dd>no</dd>" in html
    assert "loader_file.py" in html
    assert '<td class="mono">rows</td>' in html and "how many &lt;rows&gt;" in html
    assert "&#34;minimum&#34;: 1" in html or "&quot;minimum&quot;: 1" in html
    # doc_md: Markdown rendered, raw HTML shown as text, javascript: links not made into links.
    assert "<h1>Loader</h1>" in html and "<strong>rows</strong>" in html
    assert '<script>alert("doc")</script>' not in html and "&lt;script&gt;alert(" in html
    assert 'href="javascript:' not in html and '<a href="https://example.com/x">good link</a>' in html


def test_code_is_highlighted_with_line_numbers_and_escaped(api, config, db) -> None:
    path = store_dag_file(config, db, "loader_file", SOURCE)
    html = api.get("/dags/loader/code", as_="viewer").text
    assert '<link rel="stylesheet" href="/static/pygments.css">' in html
    assert 'class="highlight"' in html and 'href="#L-1"' in html and 'id="L-1"' in html
    assert '</script><script>alert("code")' not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(" in html
    assert "EmptyOperator" in html
    os.remove(path)
    # The version keeps the code it was parsed from: still shown after the file is gone.
    gone = api.get("/dags/loader/code", as_="viewer")
    assert gone.status_code == 200 and "EmptyOperator" in gone.text
    # A version without kept code (stored before code was kept) falls back to the file: gone, so it says so.
    from sqlalchemy import update

    from tradewind.persist.models import DagVersion

    with db.session_scope() as session:
        session.execute(update(DagVersion).where(DagVersion.dag_id == "loader").values(source_hash=None))
    unkept = api.get("/dags/loader/code", as_="viewer")
    assert unkept.status_code == 200 and "cannot be read" in unkept.text and 'role="alert"' in unkept.text


def test_runs_page_loads_its_script_and_the_shared_run_actions(api, config, db) -> None:
    store_dag_file(config, db, "loader_file", SOURCE)
    html = api.get("/dags/loader/runs", as_="viewer").text
    assert html.index('src="/static/run_actions.js"') < html.index('src="/static/dag_runs.js"')
    for name in ("run_actions.js", "dag_runs.js", "grid.js", "dag_header.js", "dag.css", "pygments.css"):
        asset = api.get(f"/static/{name}", as_=None)
        assert asset.status_code == 200 and len(asset.content) > 500, name
    assert "innerHTML" not in api.get("/static/grid.js", as_=None).text


def test_header_next_run_is_when_the_next_run_starts(api, config, db) -> None:
    from datetime import datetime, timezone

    from tradewind.persist.models import DagModel

    store_dag_file(config, db, "loader_file", SOURCE)
    logical, run_after = datetime(2024, 3, 1, tzinfo=timezone.utc), datetime(2024, 3, 2, tzinfo=timezone.utc)
    with db.session_scope() as session:
        dag = session.get(DagModel, "loader")
        dag.next_dagrun, dag.next_dagrun_create_after, dag.is_paused = logical, run_after, False
    html = api.get("/dags/loader/grid", as_="viewer").text
    cell = re.search(r'<dd class="nowrap" id="dag-next-run">(.*?)</dd>', html).group(1)
    # Airflow 3's "run after" (when it starts), the logical date only in the hover title.
    assert f'data-iso="{run_after.isoformat()}"' in cell and f'title="Logical date {logical.isoformat()}"' in cell
    assert '<dd class="mono nowrap">@daily</dd>' in html  # the cron string never wraps mid-token
    with db.session_scope() as session:
        session.get(DagModel, "loader").is_paused = True
    paused = api.get("/dags/loader/grid", as_="viewer").text
    cell = re.search(r'<dd class="nowrap" id="dag-next-run">(.*?)</dd>', paused).group(1)
    assert "paused" in cell and "data-iso" not in cell
