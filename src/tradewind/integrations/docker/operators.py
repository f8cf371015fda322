"""``DockerOperator``: run a command in a container on a Docker engine (the Docker SDK, ``docker`` extra).

The container's output goes line by line into the task log; the last line is the XCom (every
line with ``xcom_all=True``). A non-zero exit fails the try (or skips it for a code in
``skip_on_exit_code``). ``auto_remove``: ``"never"`` keeps the container, ``"success"`` removes it
when it exited 0, ``"force"`` always (Airflow's values; ``True``/``False`` mean success/never).
The engine is ``docker_url`` (default: ``DOCKER_HOST``, else the local socket).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.exceptions import TaskSkipped, TradewindException
from tradewind.definition.masking import mask_secret

__all__ = ["DockerOperator"]

_AUTO_REMOVE = {"never", "success", "force"}
_TAIL_LINES = 20


class DockerOperator(BaseOperator):
    """Runs ``command`` in a new container of ``image``."""

    template_fields = ("image", "command", "environment", "container_name")
    template_fields_renderers = {"environment": "json"}
    template_ext = (".sh", ".bash")
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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

    # ---------------------------------------------------------------------------- engine
    def engine_url(self) -> str:
        return self.docker_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"

    def get_client(self) -> Any:
        """A ``docker.DockerClient`` for the engine; a clear error when the SDK or the engine is missing."""
        try:
            import docker
        except ImportError:
            raise TradewindException("DockerOperator needs the Docker SDK: pip install 'tradewind[docker]'") from None
        url = self.engine_url()
        try:
            client = docker.DockerClient(base_url=url, version=self.api_version or "auto")
            client.ping()
        except docker.errors.DockerException as exc:
            raise TradewindException(f"the Docker engine at {url} is not reachable: {exc}") from None
        return client

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

    # ------------------------------------------------------------------------------- run
    def execute(self, context: dict[str, Any]) -> Any:
        return self.run_container(context, self.command, self._mounts())

    def run_container(self, context: dict[str, Any], command: Any, mounts: list[Any]) -> Any:
        """Create, start and follow the container; returns the XCom value (last line or all lines)."""
        import docker

        log = self.task_logger(context)
        client = self.get_client()
        for value in self.private_environment.values():
            mask_secret(value)
        options = {"command": command, "environment": {**self.environment, **self.private_environment},
                   "mounts": mounts, "network_mode": self.network_mode, "entrypoint": self.entrypoint,
                   "working_dir": self.working_dir, "user": self.user, "name": self.container_name,
                   "mem_limit": self.mem_limit, "detach": True}
        options = {k: v for k, v in options.items() if v is not None}
        if self.force_pull:
            log.info("Pulling image %s", self.image)
            client.images.pull(self.image)
        try:
            self.container = client.containers.create(self.image, **options)
        except docker.errors.ImageNotFound:
            log.info("Image %s is not present; pulling it", self.image)
            client.images.pull(self.image)
            self.container = client.containers.create(self.image, **options)
        except docker.errors.APIError as exc:
            raise TradewindException(f"cannot create a container of {self.image}: {exc}") from None
        lines: list[str] = []
        code: int | None = None
        try:
            self.container.start()
            log.info("Started container %s (%s)", self.container.short_id, self.image)
            buffer = ""
            for chunk in self.container.logs(stream=True, follow=True, stdout=True, stderr=True):
                buffer += chunk.decode("utf-8", errors="replace")
                *complete, buffer = buffer.split("\n")
                for line in complete:
                    log.info("%s", line)
                    lines.append(line)
            if buffer:
                log.info("%s", buffer)
                lines.append(buffer)
            code = int(self.container.wait().get("StatusCode", -1))
        finally:
            self._cleanup(code)
        if code in self.skip_on_exit_code:
            raise TaskSkipped(f"Container exited with code {code}; skipping (skip_on_exit_code)")
        if code != 0:
            tail = "\n".join(lines[-_TAIL_LINES:])
            raise TradewindException(f"container of {self.image} exited with code {code}:\n{tail}")
        if self.xcom_all:
            return lines
        return lines[-1] if lines else None

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
