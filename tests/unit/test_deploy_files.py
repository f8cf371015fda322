"""The deployment files (deploy/) and the deployment guide stay true to the code.

They are not run by any test (no Docker engine, no Kubernetes here), so these checks catch the
ways they silently rot: a renamed command or flag, a setting that does not exist, and — the
point of the Celery design — a worker given the database credentials or keys.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from tradewind.config import DEFAULTS
from tradewind.observe.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
GUIDE = REPO / "docs" / "deployment.md"
DAGS_PATH = "/opt/tradewind/dags"
#: What a worker must never be given (docs/deployment.md, "Workers hold no database credentials").
CONTROLLER_ONLY = ("TRADEWIND__DATABASE__URL", "TRADEWIND__API__SECRET_KEY", "TRADEWIND__CORE__FERNET_KEY")


def check_cli(argv: list[str], where: str) -> None:
    """Parse ``tradewind <argv>`` with the real Click commands, without running anything."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="tradewind")
    rest = list(argv)
    while isinstance(command, click.Group):
        assert rest, f"{where}: `tradewind {' '.join(argv)}` stops at a command group"
        name = rest.pop(0)
        sub = command.get_command(ctx, name)
        assert sub is not None, f"{where}: `tradewind {' '.join(argv)}`: no command {name!r}"
        command = sub
        ctx = click.Context(command, info_name=name, parent=ctx)
    try:
        command.make_context(ctx.info_name, rest, parent=ctx.parent)
    except click.ClickException as exc:
        pytest.fail(f"{where}: `tradewind {' '.join(argv)}` is refused by the CLI: {exc.format_message()}")


def tradewind_argv(words: list[str]) -> list[str] | None:
    """The arguments after ``tradewind`` in a command line (``sh -c`` unwrapped), or None."""
    if len(words) >= 3 and words[0] == "sh" and words[1] == "-c":
        words = shlex.split(words[2])
    for i, word in enumerate(words):
        if word == "tradewind" or word.endswith("/tradewind"):
            return words[i + 1:]
    return None


# ----------------------------------------------------------------------------- loading
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text(encoding="utf-8"))


def compose_tradewind_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose()["services"].items() if "tradewind" in str(svc.get("image", ""))}


def k8s_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def k8s_pods() -> dict[str, dict[str, Any]]:
    """Workload name -> pod spec, for every Deployment/StatefulSet/Job running the Tradewind image."""
    pods = {}
    for doc in k8s_docs():
        pod = doc.get("spec", {}).get("template", {}).get("spec")
        if pod and any("tradewind" in c["image"] for c in pod["containers"]):
            pods[doc["metadata"]["name"]] = pod
    return pods


