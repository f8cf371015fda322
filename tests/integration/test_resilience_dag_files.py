"""Acceptance criterion 3: a broken DAG file never stops the rest.

Under a running ``tradewind scheduler``: files with a syntax error, a cycle, an
import that hangs and a bad cron string are reported as import errors (file, line
where known, a message naming the problem) while a good DAG keeps running; fixing
a file clears its error; deleting a DAG's file deactivates the DAG but keeps its runs.
"""

from __future__ import annotations

import time

import pytest
from resilience_support import Cluster

pytestmark = pytest.mark.slow

GOOD_DAG = '''
from datetime import datetime
from tradewind import DAG, BashOperator

with DAG("good", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    BashOperator(task_id="work", bash_command="echo good-work")
'''

SYNTAX_ERROR = '''
from datetime import datetime
from tradewind import DAG

def broken(:
    pass
'''

CYCLE = '''
from datetime import datetime
from tradewind import DAG, EmptyOperator

with DAG("cyclic", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    a = EmptyOperator(task_id="a")
    b = EmptyOperator(task_id="b")
    a >> b >> a
'''

HANGS = '''
import time
from tradewind import DAG

time.sleep(600)
'''

BAD_CRON = '''
from datetime import datetime
from tradewind import DAG, EmptyOperator

with DAG("bad_cron", schedule="every tuesday-ish", start_date=datetime(2024, 1, 1)) as dag:
    EmptyOperator(task_id="a")
'''

FIXED = '''
from datetime import datetime
from tradewind import DAG, EmptyOperator

with DAG("fixed", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    EmptyOperator(task_id="a")
'''


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path / "home", core__dagbag_import_timeout="2")
    c.ok("db", "migrate")
    yield c
    c.close()


def _errors_in_db(cluster: Cluster) -> dict[str, dict]:
    return {r["filename"]: r for r in cluster.rows("SELECT filename, lineno, message FROM import_error")}


def _run_succeeds(cluster: Cluster, run_id: str) -> None:
    cluster.ok("dags", "trigger", "good", "--run-id", run_id)
    cluster.wait(
        lambda: cluster.rows("SELECT state FROM dag_run WHERE run_id = :r", r=run_id)[0]["state"] == "success",
        what=f"run {run_id} of the good DAG to succeed",
    )


def test_broken_files_are_reported_and_never_stop_the_good_dag(cluster):
    cluster.add_dag("good_dag.py", GOOD_DAG)
    cluster.start()
    cluster.wait(lambda: cluster.rows("SELECT dag_id FROM dag WHERE dag_id = 'good'"), what="the good DAG parsed")
    _run_succeeds(cluster, "before")

    bad = {
        "syntax": cluster.add_dag("syntax_dag.py", SYNTAX_ERROR),
        "cycle": cluster.add_dag("cycle_dag.py", CYCLE),
        "hangs": cluster.add_dag("hangs_dag.py", HANGS),
        "cron": cluster.add_dag("bad_cron_dag.py", BAD_CRON),
    }
    # The scheduler's own DAG processor records all four (the CLI is not involved yet).
    cluster.wait(lambda: set(_errors_in_db(cluster)) == {str(p) for p in bad.values()},
                 what="four import errors recorded by the scheduler")
    _run_succeeds(cluster, "among_broken_files")

    listed = {e["filename"]: e for e in cluster.json("dags", "list-import-errors")}
    assert set(listed) == {str(p) for p in bad.values()}
    syntax = listed[str(bad["syntax"])]
    assert syntax["line"] == 5 and "SyntaxError" in syntax["message"], syntax
    cycle = listed[str(bad["cycle"])]
    assert "cycle" in cycle["message"].lower() and "'cyclic'" in cycle["message"], cycle
    assert "a -> b -> a" in cycle["message"], cycle  # names the tasks that form it
    hangs = listed[str(bad["hangs"])]
    assert "timeout" in hangs["message"].lower() and "2 s" in hangs["message"], hangs  # says how long it had
    cron = listed[str(bad["cron"])]
    assert cron["line"] == 5 and "every tuesday-ish" in cron["message"], cron
    # None of the broken files produced a DAG.
    dag_ids = {d["dag_id"] for d in cluster.json("dags", "list")}
    assert dag_ids == {"good"}

    # Fixing a file removes its import error and its DAG appears.
    bad["syntax"].write_text(FIXED)
    cluster.wait(lambda: str(bad["syntax"]) not in _errors_in_db(cluster), what="the fixed file's error to go")
    cluster.wait(lambda: cluster.rows("SELECT dag_id FROM dag WHERE dag_id = 'fixed' AND is_active"),
                 what="the fixed DAG to be stored")
    assert {e["filename"] for e in cluster.json("dags", "list-import-errors")} == {
        str(bad["cycle"]), str(bad["hangs"]), str(bad["cron"])
    }

    # Deleting the good DAG's file deactivates it; its runs stay.
    (cluster.path / "dags" / "good_dag.py").unlink()
    cluster.wait(lambda: not cluster.rows("SELECT dag_id FROM dag WHERE dag_id = 'good' AND is_active"),
                 what="the good DAG to be deactivated")
    assert {d["dag_id"] for d in cluster.json("dags", "list")} == {"fixed"}
    runs = cluster.rows("SELECT run_id, state FROM dag_run WHERE dag_id = 'good' ORDER BY run_id")
    assert runs == [{"run_id": "among_broken_files", "state": "success"}, {"run_id": "before", "state": "success"}]
    assert cluster.stop() == 0, cluster.output()


