"""``tradewind providers install``: Airflow provider distributions without Apache Airflow's core.

Every provider on PyPI requires ``apache-airflow``; a plain ``pip install`` would pull Airflow and
its ~80 dependencies in. Here, for each requested provider:

1. ``pip download --no-deps`` its wheel (pip's index settings and cache apply);
2. read the wheel's ``Requires-Dist``: other providers (``common-sql``, ``common-compat``...) are
   added to the queue with their version ranges, Airflow's core distributions are dropped, the
   rest (``paramiko``, ``slack-sdk``...) are collected;
3. ``pip install --no-deps`` all the provider wheels, then ``pip install`` the collected
   requirements, constrained by Tradewind's own requirements so pip cannot move a package
   Tradewind needs out of its range.

A provider already installed at a version that satisfies what is asked is not downloaded again.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tradewind.compat.providers import (
    AIRFLOW_CORE_DISTRIBUTIONS, DIST_PREFIX, UnknownProviderError, check_known, distribution_name, normalize_id,
    suggest,
)

try:  # packaging is everywhere pip is; pip's vendored copy when it is not installed on its own
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name
except ImportError:  # pragma: no cover - depends on the environment
    from pip._vendor.packaging.markers import default_environment  # type: ignore[no-redef]
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.specifiers import SpecifierSet  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef]

Progress = Callable[[str], None]

#: Third-party packages of Apache Airflow's core that a provider's code imports without declaring
#: them (with Airflow installed they are always there). Installed with that provider, since its
#: Airflow requirement is dropped. Found by the end-to-end tests (tests/providers).
UNDECLARED_CORE_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "apache-airflow-providers-amazon": ("python-slugify>=5.0",),  # hooks/base_aws.py: from slugify import slugify
    "apache-airflow-providers-slack": ("tabulate>=0.9.0",),  # transfers/sql_to_slack_webhook.py
}


class ProviderInstallError(RuntimeError):
    """Installing failed; the message says at which step and shows pip's own last lines."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output  # pip's whole output, to tell a network failure from a missing release


@dataclass
class InstallPlan:
    """What will be installed: provider wheels (no dependencies) and their other requirements."""

    wheels: dict[str, Path] = field(default_factory=dict)  # canonical name -> downloaded wheel
    versions: dict[str, str] = field(default_factory=dict)  # canonical name -> version
    requirements: dict[str, Requirement] = field(default_factory=dict)  # non-provider, merged
    already: dict[str, str] = field(default_factory=dict)  # providers kept as installed
    dropped: set[str] = field(default_factory=set)  # Airflow core requirements left out


def _pip(args: list[str], what: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as exc:  # pragma: no cover - the interpreter itself is missing
        raise ProviderInstallError(f"{what}: cannot run pip: {exc}") from None
    if result.returncode != 0:
        if "No module named pip" in result.stderr:
            raise ProviderInstallError(f"{what}: pip is not installed in this environment ({sys.executable})")
        raise ProviderInstallError(f"{what} failed:\n{_last_lines(result.stderr or result.stdout)}",
                                   result.stdout + result.stderr)
    return result


def _last_lines(text: str, count: int = 8) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip() and not line.startswith("WARNING: Location")]
    return "\n".join(line if len(line) < 400 else line[:300] + " ... " + line[-80:] for line in lines[-count:])


_NETWORK_ERRORS = ("NewConnectionError", "Failed to establish", "Temporary failure in name resolution",
                   "Max retries exceeded", "ConnectTimeoutError", "ReadTimeoutError")


def _download(requirement: str, dest: Path) -> Path:
    try:
        result = _pip(["download", "--no-deps", "--only-binary", ":all:", "--dest", str(dest), requirement],
                      f"downloading {requirement}")
    except ProviderInstallError as exc:
        text, output = str(exc), exc.output
        if any(sign in output for sign in _NETWORK_ERRORS):
            raise ProviderInstallError(f"cannot reach the package index to download {requirement} "
                                       f"(no network? pip's index settings apply)\n{text}") from None
        if "No matching distribution" in output or "Could not find a version" in output:
            name = canonicalize_name(Requirement(requirement).name)
            hints = [h for h in suggest(name) if distribution_name(h) != name]
            hint = f"; did you mean {', '.join(hints)}?" if hints else ""
            raise ProviderInstallError(
                f"no release of {requirement} found on the package index (is the index reachable? "
                f"is the version right?){hint}\n{text}") from None
        raise
    # pip says where the wheel is: "Saved <path>" or "File was already downloaded <path>"
    for line in result.stdout.splitlines():
        for marker in ("Saved ", "File was already downloaded "):
            if line.strip().startswith(marker) and line.strip().endswith(".whl"):
                return Path(line.strip()[len(marker):])
    raise ProviderInstallError(f"pip downloaded no wheel for {requirement}:\n{_last_lines(result.stdout)}")


