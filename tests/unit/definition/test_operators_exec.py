"""Operators executed for real: BashOperator in bash, PythonOperator, branching and short-circuit."""

from __future__ import annotations

import logging
import os
import signal
import time

import psutil
import pytest

from deftestkit import FakeTI, context_for
from tradewind import (
    DAG,
    BashOperator,
    BranchPythonOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
    TaskGroup,
)
from tradewind.definition.exceptions import TaskSkipped, TaskTimeout, TradewindException


def bash(command: str, **kwargs) -> BashOperator:
    with DAG("bash_dag"):
        return BashOperator(task_id="b", bash_command=command, **kwargs)


# -- BashOperator ------------------------------------------------------------------------------
def test_bash_returns_last_line_and_logs_every_line(caplog) -> None:
    op = bash("echo first; echo second >&2; echo last")
    with caplog.at_level(logging.INFO):
        assert op.execute(context_for(op)) == "last"
    messages = [r.getMessage() for r in caplog.records]
    assert "first" in messages and "second" in messages and "last" in messages


def test_bash_exit_99_skips() -> None:
    op = bash("echo about to skip; exit 99")
    with pytest.raises(TaskSkipped, match="exit code 99"):
        op.execute(context_for(op))


def test_bash_custom_skip_exit_code_and_none() -> None:
    op = bash("exit 3", skip_on_exit_code=[3, 4])
    with pytest.raises(TaskSkipped):
        op.execute(context_for(op))
    no_skip = bash("exit 99", skip_on_exit_code=None)
    with pytest.raises(TradewindException, match="non-zero exit code 99"):
        no_skip.execute(context_for(no_skip))


def test_bash_nonzero_exit_fails_naming_the_code() -> None:
    op = bash("echo oops; exit 1")
    with pytest.raises(TradewindException, match="non-zero exit code 1") as info:
        op.execute(context_for(op))
    assert not isinstance(info.value, TaskSkipped)


def test_bash_env_replaces_environment(monkeypatch) -> None:
    monkeypatch.setenv("TW_OUTER", "outer")
    op = bash('echo "${MY_VAR}-${TW_OUTER:-unset}"', env={"MY_VAR": "mine"})
    assert op.execute(context_for(op)) == "mine-unset"


def test_bash_append_env_keeps_environment(monkeypatch) -> None:
    monkeypatch.setenv("TW_OUTER", "outer")
    op = bash('echo "${MY_VAR}-${TW_OUTER}"', env={"MY_VAR": "mine"}, append_env=True)
    assert op.execute(context_for(op)) == "mine-outer"


def test_bash_context_variables_are_exported() -> None:
    op = bash('echo "$AIRFLOW_CTX_DAG_ID/$AIRFLOW_CTX_TASK_ID/$TRADEWIND_CTX_DAG_RUN_ID"')
    assert op.execute(context_for(op)) == "bash_dag/b/manual__1"


def test_bash_cwd(tmp_path) -> None:
    op = bash("pwd", cwd=str(tmp_path))
    assert op.execute(context_for(op)) == str(tmp_path)
    missing = bash("pwd", cwd=str(tmp_path / "missing"))
    with pytest.raises(TradewindException, match="Can not find the cwd"):
        missing.execute(context_for(missing))
    (tmp_path / "file").write_text("x")
    not_dir = bash("pwd", cwd=str(tmp_path / "file"))
    with pytest.raises(TradewindException, match="must be a directory"):
        not_dir.execute(context_for(not_dir))


def test_bash_output_with_no_lines_returns_none() -> None:
    op = bash("true")
    assert op.execute(context_for(op)) is None


def test_bash_template_fields_and_ext() -> None:
    assert BashOperator.template_fields == ("bash_command", "env", "cwd")
    assert BashOperator.template_ext == (".sh", ".bash")


def test_bash_timeout_terminates_the_whole_process_group(caplog) -> None:
    op = bash("echo $$; sleep 60 & sleep 60; wait")

    def on_alarm(signum, frame):
        raise TaskTimeout("timed out")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with caplog.at_level(logging.INFO), pytest.raises(TaskTimeout):
            op.execute(context_for(op))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    pgid = int(next(r.getMessage() for r in caplog.records if r.getMessage().isdigit()))

    def group_alive() -> list[int]:
        alive = []
        for proc in psutil.process_iter(["pid", "status"]):
            try:
                if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                    alive.append(proc.pid)
            except (ProcessLookupError, psutil.Error):
                pass
        return alive

    # Signals are delivered asynchronously: allow the group a moment to die (a zombie
    # waiting for init to reap it counts as gone); a surviving `sleep 60` fails the test.
    deadline = time.monotonic() + 5
    alive = group_alive()
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = group_alive()
    assert alive == []