def k8s_resource(kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in k8s_docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert matches, f"deploy/kubernetes: no {kind} {name!r}"
    return matches[0]


def is_worker(argv: list[str] | None) -> bool:
    return bool(argv) and argv[:2] == ["celery", "worker"]


def systemd_units() -> dict[str, dict[str, str]]:
    units = {}
    for path in sorted((DEPLOY / "systemd").glob("*.service")):
        values = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.startswith(("#", "[")):
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
        units[path.name] = values
    return units


def env_file(name: str) -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "systemd" / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


# ------------------------------------------------------------------------------- tests
def every_command_line() -> list[tuple[str, list[str]]]:
    """(where, argv after ``tradewind``) for every Tradewind command the files and the guide show."""
    found: list[tuple[str, list[str]]] = []
    for name, svc in compose_tradewind_services().items():
        found.append((f"compose service {name}", list(svc["command"])))
        test = svc.get("healthcheck", {}).get("test")
        if test and test[0] == "CMD" and tradewind_argv(test[1:]) is not None:
            found.append((f"compose healthcheck of {name}", tradewind_argv(test[1:])))
    for name, pod in k8s_pods().items():
        for container in pod["containers"]:
            found.append((f"kubernetes {name}", list(container["args"])))
            for probe in ("livenessProbe", "readinessProbe"):
                command = container.get(probe, {}).get("exec", {}).get("command")
                if command and tradewind_argv(command) is not None:
                    found.append((f"kubernetes {name} {probe}", tradewind_argv(command)))
    for unit, values in systemd_units().items():
        argv = tradewind_argv(shlex.split(values["ExecStart"].replace("%i", "default").replace("%H", "host")))
        assert argv is not None, f"{unit}: ExecStart does not run tradewind"
        found.append((unit, argv))
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        if line.startswith("tradewind "):
            lexer = shlex.shlex(line, posix=True, punctuation_chars=False)
            lexer.whitespace_split, lexer.commenters = True, "#"
            words = [w for w in lexer]
            found.append((f"docs/deployment.md: {line.strip()}", words[1:]))
    return found


def test_every_command_in_the_files_and_the_guide_exists_with_those_options() -> None:
    lines = every_command_line()
    assert len(lines) > 15  # the files were found and read
    for where, argv in lines:
        check_cli(argv, where)


def test_the_checker_refuses_a_wrong_flag() -> None:
    with pytest.raises(pytest.fail.Exception, match="(?i)no such option '--queue'"):
        check_cli(["celery", "worker", "--queue", "default"], "example")
    with pytest.raises(AssertionError, match="no command 'dag_processor'"):
        check_cli(["dag_processor"], "example")


def test_every_setting_named_is_a_real_one() -> None:
    texts = [GUIDE.read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in DEPLOY.rglob("*") if p.is_file()]
    names = set(re.findall(r"TRADEWIND__([A-Z_]+?)__([A-Z_]+)", "\n".join(texts))) - {("SECTION", "KEY")}
    assert len(names) > 10
    unknown = sorted(f"TRADEWIND__{s}__{k}" for s, k in names if k.lower() not in DEFAULTS.get(s.lower(), {}))
    assert not unknown, f"settings that do not exist: {unknown}"


def test_compose_workers_get_the_broker_and_api_but_no_database_or_keys() -> None:
    services = compose_tradewind_services()
    workers = {n: s for n, s in services.items() if is_worker(s["command"])}
    assert len(workers) == 2
    for name, svc in workers.items():
        env = svc["environment"]
        assert not set(CONTROLLER_ONLY) & set(env), f"compose worker {name} gets {set(CONTROLLER_ONLY) & set(env)}"
        assert "TRADEWIND__CELERY__BROKER_URL" in env and "TRADEWIND__CORE__EXECUTION_API_SERVER_URL" in env
    assert any("heavy" in s["command"][s["command"].index("--queues") + 1] for s in workers.values())
    for name, svc in services.items():
        mounts = [v.split(":")[1] for v in svc.get("volumes", [])]
        assert DAGS_PATH in mounts, f"compose service {name} does not mount the DAGs at {DAGS_PATH}"
        if not is_worker(svc["command"]):
            assert set(CONTROLLER_ONLY) <= set(svc["environment"]), f"compose service {name} lacks database/keys"


def test_kubernetes_workers_never_reference_the_controller_secret() -> None:
    pods = k8s_pods()
    workers = {n: p for n, p in pods.items() if is_worker(p["containers"][0]["args"])}
    assert list(workers) == ["tradewind-worker"]
    secret = k8s_resource("Secret", "tradewind-controller")
    assert set(secret["stringData"]) == set(CONTROLLER_ONLY)
    for name, pod in pods.items():
        refs = {ref[kind]["name"] for c in pod["containers"] for ref in c.get("envFrom", [])
                for kind in ("secretRef", "configMapRef") if kind in ref}
        refs |= {e["valueFrom"]["secretKeyRef"]["name"] for c in pod["containers"] for e in c.get("env", [])
                 if "secretKeyRef" in e.get("valueFrom", {})}
        for ref in refs:  # every reference resolves
            assert any(d["metadata"]["name"] == ref and d["kind"] in ("Secret", "ConfigMap") for d in k8s_docs())
        if name in workers:
            assert "tradewind-controller" not in refs
            assert "tradewind-broker" in refs and "tradewind-worker" in refs
        else:
            assert "tradewind-controller" in refs, f"{name} cannot reach the database"


def test_kubernetes_pods_mount_the_dags_at_the_configured_path() -> None:
    common = k8s_resource("ConfigMap", "tradewind-common")["data"]
    assert common["TRADEWIND__CORE__DAGS_FOLDER"] == DAGS_PATH
    for name, pod in k8s_pods().items():
        container = pod["containers"][0]
        assert {"configMapRef": {"name": "tradewind-common"}} in container["envFrom"], name
        if name == "tradewind-migrate":
            continue  # migrating reads no DAG file
        mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
        assert DAGS_PATH in mounts, f"kubernetes {name} does not mount the DAGs at {DAGS_PATH}"
    scheduler = k8s_resource("Deployment", "tradewind-scheduler")
    assert scheduler["spec"]["replicas"] == 2


def test_systemd_workers_read_only_the_worker_environment() -> None:
    units = systemd_units()
    worker = units["tradewind-celery-worker@.service"]
    assert worker["EnvironmentFile"] == "/etc/tradewind/worker.env"
    for name, values in units.items():
        if name != "tradewind-celery-worker@.service":
            assert values["EnvironmentFile"] == "/etc/tradewind/controller.env", name
    worker_env, controller_env = env_file("worker.env.example"), env_file("controller.env.example")
    assert not set(CONTROLLER_ONLY) & set(worker_env)
    assert set(CONTROLLER_ONLY) <= set(controller_env)
    assert worker_env["TRADEWIND__CORE__DAGS_FOLDER"] == controller_env["TRADEWIND__CORE__DAGS_FOLDER"]