def _wheel_requires(wheel: Path) -> tuple[str, list[Requirement]]:
    """The version and the ``Requires-Dist`` of a wheel (markers for this interpreter, no extras)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    version, requires = "", []
    env = default_environment()
    for line in metadata.splitlines():
        if line.startswith("Version:"):
            version = line.split(":", 1)[1].strip()
        elif line.startswith("Requires-Dist:"):
            req = Requirement(line.split(":", 1)[1].strip())
            if req.marker is None or req.marker.evaluate({**env, "extra": ""}):
                requires.append(req)
        elif not line.strip():
            break  # the body (description) follows the headers
    return version, requires


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def plan(names: list[str], version: str | None, dest: Path, progress: Progress) -> InstallPlan:
    """Download the providers named and the providers they need; collect everything else they need."""
    if version is not None and len(names) != 1:
        raise ProviderInstallError("--version applies to one provider: give exactly one name")
    queue: list[Requirement] = []
    for name in names:
        base, _, pinned = name.partition("==")
        try:
            check_known(base)
        except UnknownProviderError as exc:
            raise ProviderInstallError(str(exc)) from None
        spec = version or pinned
        queue.append(Requirement(distribution_name(base) + (f"=={spec}" if spec else "")))
    result = InstallPlan()
    explicit = {canonicalize_name(r.name) for r in queue}
    wanted: dict[str, SpecifierSet] = {}
    while queue:
        req = queue.pop(0)
        key = canonicalize_name(req.name)
        wanted[key] = wanted.get(key, SpecifierSet()) & req.specifier
        have = result.versions.get(key)
        if have is not None and wanted[key].contains(have, prereleases=True):
            continue  # downloaded already, and it satisfies this requirement too
        installed = _installed_version(key)
        if key not in explicit and installed is not None and wanted[key].contains(installed, prereleases=True):
            result.already[key] = installed
            continue  # a needed provider that is installed at a fitting version stays as it is
        spec = str(wanted[key])
        progress(f"Downloading {key}{spec or ''}")
        wheel = _download(f"{key}{spec}", dest)
        version_found, requires = _wheel_requires(wheel)
        result.wheels[key], result.versions[key] = wheel, version_found
        requires = [*requires, *map(Requirement, UNDECLARED_CORE_REQUIREMENTS.get(key, ()))]
        for need in requires:
            need_key = canonicalize_name(need.name)
            if need_key in AIRFLOW_CORE_DISTRIBUTIONS:
                _check_airflow_range(key, version_found, need)
                result.dropped.add(need_key)
            elif need_key.startswith(DIST_PREFIX):
                progress(f"  {key} {version_found} needs {need}")
                queue.append(need)
            else:
                merged = result.requirements.get(need_key)
                if merged is not None:
                    need = Requirement(f"{need.name}{merged.specifier & need.specifier}")
                result.requirements[need_key] = need
    return result


def _check_airflow_range(provider: str, version: str, need: Requirement) -> None:
    """A provider that wants another Airflow than the one Tradewind reports would refuse to import
    (its ``__init__`` compares ``airflow.__version__``): say so now, not at the DAG's import."""
    from tradewind.compat.provider_core import AIRFLOW_VERSION

    if canonicalize_name(need.name) == "apache-airflow" and not need.specifier.contains(
            AIRFLOW_VERSION, prereleases=True):
        raise ProviderInstallError(
            f"{provider} {version} requires {need}, and Tradewind stands in for Apache Airflow "
            f"{AIRFLOW_VERSION}: choose a release of {provider} that accepts it (--version)")


def _constraints(dest: Path) -> Path | None:
    """Tradewind's own requirements as a pip constraints file (ranges pip must keep to)."""
    try:
        requires = importlib.metadata.requires("tradewind") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    env = default_environment()
    lines = []
    for text in requires:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
            continue
        if req.specifier:
            lines.append(f"{req.name}{req.specifier}")
    path = dest / "tradewind-constraints.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def install(names: list[str], version: str | None = None, progress: Progress = print,
            without: tuple[str, ...] = ()) -> InstallPlan:
    """Install the providers ``names`` and what they need, without Apache Airflow's core.

    ``without``: requirements to leave out too (e.g. ``mysqlclient``, which builds from source and
    which Tradewind's native MySqlHook does not use); they are reported, never silently dropped.
    """
    if not names:
        raise ProviderInstallError("name at least one provider, e.g. `tradewind providers install ssh`")
    with tempfile.TemporaryDirectory(prefix="tradewind-providers-") as tmp:
        dest = Path(tmp)
        result = plan(names, version, dest, progress)
        skipped = {canonicalize_name(n) for n in without}
        unknown = sorted(skipped - set(result.requirements))
        if unknown:
            raise ProviderInstallError(
                f"--without {', '.join(unknown)}: not a requirement of these providers "
                f"(their requirements: {', '.join(sorted(result.requirements)) or 'none'})")
        for name in sorted(skipped):
            progress(f"Leaving out {result.requirements.pop(name)} (--without); what needs it will fail at import")
        if result.wheels:
            listing = ", ".join(f"{name} {result.versions[name]}" for name in result.wheels)
            progress(f"Installing {listing} (without Apache Airflow)")
            _pip(["install", "--no-deps", *[str(w) for w in result.wheels.values()]], "installing the providers")
        if result.requirements:
            reqs = [str(r) for r in result.requirements.values()]
            progress(f"Installing their requirements: {', '.join(reqs)}")
            constraints = _constraints(dest)
            extra = ["-c", str(constraints)] if constraints is not None else []
            _pip(["install", *extra, *reqs], "installing the providers' requirements")
    for name, installed in result.already.items():
        progress(f"Kept {name} {installed} (already installed)")
    if result.dropped:
        progress(f"Left out (Tradewind stands in for them): {', '.join(sorted(result.dropped))}")
    return result


__all__ = ["InstallPlan", "ProviderInstallError", "install", "normalize_id", "plan"]
