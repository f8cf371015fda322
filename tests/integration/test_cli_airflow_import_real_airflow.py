"""Both directions against real Apache Airflow 2 and 3 from PyPI: Airflow's exports import here
unchanged, and Airflow's ``connections|variables|pools import`` read what our exports write.

Airflow 3 comes from ``pip install apache-airflow-providers-sqlite`` in a cached venv
(tests/providers/venv_support.py, shared with the provider tests); Airflow 2 from ``pip install
apache-airflow==2.10.5`` in a cached venv of its own. Airflow's CLI runs on a SQLite database in
the test's tmp dir. Skipped when PyPI cannot be reached (failed under CI=true).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import Home
from service_support import in_ci

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))
from e2e_support import venv_or_skip  # noqa: E402
from venv_support import cache_root  # noqa: E402

AIRFLOW2 = "2.10.5"

# Real Airflow CLI calls take seconds each (more on a busy machine); the venv may be built first.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("providers-airflow"), pytest.mark.timeout(1800)]

PASSWORD = "s3cr3t/+=@ x"
CONNECTIONS = {
    "warehouse": {"conn_type": "postgres", "description": "Sales warehouse", "host": "db.internal", "port": 5432,
                  "schema": "sales", "login": "etl", "password": PASSWORD, "extra": {"sslmode": "require"}},
    "my_http": {"conn_type": "http", "host": "https://api.example.com", "login": "u", "password": "p w"},
    "gcp": {"conn_type": "google_cloud_platform", "extra": {"project": "p1", "scopes": ["a", "b"]}},
}


class Airflow:
    """Real Airflow's CLI on its own home and SQLite database."""

    def __init__(self, bin_dir: Path, home: Path) -> None:
        from cryptography.fernet import Fernet

        home.mkdir(parents=True)
        self.bin, self.home = bin_dir, home
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("AIRFLOW", "TRADEWIND")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        self.env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                         "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
                         "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode()})
        self.ok("db", "migrate")

    def ok(self, *args: str) -> str:
        result = subprocess.run([str(self.bin / "airflow"), *args], env=self.env, cwd=self.home,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"airflow {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def export(self, kind: str, path: Path, *extra: str) -> Path:
        self.ok(kind, "export", str(path), *extra)
        return path


def _clear_connections(data: dict) -> dict:
    """Connections of an export keyed by conn_id, extra decoded, empty values dropped."""
    out = {}
    for conn_id, fields in data.items():
        fields = dict(fields)
        fields["extra"] = json.loads(fields["extra"]) if isinstance(fields.get("extra"), str) else fields.get("extra")
        out[conn_id] = {k: v for k, v in fields.items() if v not in (None, "", {})}
    return out


def _tradewind_connections(home: Home) -> dict:
    return _clear_connections(json.loads(home.ok("connections", "export", "-").stdout))


@pytest.fixture(scope="module")
def airflow3_bin() -> Path:
    return venv_or_skip("airflow", ["sqlite"]).bin


@pytest.fixture(scope="module")
def airflow2_bin() -> Path:
    try:
        return _airflow2_venv() / "bin"
    except subprocess.CalledProcessError as exc:
        if in_ci():
            raise
        pytest.skip(f"Apache Airflow {AIRFLOW2} could not be installed: {(exc.stderr or '')[-800:]}")


def _airflow2_venv() -> Path:
    """A venv with ``pip install apache-airflow==AIRFLOW2``, built once (under a lock) and reused."""
    root = cache_root().parent / f"airflow-{AIRFLOW2}-py{sys.version_info.major}{sys.version_info.minor}-r2"
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{root}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / "built").exists():
            return root
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, capture_output=True, text=True)
        subprocess.run([sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install", "-q",
                        "--disable-pip-version-check", f"apache-airflow=={AIRFLOW2}",
                        # Airflow 2.10 sets an attribute on MultiFernet, which newer cryptography
                        # releases (a Rust class) refuse; Airflow's constraints pinned an older one.
                        "cryptography<44"],
                       check=True, capture_output=True, text=True, timeout=1500)
        (root / "built").write_text(AIRFLOW2)
    return root