# -- PythonOperator ---------------------------------------------------------------------------
def test_python_operator_op_args_op_kwargs_and_context() -> None:
    seen = {}

    def fn(a, b, c=None, ti=None, params=None, templates_dict=None):
        seen.update(a=a, b=b, c=c, ti=ti, params=params, templates_dict=templates_dict)
        return a + b

    with DAG("py", params={"p": 1}):
        op = PythonOperator(task_id="py", python_callable=fn, op_args=[1, 2], op_kwargs={"c": 3},
                            templates_dict={"k": "v"})
    ctx = context_for(op)
    assert op.execute(ctx) == 3
    assert seen == {"a": 1, "b": 2, "c": 3, "ti": ctx["ti"], "params": {"p": 1}, "templates_dict": {"k": "v"}}


def test_python_operator_var_kwargs_receive_whole_context() -> None:
    with DAG("pykw"):
        op = PythonOperator(task_id="kw", python_callable=lambda x, **ctx: (x, sorted(ctx)), op_args=[9],
                            provide_context=True)
    x, keys = op.execute(context_for(op, run_id_extra=1))
    assert x == 9 and {"ti", "task", "dag", "params", "run_id_extra"} <= set(keys)


def test_python_operator_does_not_pass_unrequested_context() -> None:
    with DAG("pyplain"):
        op = PythonOperator(task_id="plain", python_callable=lambda: "ok")
    assert op.execute(context_for(op)) == "ok"


def test_python_operator_requires_callable() -> None:
    with DAG("pybad"):
        with pytest.raises(TradewindException, match="must be callable"):
            PythonOperator(task_id="bad", python_callable="not callable")


def test_python_operator_templated_op_kwargs_are_rendered() -> None:
    with DAG("pyrender", params={"who": "team"}):
        op = PythonOperator(task_id="r", python_callable=lambda greeting: greeting,
                            op_kwargs={"greeting": "hi {{ params.who }}"})
    ctx = context_for(op)
    rendered = op.render_template_fields(ctx)
    assert rendered["op_kwargs"] == {"greeting": "hi team"}
    assert op.execute(ctx) == "hi team"


# -- Branching and short-circuit ----------------------------------------------------------------
def branch_dag(choice):
    with DAG("branching") as d:
        br = BranchPythonOperator(task_id="br", python_callable=lambda: choice)
        a, b, c = (EmptyOperator(task_id=i) for i in "abc")
        with TaskGroup("grp") as grp:
            g1 = EmptyOperator(task_id="g1")
            g2 = EmptyOperator(task_id="g2")
            g1 >> g2
        a >> EmptyOperator(task_id="after_a")
        br >> [a, b, c, grp]
    return d


@pytest.mark.parametrize(
    "choice, skipped",
    [
        ("a", ["b", "c", "grp.g1"]),
        (["a", "b"], ["c", "grp.g1"]),
        ("grp", ["a", "b", "c"]),
        (None, ["a", "b", "c", "grp.g1"]),
    ],
)
def test_branch_skips_direct_downstream_not_chosen(choice, skipped) -> None:
    d = branch_dag(choice)
    ti = FakeTI()
    op = d.get_task("br")
    assert op.execute(context_for(op, ti)) == choice
    assert ti.skipped == skipped


def test_branch_to_unknown_task_is_an_error() -> None:
    d = branch_dag("nope")
    op = d.get_task("br")
    with pytest.raises(TradewindException, match="Invalid tasks found: \\['nope'\\]"):
        op.execute(context_for(op))


def short_circuit_dag(result, ignore: bool):
    with DAG("sc") as d:
        sc = ShortCircuitOperator(task_id="sc", python_callable=lambda: result,
                                  ignore_downstream_trigger_rules=ignore)
        a, b, c = (EmptyOperator(task_id=i) for i in "abc")
        sc >> a >> b
        sc >> c
    return d


def test_short_circuit_truthy_continues() -> None:
    d = short_circuit_dag([1], True)
    ti = FakeTI()
    op = d.get_task("sc")
    assert op.execute(context_for(op, ti)) == [1]
    assert ti.skipped == []


def test_short_circuit_falsy_skips_everything_downstream() -> None:
    d = short_circuit_dag(0, True)
    ti = FakeTI()
    op = d.get_task("sc")
    op.execute(context_for(op, ti))
    assert ti.skipped == ["a", "b", "c"]


def test_short_circuit_respecting_trigger_rules_skips_only_direct_downstream() -> None:
    d = short_circuit_dag("", False)
    ti = FakeTI()
    op = d.get_task("sc")
    op.execute(context_for(op, ti))
    assert ti.skipped == ["a", "c"]


def test_empty_operator_does_nothing() -> None:
    with DAG("empty"):
        op = EmptyOperator(task_id="e")
    assert op.execute(context_for(op)) is None
    assert op.inherits_from_empty_operator is True