SPINS = "# tradewind dag\nwhile True:\n    pass\n"
HOG = "# tradewind dag\nchunks = []\nwhile True:\n    chunks.append(bytearray(32 * 1024 ** 2))\n"
EXITS = "# tradewind dag\nimport os\nos._exit(9)\n"
CHATTY = '''
import sys
from datetime import datetime
from tradewind import DAG, EmptyOperator

print("chatty-dag-file-says-hello")
sys.stdout.write("z" * 3_000_000)

with DAG("chatty", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    EmptyOperator(task_id="a")
'''


def test_hanging_hungry_exiting_and_chatty_files_never_delay_the_good_dag(tmp_path):
    """Issue 11: default parsing_processes and dagbag_import_timeout (30 s), ten spinning files."""
    c = Cluster(tmp_path / "home", dag_processor__parse_memory_limit="256")
    c.ok("db", "migrate")
    try:
        for i in range(10):
            c.add_dag(f"spin_{i}_dag.py", SPINS)
        hog = c.add_dag("hog_dag.py", HOG)
        exits = c.add_dag("exits_dag.py", EXITS)
        c.add_dag("chatty_dag.py", CHATTY)
        c.start()
        c.wait(lambda: c.rows("SELECT dag_id FROM dag WHERE dag_id = 'chatty'"), what="the chatty DAG parsed")
        added = time.monotonic()
        c.add_dag("good_dag.py", GOOD_DAG)
        c.wait(lambda: c.rows("SELECT dag_id FROM dag WHERE dag_id = 'good'"), what="the good DAG parsed")
        assert time.monotonic() - added < 10  # not the 30 s the spinning files take
        c.wait(lambda: {str(hog), str(exits)} <= set(_errors_in_db(c)), what="the hog's and exit's import errors")
        errors = _errors_in_db(c)
        assert "parse_memory_limit (256 MB)" in errors[str(hog)]["message"], errors[str(hog)]
        assert "exit code 9" in errors[str(exits)]["message"]
        _run_succeeds(c, "beside_spinning_files")
        listed = c.json("dags", "list")  # valid JSON: nothing the files print reaches stdout
        assert {d["dag_id"] for d in listed} == {"good", "chatty"}
        assert c.stop() == 0, c.output()
        # What the chatty file printed is in the scheduler's (DAG processor's) log, truncated.
        log = c.log_file.read_text(errors="replace")
        assert "chatty-dag-file-says-hello" in log
        assert "first 65536 bytes of 3000027" in log
        assert len(log) < 1_000_000
    finally:
        c.close()
