"""``DockerOperator``: run a command in a container on a Docker engine (the Docker SDK, ``docker`` extra).

The container's output goes line by line into the task log; the last line is the XCom (every
line with ``xcom_all=True``). A non-zero exit fails the try (or skips it for a code in
``skip_on_exit_code``). ``auto_remove``: ``"never"`` keeps the container, ``"success"`` removes it
when it exited 0, ``"force"`` always (Airflow's values; ``True``/``False`` mean success/never).
The engine is ``docker_url`` (default: ``DOCKER_HOST``, else the local socket; a list of URLs is
tried in order), reached with ``tls_*`` certificates and logged in to the registry of
``docker_conn_id`` when given.

Every argument of the Docker provider's ``DockerOperator`` is accepted and acts as documented
there: the container's resources and settings (``cpus``, ``mem_limit``, ``shm_size``, ``tty``,
``hostname``, ``privileged``, ``cap_add``, ``dns``, ``dns_search``, ``extra_hosts``,
``device_requests``, ``ipc_mode``, ``port_bindings``, ``ulimits``, ``labels``, ``log_opts_*``),
``env_file``, a host temporary directory mounted at ``tmp_dir`` (``mount_tmp_dir``, default on, with
``AIRFLOW_TMP_DIR`` set; skipped with a warning when the engine cannot mount it), and
``retrieve_output`` (the pickled file at ``retrieve_output_path`` becomes the XCom). The one
exception, noted in the task log when set: ``tls_hostname`` and ``tls_ssl_version``, which the
Docker SDK (7.x) no longer offers.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.exceptions import TaskSkipped, TradewindException
from tradewind.definition.masking import mask_secret

__all__ = ["DockerOperator"]

_AUTO_REMOVE = {"never", "success", "force"}
_TAIL_LINES = 20
#: The provider's default for API calls to the engine, in seconds.
_DEFAULT_TIMEOUT = 60


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines of a ``.env`` file (comments, blank lines, ``export`` and quotes allowed)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, sep, value = line.partition("=")
        if not sep:
            continue  # a name without a value sets nothing (as python-dotenv's None is dropped)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[name.strip()] = value
    return values


def _volume_mount(spec: Any, task_id: str) -> dict[str, Any]:
    """``"host:container[:ro|rw]"`` (the old ``volumes`` form) as a bind mount."""
    parts = str(spec).split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1] or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
        raise TradewindException(f"DockerOperator {task_id!r}: volume {spec!r} is not 'host_path:container_path[:ro]'")
    return {"source": parts[0], "target": parts[1], "type": "bind", "read_only": len(parts) == 3 and parts[2] == "ro"}


def format_command(command: Any) -> Any:
    """A command string that is a JSON list (``'["echo", "hi"]'``) becomes that list, as in Airflow."""
    if isinstance(command, str) and command.strip().startswith("["):
        try:
            parsed = json.loads(command)
        except ValueError:
            return command
        return parsed if isinstance(parsed, list) else command
    return command


class DockerOperator(BaseOperator):
    """Runs ``command`` in a new container of ``image``."""

    template_fields = ("image", "command", "environment", "env_file", "container_name")
    template_fields_renderers = {"environment": "json", "env_file": "yaml"}
    template_ext = (".sh", ".bash", ".env")
    ui_color = "#dae9f7"

    def __init__(
        self,
        *,
        image: str,
        command: str | Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        private_environment: Mapping[str, str] | None = None,
        mounts: Iterable[Any] | None = None,
        auto_remove: bool | str = "never",
        network_mode: str | None = None,
        docker_url: str | None = None,
        api_version: str | None = None,
        entrypoint: str | Sequence[str] | None = None,
        working_dir: str | None = None,
        user: str | int | None = None,
        container_name: str | None = None,
        force_pull: bool = False,
        mem_limit: str | int | None = None,
        xcom_all: bool = False,
        skip_on_exit_code: int | Iterable[int] | None = None,
        cpus: float = 1.0,
        env_file: str | None = None,
        host_tmp_dir: str | None = None,
        mount_tmp_dir: bool = True,
        tmp_dir: str = "/tmp/airflow",
        tls_ca_cert: str | None = None,
        tls_client_cert: str | None = None,
        tls_client_key: str | None = None,
        tls_verify: bool = True,
        tls_hostname: str | bool | None = None,
        tls_ssl_version: str | None = None,
        docker_conn_id: str | None = None,
        dns: list[str] | None = None,
        dns_search: list[str] | None = None,
        shm_size: int | None = None,
        tty: bool = False,
        hostname: str | None = None,
        privileged: bool = False,
        cap_add: Iterable[str] | None = None,
        extra_hosts: dict[str, str] | None = None,
        retrieve_output: bool = False,
        retrieve_output_path: str | None = None,
        timeout: int = _DEFAULT_TIMEOUT,
        device_requests: list[Any] | None = None,
        log_opts_max_size: str | None = None,
        log_opts_max_file: str | None = None,
        ipc_mode: str | None = None,
        port_bindings: dict[Any, Any] | None = None,
        ulimits: list[Any] | None = None,
        labels: dict[str, str] | list[str] | None = None,
        volumes: Iterable[str] | None = None,
        skip_exit_code: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # Arguments of the Docker provider before 3.0 (as in DAG files of that era's books).
        if volumes:
            self.deprecation_notes.append("DockerOperator volumes is deprecated (Docker provider < 3.0); "
                                          "use mounts (each 'host:container[:ro]' became a bind mount)")
            mounts = [*(mounts or []), *(_volume_mount(v, self.task_id) for v in volumes)]
        if skip_exit_code is not None:
            self.deprecation_notes.append("DockerOperator skip_exit_code is deprecated; use skip_on_exit_code")
            skip_on_exit_code = skip_exit_code if skip_on_exit_code is None else skip_on_exit_code
        if not image:
            raise TradewindException(f"DockerOperator {self.task_id!r} needs an image")
        if isinstance(auto_remove, bool):
            auto_remove = "success" if auto_remove else "never"
        if auto_remove not in _AUTO_REMOVE:
            raise TradewindException(f"DockerOperator {self.task_id!r}: auto_remove={auto_remove!r}; expected one of "
                                     f"{sorted(_AUTO_REMOVE)} (or True/False)")
        self.image = image
        self.command = command
        self.environment = dict(environment or {})
        self.private_environment = dict(private_environment or {})
        self.mounts = list(mounts or [])
        self.auto_remove = auto_remove
        self.network_mode = network_mode
        self.docker_url = docker_url
        self.api_version = api_version
        self.entrypoint = entrypoint
        self.working_dir = working_dir
        self.user = user
        self.container_name = container_name
        self.force_pull = force_pull
        self.mem_limit = mem_limit
        self.xcom_all = xcom_all
        codes = () if skip_on_exit_code is None else (
            (skip_on_exit_code,) if isinstance(skip_on_exit_code, int) else tuple(skip_on_exit_code))
        self.skip_on_exit_code = tuple(int(c) for c in codes)
        self.container: Any = None
        self.cpus, self.env_file = cpus, env_file
        self.host_tmp_dir, self.mount_tmp_dir, self.tmp_dir = host_tmp_dir, mount_tmp_dir, tmp_dir
        self.tls_ca_cert, self.tls_client_cert, self.tls_client_key = tls_ca_cert, tls_client_cert, tls_client_key
        self.tls_verify, self.tls_hostname, self.tls_ssl_version = tls_verify, tls_hostname, tls_ssl_version
        self.docker_conn_id = docker_conn_id
        self.dns, self.dns_search, self.shm_size, self.tty = dns, dns_search, shm_size, tty
        self.hostname, self.privileged, self.cap_add, self.extra_hosts = hostname, privileged, cap_add, extra_hosts
        self.retrieve_output, self.retrieve_output_path = retrieve_output, retrieve_output_path
        self.timeout = timeout
        self.device_requests, self.ipc_mode, self.labels = device_requests, ipc_mode, labels
        self.log_opts_max_size, self.log_opts_max_file = log_opts_max_size, log_opts_max_file
        self.port_bindings = dict(port_bindings or {})
        self.ulimits = list(ulimits or [])
        if self.port_bindings and network_mode == "host":
            raise TradewindException(f"DockerOperator {self.task_id!r}: port_bindings cannot be used with "
                                     "network_mode='host'")
        if retrieve_output and not retrieve_output_path:
            raise TradewindException(f"DockerOperator {self.task_id!r}: retrieve_output=True needs "
                                     "retrieve_output_path (the file in the container to read)")

    # ---------------------------------------------------------------------------- engine
    def engine_urls(self) -> list[str]:
        urls = self.docker_url if isinstance(self.docker_url, (list, tuple)) else [self.docker_url]
        urls = [u for u in urls if u]
        return urls or [os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"]

    def engine_url(self) -> str:
        return self.engine_urls()[0]

    def _tls_config(self, log: Any) -> Any:
        if self.tls_hostname not in (None, True) or self.tls_ssl_version:
            log.warning("DockerOperator: tls_hostname and tls_ssl_version are not offered by the Docker SDK "
                        "(7.x) and are ignored; the engine's certificate is checked against its host name")
        if not (self.tls_ca_cert or self.tls_client_cert or self.tls_client_key):
            return None
        from docker.tls import TLSConfig

        client_cert = (self.tls_client_cert, self.tls_client_key) if self.tls_client_cert and self.tls_client_key \
            else None
        return TLSConfig(client_cert=client_cert, ca_cert=self.tls_ca_cert,
                         verify=self.tls_ca_cert if self.tls_verify and self.tls_ca_cert else self.tls_verify)

    def get_client(self, log: Any = None) -> Any:
        """A ``docker.DockerClient`` for the first reachable engine; a clear error when the SDK or
        every engine is missing. Logged in to ``docker_conn_id``'s registry when given."""
        try:
            import docker
        except ImportError:
            raise TradewindException("DockerOperator needs the Docker SDK: pip install 'tradewind[docker]'") from None
        log = log or self.log
        tls = self._tls_config(log)
        failures: list[tuple[str, Exception]] = []
        for url in self.engine_urls():
            try:
                client = docker.DockerClient(base_url=url, version=self.api_version or "auto", tls=tls or False,
                                             timeout=self.timeout)
                client.ping()
            except docker.errors.DockerException as exc:
                failures.append((url, exc))
                continue
            self._login(client, log)
            return client
        if len(failures) == 1:
            raise TradewindException(f"the Docker engine at {failures[0][0]} is not reachable: {failures[0][1]}")
        raise TradewindException("no Docker engine is reachable: " + "; ".join(f"{u}: {e}" for u, e in failures))

    def _login(self, client: Any, log: Any) -> None:
        if not self.docker_conn_id:
            return
        from tradewind.definition.connection import get_connection

        conn = get_connection(self.docker_conn_id)
        if not conn.host:
            raise TradewindException(f"Docker connection {self.docker_conn_id!r} has no host (the registry)")
        registry = f"{conn.host}:{conn.port}" if conn.port else conn.host
        extra = conn.extra_dejson if isinstance(getattr(conn, "extra_dejson", None), dict) else {}
        client.login(username=conn.login, password=conn.password, registry=registry, email=extra.get("email"),
                     reauth=bool(extra.get("reauth", True)))
        log.info("Logged in to the Docker registry %s as %s", registry, conn.login)

    def _mounts(self) -> list[Any]:
        from docker.types import Mount

        out = []
        for mount in self.mounts:
            if isinstance(mount, Mount):
                out.append(mount)
            elif isinstance(mount, Mapping) and "target" in mount:
                out.append(Mount(target=mount["target"], source=mount.get("source"), type=mount.get("type", "bind"),
                                 read_only=bool(mount.get("read_only", False))))
            else:
                raise TradewindException(f"DockerOperator {self.task_id!r}: mount {mount!r} must be a docker.types.Mount "
                                         "or a dict with target, source, type, read_only")
        return out

    def create_options(self, command: Any, mounts: list[Any], *, tmp_mounted: bool) -> dict[str, Any]:
        """The keyword arguments of ``containers.create`` for this task (the SDK's names)."""
        environment = {**(parse_env_file(self.env_file) if self.env_file else {}), **self.environment,
                       **self.private_environment}
        if tmp_mounted:
            environment["AIRFLOW_TMP_DIR"] = self.tmp_dir
        log_config = {k: v for k, v in (("max-size", self.log_opts_max_size), ("max-file", self.log_opts_max_file))
                      if v is not None}
        options: dict[str, Any] = {
            "command": format_command(command), "environment": environment, "mounts": mounts,
            "network_mode": self.network_mode, "entrypoint": self.entrypoint, "working_dir": self.working_dir,
            "user": self.user, "name": self.container_name, "mem_limit": self.mem_limit, "detach": True,
            "cpu_shares": int(round(self.cpus * 1024)), "dns": self.dns, "dns_search": self.dns_search,
            "shm_size": self.shm_size, "tty": self.tty, "hostname": self.hostname, "privileged": self.privileged,
            "cap_add": list(self.cap_add) if self.cap_add else None, "extra_hosts": self.extra_hosts,
            "device_requests": self.device_requests, "ipc_mode": self.ipc_mode,
            "ports": self.port_bindings or None, "ulimits": self.ulimits or None, "labels": self.labels,
            "log_config": {"type": "json-file", "config": log_config} if log_config else None,
        }
        return {k: v for k, v in options.items() if v is not None}

    # ------------------------------------------------------------------------------- run
    def execute(self, context: dict[str, Any]) -> Any:
        return self.run_container(context, self.command, self._mounts())

    def run_container(self, context: dict[str, Any], command: Any, mounts: list[Any]) -> Any:
        """Run the container (with the host temporary directory mounted when ``mount_tmp_dir``)."""
        import docker
        from docker.types import Mount

        log = self.task_logger(context)
        client = self.get_client(log)
        for value in self.private_environment.values():
            mask_secret(value)
        try:
            if not self.mount_tmp_dir:
                return self._run(client, log, command, mounts, tmp_mounted=False)
            with tempfile.TemporaryDirectory(prefix="airflowtmp", dir=self.host_tmp_dir) as host_tmp:
                try:
                    return self._run(client, log, command, [*mounts, Mount(self.tmp_dir, host_tmp, "bind")],
                                     tmp_mounted=True)
                except docker.errors.APIError as exc:
                    if host_tmp not in str(exc):
                        raise
                    # A remote engine (or docker-in-docker) cannot bind-mount this host's directory.
                    log.warning("The Docker engine cannot mount the host temporary directory %s (a remote engine "
                                "or docker-in-docker?); running without it. Set mount_tmp_dir=False to remove "
                                "this warning", host_tmp)
                    return self._run(client, log, command, mounts, tmp_mounted=False)
        except docker.errors.APIError as exc:
            raise TradewindException(f"the Docker engine refused the container of {self.image}: {exc}") from None

    def _create(self, client: Any, log: Any, options: dict[str, Any]) -> Any:
        import docker

        if self.force_pull:
            log.info("Pulling image %s", self.image)
            client.images.pull(self.image)
        try:
            return client.containers.create(self.image, **options)
        except docker.errors.ImageNotFound:
            log.info("Image %s is not present; pulling it", self.image)
            client.images.pull(self.image)
            return client.containers.create(self.image, **options)

    def _run(self, client: Any, log: Any, command: Any, mounts: list[Any], *, tmp_mounted: bool) -> Any:
        """Create, start and follow the container; returns the XCom value (last line, all lines or
        the retrieved output file)."""
        self.container = self._create(client, log, self.create_options(command, mounts, tmp_mounted=tmp_mounted))
        lines: list[str] = []
        code: int | None = None
        retrieved: Any = None
        try:
            self.container.start()
            log.info("Started container %s (%s)", self.container.short_id, self.image)
            buffer = ""
            for chunk in self.container.logs(stream=True, follow=True, stdout=True, stderr=True):
                buffer += chunk.decode("utf-8", errors="replace")
                *complete, buffer = buffer.split("\n")
                for line in complete:
                    line = line.rstrip("\r")  # a tty ends lines with CRLF
                    log.info("%s", line)
                    lines.append(line)
            if buffer:
                log.info("%s", buffer)
                lines.append(buffer)
            code = int(self.container.wait().get("StatusCode", -1))
            if code == 0 and self.retrieve_output:
                retrieved = self._retrieve_output(log)
        finally:
            self._cleanup(code)
        if code in self.skip_on_exit_code:
            raise TaskSkipped(f"Container exited with code {code}; skipping (skip_on_exit_code)")
        if code != 0:
            tail = "\n".join(lines[-_TAIL_LINES:])
            raise TradewindException(f"container of {self.image} exited with code {code}:\n{tail}")
        if self.retrieve_output:
            return retrieved
        if self.xcom_all:
            return lines
        return lines[-1] if lines else None

    def _retrieve_output(self, log: Any) -> Any:
        """The file at ``retrieve_output_path`` in the stopped container: unpickled when it is a
        pickle (Airflow's contract), else its bytes as text."""
        import docker

        try:
            stream, _stat = self.container.get_archive(self.retrieve_output_path)
        except docker.errors.NotFound:
            log.warning("retrieve_output_path %s does not exist in the container", self.retrieve_output_path)
            return None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            member = next((m for m in archive.getmembers() if m.isfile()), None)
            handle = archive.extractfile(member) if member is not None else None
            data = handle.read() if handle is not None else b""
        try:
            return pickle.loads(data)  # noqa: S301 - the task's own container wrote it, as in Airflow
        except Exception:  # noqa: BLE001 - not a pickle: the text itself
            return data.decode("utf-8", errors="replace")

    def _cleanup(self, code: int | None) -> None:
        """Stop a container still running (timeout, kill) and remove it as ``auto_remove`` says."""
        if self.container is None:
            return
        if code is None:
            try:
                self.container.stop(timeout=5)
            except Exception:  # noqa: BLE001 - best effort: it may have exited meanwhile
                pass
        if self.auto_remove == "force" or (self.auto_remove == "success" and code == 0):
            self.container.remove(force=True)

    def on_kill(self) -> None:
        self._cleanup(None)
