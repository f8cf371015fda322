"""Virtual environments with Airflow provider packages from PyPI next to this Tradewind checkout.

The API (everything else is private)::

    venv = provider_venv("airflow", ["sqlite"])          # pip install apache-airflow-providers-sqlite
    venv = provider_venv("tradewind", ["ssh", "slack"])  # tradewind providers install ssh slack
    venv = provider_venv("tradewind", ["redis"], extra=["fakeredis"])  # plus plain PyPI packages

    home = venv.home(tmp_path)                  # a TRADEWIND_HOME whose CLI runs in that venv
    home.add_dag("my_dag.py", source)
    home.ok("dags", "test", "my_dag", "2024-01-01")   # the venv's real ``tradewind`` executable
    home.json("providers", "list")                     # adds ``-o json`` and parses stdout
    venv.python("-c", "import airflow; print(airflow.__file__)")   # the venv's interpreter
    venv.has_distribution("apache-airflow-core")

Flavours:

- ``"airflow"``: ``pip install apache-airflow-providers-<name>`` for each name, as a user would;
  pip pulls Apache Airflow itself in as their dependency.
- ``"tradewind"``: ``tradewind providers install <names>``: the providers and their own
  dependencies, without Airflow's core.

How it is built, once per distinct (flavour, providers, extra) and then reused by every test and
every later session: a venv under ``~/.cache/tradewind-tests/provider-venvs/<hash>``
(``TRADEWIND_TEST_CACHE`` moves the root) created ``--without-pip``; a ``.pth`` file appends the
site-packages of the interpreter running the tests, so Tradewind's own dependencies are not
installed again (anything pip installs into the venv comes first on ``sys.path`` and wins, exactly
as in a user's venv where pip upgrades or downgrades a package); then Tradewind is installed
editable without dependencies (``pip install --no-deps -e <repo>``), so source edits need no
rebuild. pip's cache makes a rebuild after a recipe change fast. A file lock makes parallel
pytest-xdist workers wait for one build instead of racing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parents[2]
INSTALLER = REPO / "src" / "tradewind" / "compat" / "provider_install.py"
#: Bump when the way a venv is built changes (old venvs are then rebuilt, under a new hash).
RECIPE_VERSION = 1
FLAVOURS = ("airflow", "tradewind")
PIP_TIMEOUT = 1200  # a first build downloads Apache Airflow's dependencies


def cache_root() -> Path:
    base = os.environ.get("TRADEWIND_TEST_CACHE") or Path.home() / ".cache" / "tradewind-tests"
    return Path(base) / "provider-venvs"


class VenvBuildError(RuntimeError):
    """A provider venv could not be built; the message holds the failing command's output."""


@dataclass(frozen=True)
class ProviderVenv:
    """One built venv: its interpreter, its ``tradewind`` executable and homes that use them."""

    root: Path
    flavour: str
    providers: tuple[str, ...]

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def executable(self) -> Path:
        return self.bin / "python"

    def python(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300,
               check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the venv's interpreter; ``check`` asserts exit 0 and shows both streams otherwise."""
        result = subprocess.run([str(self.executable), *args], capture_output=True, text=True, timeout=timeout,
                                env=env if env is not None else _clean_env())
        if check:
            assert result.returncode == 0, f"python {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    def has_distribution(self, name: str) -> bool:
        """True when ``importlib.metadata`` in the venv finds distribution ``name``."""
        code = f"import importlib.metadata as m\ntry:\n    m.distribution({name!r})\nexcept m.PackageNotFoundError:\n    raise SystemExit(1)"
        return self.python("-c", code, check=False).returncode == 0

    def home(self, path: Path) -> "VenvHome":
        """A TRADEWIND_HOME at ``path`` (``dags/`` created) whose commands run in this venv."""
        return VenvHome(path, self)


class VenvHome:
    """A TRADEWIND_HOME for one test; ``run``/``ok``/``json`` call the venv's ``tradewind``."""

    def __init__(self, path: Path, venv: ProviderVenv) -> None:
        self.path = path
        self.venv = venv
        (path / "dags").mkdir(parents=True, exist_ok=True)
        self.env = _clean_env()
        self.env.update({"TRADEWIND_HOME": str(path), "TRADEWIND__CORE__LOAD_EXAMPLES": "False"})

    def add_dag(self, name: str, source: str) -> Path:
        target = self.path / "dags" / name
        target.write_text(textwrap.dedent(source))
        return target

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv.bin / "tradewind"), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def ok(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = self.run(*args, timeout=timeout)
        assert result.returncode == 0, f"tradewind {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json").stdout)