def test_airflow_3_files_both_ways(airflow3_bin, tmp_path):
    _both_directions(airflow3_bin, tmp_path, airflow3=True)


def test_airflow_2_files_both_ways(airflow2_bin, tmp_path):
    _both_directions(airflow2_bin, tmp_path, airflow3=False)


def _both_directions(bin_dir: Path, tmp_path: Path, *, airflow3: bool) -> None:
    airflow = Airflow(bin_dir, tmp_path / "airflow")
    for conn_id, fields in CONNECTIONS.items():
        airflow.ok("connections", "add", conn_id, "--conn-json", json.dumps(fields))
    airflow.ok("variables", "set", "color", "blue", "--description", "Theme colour")
    airflow.ok("variables", "set", "limits", '{"rows": 5}')
    airflow.ok("pools", "set", "gpu", "2", "The two GPUs")
    out = tmp_path / "from-airflow"
    out.mkdir()
    files = {
        "json": airflow.export("connections", out / "conns.json"),
        "yaml": airflow.export("connections", out / "conns.yaml"),
        "env": airflow.export("connections", out / "conns.env"),
        "env-json": airflow.export("connections", out / "conns-json.env", "--serialization-format", "json"),
    }
    variables = airflow.export("variables", out / "variables.json")
    pools = airflow.export("pools", out / "pools.json")
    expected = _clear_connections(CONNECTIONS)
    assert _clear_connections(json.loads(files["json"].read_text())) == expected  # what Airflow wrote

    # Airflow -> Tradewind: every file unchanged.
    for name, path in files.items():
        home = Home(tmp_path / f"tw-{name}")
        home.ok("db", "migrate")
        home.ok("connections", "import", str(path))
        want = json.loads(json.dumps(expected))
        if name == "env":
            want["warehouse"].pop("description")  # a URI has no description, in Airflow too
        assert _tradewind_connections(home) == want, name
    home = Home(tmp_path / "tw")
    home.ok("db", "migrate")
    home.ok("connections", "import", str(files["json"]))
    home.ok("variables", "import", str(variables))
    home.ok("pools", "import", str(pools))
    stored = home.stored_variables()
    # Airflow 2's export has no descriptions; Airflow 3's carries them.
    assert stored == {"color": ("blue", "Theme colour" if airflow3 else None), "limits": ('{"rows": 5}', None)}
    assert {p["pool"]: (p["slots"], p["description"]) for p in home.json("pools", "list")} == {
        "default_pool": (128, "Default pool"), "gpu": (2, "The two GPUs")}

    # Tradewind -> Airflow: a fresh Airflow imports our files and exports the same as before.
    ours = tmp_path / "from-tradewind"
    ours.mkdir()
    home.ok("variables", "set", "color", "blue", "--description", "Theme colour")
    for name in ("conns.json", "conns.yaml", "conns.env"):
        home.ok("connections", "export", str(ours / name))
    home.ok("variables", "export", str(ours / "variables.json"), *(() if airflow3 else ("--plain",)))
    home.ok("pools", "export", str(ours / "pools.json"))
    fresh = Airflow(bin_dir, tmp_path / "airflow-fresh")
    for name in ("conns.json", "conns.yaml", "conns.env"):
        fresh.ok("connections", "import", str(ours / name), "--overwrite")
        again = _clear_connections(json.loads(fresh.export("connections", tmp_path / f"check-{name}.json").read_text()))
        want = json.loads(json.dumps(expected))
        if name == "conns.env":
            want["warehouse"].pop("description")
        assert again == want, name
    fresh.ok("variables", "import", str(ours / "variables.json"))
    fresh.ok("pools", "import", str(ours / "pools.json"))
    assert json.loads(fresh.export("variables", tmp_path / "check-vars.json").read_text()) == json.loads(variables.read_text())
    assert json.loads(fresh.export("pools", tmp_path / "check-pools.json").read_text()) == json.loads(pools.read_text())
