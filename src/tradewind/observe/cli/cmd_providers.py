"""``tradewind providers``: list, inspect and install Airflow provider packages.

``list`` shows every provider usable here: native (Tradewind implements it), bridged (its
installed distribution's files run on Tradewind) or native+bridged, with versions and what is known
not to work. ``install`` installs ``apache-airflow-providers-<name>`` and what it needs, without
Apache Airflow's core (docs/providers.md). No database is opened.
"""

from __future__ import annotations

import click

from tradewind.observe.cli.common import CliError, output_option, render, render_mapping

_COLUMNS = ("name", "package", "mode", "version", "installed_version", "known_limitations")


@click.group("providers")
def providers_group() -> None:
    """Airflow provider packages: which are usable here (native or bridged), and installing them."""


@providers_group.command("list")
@output_option
def providers_list(output: str) -> None:
    """Every provider usable here: native, bridged (installed distribution) or native+bridged.

    \b
    Examples:
      tradewind providers list
      tradewind providers list -o json
    """
    from tradewind.compat.providers import list_providers

    rows = [row.to_dict() for row in list_providers()]
    if output.lower() == "json":
        render(rows, list(rows[0]) if rows else list(_COLUMNS), output)
        return
    for row in rows:
        row["known_limitations"] = len(row["known_limitations"]) or ""
    render(rows, _COLUMNS, output, title="Airflow providers (known_limitations: count; see `providers get`)")


@providers_group.command("get")
@click.argument("name")
@output_option
def providers_get(name: str, output: str) -> None:
    """One provider: how it is served, its native modules and its known limitations.

    \b
    Example:
      tradewind providers get amazon
    """
    from tradewind.compat.providers import UnknownProviderError, get_provider

    try:
        info = get_provider(name)
    except UnknownProviderError as exc:
        raise CliError(str(exc)) from None
    data = info.to_dict()
    if output.lower() != "json":
        data["native_modules"] = "\n".join(data["native_modules"])
        data["known_limitations"] = "\n".join(f"- {item}" for item in data["known_limitations"])
    render_mapping(data, output)


@providers_group.command("install")
@click.argument("names", nargs=-1, required=True)
@click.option("--version", "version", default=None, help="Install this version of the (single) provider named.")
@click.option("--without", "without", multiple=True, metavar="REQUIREMENT",
              help="Leave out this requirement of the providers (repeatable), e.g. mysqlclient.")
def providers_install(names: tuple[str, ...], version: str | None, without: tuple[str, ...]) -> None:
    """Install provider packages and their own dependencies, without Apache Airflow's core.

    NAMES are provider names as in apache-airflow-providers-NAME (ssh, common-sql, amazon...).
    Providers they need are installed too; apache-airflow, apache-airflow-core and
    apache-airflow-task-sdk are not (Tradewind stands in for them).

    \b
    Examples:
      tradewind providers install ssh slack
      tradewind providers install redis --version 4.3.0
      tradewind providers install mysql --without mysqlclient   # no C compiler / client headers
    """
    from tradewind.compat.provider_install import ProviderInstallError, install

    try:
        install(list(names), version, progress=lambda line: click.echo(line, err=True), without=without)
    except ProviderInstallError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"Installed: {', '.join(names)}. `tradewind providers list` shows what is usable.")
