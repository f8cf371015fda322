"""``tradewind api-server``: the REST API and web UI alone (no scheduler), served by uvicorn.

For a deployment where the scheduler runs elsewhere; ``tradewind standalone`` serves the same
app next to everything else. The database must already be migrated (``tradewind db migrate``).
"""

from __future__ import annotations

import click

from tradewind.observe.cli.common import CliContext, CliError, pass_cli


@click.command("api-server")
@click.option("--host", "-H", default=None, help="Address to listen on (default: [api] host).")
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=None, help="Port (default: [api] port).")
@pass_cli
def api_server_command(cli: CliContext, host: str | None, port: int | None) -> None:
    """Serve the REST API (/api/v1) and the web UI until Ctrl-C.

    \b
    Example:
      tradewind api-server --port 8080
    """
    import uvicorn

    from tradewind.observe import runtime
    from tradewind.observe.api.app import create_app
    from tradewind.observe.standalone import StandaloneError, bind_socket

    host = host or cli.config.get("api", "host")
    port = cli.config.getint("api", "port") if port is None else port
    db = cli.migrated_db()
    runtime.install_variable_backend(db)
    try:
        sock = bind_socket(host, port)
    except StandaloneError as exc:
        raise CliError(str(exc)) from None
    app = create_app(cli.config, db)
    shown = "localhost" if host in ("0.0.0.0", "::", "") else host
    click.echo(f"Tradewind API server on http://{shown}:{sock.getsockname()[1]} (Ctrl-C to stop)")
    from tradewind.observe.api.limits import uvicorn_forwarded_allow_ips

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                           forwarded_allow_ips=uvicorn_forwarded_allow_ips(cli.config)))
    server.run(sockets=[sock])
