"""``tradewind config``: show effective settings and where each came from."""

from __future__ import annotations

import click

from tradewind.observe.cli.common import CliContext, CliError, output_option, pass_cli, render


@click.group("config")
def config_group() -> None:
    """View the configuration (defaults < tradewind.cfg < TRADEWIND__SECTION__KEY env vars)."""


@config_group.command("list")
@click.option("--section", "-s", help="Only this section, e.g. core.")
@output_option
@pass_cli
def config_list(cli: CliContext, section: str | None, output: str) -> None:
    """List every effective setting with its value and source (default, file, env).

    \b
    Examples:
      tradewind config list
      tradewind config list --section core -o json
    """
    settings = cli.config.effective()
    if section:
        wanted = section.lower()
        settings = [s for s in settings if s.section == wanted]
        if not settings:
            known = ", ".join(sorted({s.section for s in cli.config.effective()}))
            raise CliError(f"no section {section!r} in the configuration; sections: {known}")
    rows = [{"section": s.section, "key": s.key, "value": s.value, "source": s.source} for s in settings]
    render(rows, ["section", "key", "value", "source"], output)


@config_group.command("get-value")
@click.argument("section")
@click.argument("key")
@pass_cli
def config_get_value(cli: CliContext, section: str, key: str) -> None:
    """Print the effective value of one setting.

    \b
    Example:
      tradewind config get-value core dags_folder
    """
    from tradewind.config import ConfigError

    try:
        click.echo(cli.config.get(section, key))
    except ConfigError as exc:
        raise CliError(f"{exc} (see `tradewind config list`)") from None