def provider_venv(flavour: str, providers: Sequence[str], extra: Sequence[str] = ()) -> ProviderVenv:
    """The venv of ``flavour`` with ``providers`` (short names: ``sqlite``, ``common-sql``) and ``extra``
    PyPI requirements, built on first use (under a lock) and reused afterwards."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown venv flavour {flavour!r}: expected one of {FLAVOURS}")
    providers_t = tuple(sorted(set(providers)))
    key = json.dumps({"recipe": RECIPE_VERSION, "flavour": flavour, "providers": providers_t,
                      "extra": sorted(set(extra)), "python": sys.version, "repo": str(REPO),
                      "pyproject": hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest(),
                      # What `tradewind providers install` puts in a venv is decided by this file.
                      "installer": hashlib.sha256(INSTALLER.read_bytes()).hexdigest()},
                     sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    root = cache_root() / f"{flavour}-{'-'.join(providers_t)[:60]}-{digest}"
    venv = ProviderVenv(root=root, flavour=flavour, providers=providers_t)
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another xdist worker may be building it: wait for it
        stamp = root / "tradewind-test-venv.json"
        if stamp.exists():
            stamp.touch()  # last use, for _prune_stale
            return venv
        shutil.rmtree(root, ignore_errors=True)  # a half-built one from an interrupted session
        try:
            _build(venv, list(extra))
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        stamp.write_text(key)
    _prune_stale(root)
    return venv


def _prune_stale(current: Path, unused_for: float = 2 * 86400) -> None:
    """Remove venvs of the same flavour and providers built from another recipe (an older
    pyproject.toml...) and unused for two days: each is 100-200 MB."""
    import time

    prefix = current.name.rsplit("-", 1)[0] + "-"
    for other in current.parent.glob(prefix + "*"):
        stamp = other / "tradewind-test-venv.json"
        if other == current or not other.is_dir() or other.name.rsplit("-", 1)[0] + "-" != prefix:
            continue
        if stamp.exists() and time.time() - stamp.stat().st_mtime > unused_for:
            shutil.rmtree(other, ignore_errors=True)


# ------------------------------------------------------------------------------ building
def _clean_env() -> dict[str, str]:
    """The environment without the test session's Tradewind and venv settings."""
    drop = ("TRADEWIND__", "PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop) and k != "TRADEWIND_HOME"}


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
    print(f"[provider venv] {what}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT,
                            env=env if env is not None else _clean_env())
    if result.returncode != 0:
        raise VenvBuildError(f"{what} failed ({result.returncode}): {' '.join(cmd)}\n"
                             f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}")


def _pip(venv: ProviderVenv, *args: str, what: str) -> None:
    # The test interpreter's pip installs into the venv (pip --python), so the venv needs no pip.
    _run([sys.executable, "-m", "pip", "--python", str(venv.executable), "--disable-pip-version-check",
          *args], what)


def _build(venv: ProviderVenv, extra: list[str]) -> None:
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv.root)], "create the venv")
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv.root), "platbase": str(venv.root)}))
    # Appended after the venv's own site-packages: what pip installs into the venv wins.
    (purelib / "zz-tradewind-test-base.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _pip(venv, "install", "--no-deps", "-e", str(REPO), what="install Tradewind (editable, no dependencies)")
    if venv.flavour == "airflow":
        _pip(venv, "install", *[f"apache-airflow-providers-{name}" for name in venv.providers],
             what="pip install the providers (pulls Apache Airflow in)")
    elif venv.providers:
        env = _clean_env()
        # `tradewind providers install` runs pip in the venv's interpreter; pip itself comes from the
        # test interpreter's site-packages (on the venv's path through the .pth above).
        _run([str(venv.bin / "tradewind"), "providers", "install", *venv.providers], "tradewind providers install", env)
    if extra:
        _pip(venv, "install", *extra, what="install the extra requirements")
