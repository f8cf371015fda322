"""Test "hosts" on one machine: Linux network namespaces joined by a bridge.

Each :class:`Host` is a network namespace ``tw-<name>`` with its own interface and address
``10.231.0.N/24``, cabled by a veth pair to the bridge ``tw-br0`` in the root namespace, which
has ``10.231.0.1``. A process started with :meth:`Host.popen` sees only that interface (and its
own loopback): it reaches the services of the root namespace (PostgreSQL, Redis listening on
``10.231.0.1``) and the other hosts at their addresses, the way separate machines on one
network would -- ``localhost`` inside a host is that host alone, so nothing reaches another
process by accident.

Every name this module creates starts with ``tw-``; :meth:`Lab.start` first removes whatever a
crashed earlier session left behind, and :meth:`Lab.stop` removes everything (processes first).

Needs root and ``ip`` (iproute2; ``scripts/install-services.sh`` installs it). Without them the
tests that use the ``lab`` are skipped, or fail under ``CI=true`` (:mod:`service_support`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from service_support import serve, unavailable

PREFIX = "tw-"
BRIDGE = f"{PREFIX}br0"
SUBNET = "10.231.0"
ROOT_ADDRESS = f"{SUBNET}.1"
PREFIX_LEN = 24
INSTALL_HINT = "install iproute2 with: sudo scripts/install-services.sh"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``ip ARGS``; a failure raises with ip's own message."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def why_unavailable() -> str | None:
    """The reason network namespaces cannot be used here, or None."""
    if shutil.which("ip") is None:
        return f"'ip' not found; {INSTALL_HINT}"
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    probe = f"{PREFIX}probe"
    ip("netns", "del", probe, check=False)
    result = ip("netns", "add", probe, check=False)
    if result.returncode != 0:
        return f"cannot create a network namespace: {result.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


def remove_leftovers() -> None:
    """Delete every ``tw-`` namespace and link (a crashed session's), killing what runs in them."""
    for line in ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        if name.startswith(PREFIX):
            pids = ip("netns", "pids", name, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            ip("netns", "del", name, check=False)
    for line in ip("-o", "link", "show", check=False).stdout.splitlines():
        parts = line.split(":")
        if len(parts) > 1:
            name = parts[1].strip().split("@")[0]
            if name.startswith(PREFIX):
                ip("link", "del", name, check=False)


@dataclass
class Host:
    """One namespace host: ``name``, ``address``, and the processes started in it."""

    name: str
    index: int
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def netns(self) -> str:
        return f"{PREFIX}{self.name}"

    @property
    def address(self) -> str:
        return f"{SUBNET}.{self.index}"

    def popen(self, argv: list[str], *, env: dict[str, str] | None = None, log: Path | None = None,
              **kwargs) -> subprocess.Popen:
        """Start ``argv`` inside this host's namespace (``ip netns exec``), in its own process
        group (so :meth:`kill` ends its children too); output goes to ``log`` when given."""
        out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - closed below
        try:
            proc = subprocess.Popen(["ip", "netns", "exec", self.netns, *argv], env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
        finally:
            if log is not None:
                out.close()
        self.procs.append(proc)
        return proc

    def run(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        """Run ``argv`` to its end inside this host's namespace."""
        return subprocess.run(["ip", "netns", "exec", self.netns, *argv], **kwargs)

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to ``proc``'s whole process group (``kill -9`` of a host's service)."""
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def kill_all(self) -> None:
        """``kill -9`` every process in this namespace, whatever session it is in: the host is gone."""
        for pid in ip("netns", "pids", self.netns, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        for proc in self.procs:
            if proc.poll() is None:
                proc.wait(timeout=30)

    def stop(self) -> None:
        """End this host's processes: SIGTERM, then SIGKILL whatever is left after 10 s."""
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill(proc)
        self.procs.clear()


class Lab:
    """The bridge and its hosts. ``start()`` cleans up and builds the bridge; ``add_host`` adds one."""

    def __init__(self) -> None:
        self.hosts: dict[str, Host] = {}

    def start(self) -> None:
        remove_leftovers()
        ip("link", "add", BRIDGE, "type", "bridge")
        ip("addr", "add", f"{ROOT_ADDRESS}/{PREFIX_LEN}", "dev", BRIDGE)
        ip("link", "set", BRIDGE, "up")

    def add_host(self, name: str) -> Host:
        """A new namespace ``tw-<name>`` at the next free address, its interface ``eth0`` up."""
        if name in self.hosts:
            raise ValueError(f"host {name!r} exists already")
        host = Host(name, index=len(self.hosts) + 2)
        outer, inner = f"{PREFIX}v{host.index}", f"{PREFIX}p{host.index}"
        ip("netns", "add", host.netns)
        ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        ip("link", "set", outer, "master", BRIDGE)
        ip("link", "set", outer, "up")
        ip("link", "set", inner, "netns", host.netns)
        ip("-n", host.netns, "link", "set", inner, "name", "eth0")
        ip("-n", host.netns, "addr", "add", f"{host.address}/{PREFIX_LEN}", "dev", "eth0")
        ip("-n", host.netns, "link", "set", "eth0", "up")
        ip("-n", host.netns, "link", "set", "lo", "up")
        ip("-n", host.netns, "route", "add", "default", "via", ROOT_ADDRESS)
        self.hosts[name] = host
        return host

    def stop(self) -> None:
        """Processes first, then namespaces (their veth ends go with them) and the bridge."""
        for host in self.hosts.values():
            host.stop()
        for host in self.hosts.values():
            ip("netns", "del", host.netns, check=False)
        self.hosts.clear()
        remove_leftovers()


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """A fresh bridge for the module's hosts; skipped (failed under CI=true) without root/``ip``."""
    reason = why_unavailable()
    if reason is not None:
        unavailable(reason)
    yield from serve(Lab())
