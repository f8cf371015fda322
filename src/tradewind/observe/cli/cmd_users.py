"""``tradewind users``: create, list, delete users of the API/UI and reset their passwords.

Airflow's flags (``--username``, ``--password``, ``--role``, ``--email``, ``--firstname``,
``--lastname``). Without ``--password`` the password is asked twice, hidden. Every change is
audited (``user.create``, ``user.delete``, ``user.reset_password``); passwords never are.
"""

from __future__ import annotations

import click

from tradewind.observe.cli.common import CliContext, CliError, audit, output_option, pass_cli, render

USER_COLUMNS = ["id", "username", "email", "first_name", "last_name", "role", "active", "last_login"]
ROLE_HELP = "One of viewer, user, op, admin (Airflow's roles; case does not matter)."


def _password(password: str | None) -> str:
    if password is not None:
        if password == "":
            raise CliError("the password must not be empty")
        return password
    entered = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat for confirmation")
    if entered == "":
        raise CliError("the password must not be empty")
    return entered


@click.group("users")
def users_group() -> None:
    """Manage the users who log in to the web UI and REST API."""


@users_group.command("create")
@click.option("--username", "-u", required=True, help="Login name (unique).")
@click.option("--role", "-r", required=True, help=ROLE_HELP)
@click.option("--password", "-p", default=None, help="Password; asked (hidden, twice) when omitted.")
@click.option("--email", "-e", default=None, help="Email address.")
@click.option("--firstname", "-f", default="", help="First name.")
@click.option("--lastname", "-l", default="", help="Last name.")
@pass_cli
def users_create(cli: CliContext, username: str, role: str, password: str | None, email: str | None,
                 firstname: str, lastname: str) -> None:
    """Create a user.

    \b
    Example:
      tradewind users create --username ada --role admin --email ada@example.com
    """
    from tradewind.persist.db import utcnow
    from tradewind.persist.queries.users import UserError, create_user, normalise_role, validate_username

    try:  # bad input is refused before the password is asked for
        validate_username(username)
        role = normalise_role(role)
    except UserError as exc:
        raise CliError(str(exc)) from None
    secret = _password(password)
    try:
        with cli.migrated_db().session_scope() as session:
            create_user(session, username=username, password=secret, role=role, email=email,
                        first_name=firstname, last_name=lastname, now=utcnow())
            audit(session, "user.create", extra={"username": username, "role": role})
    except UserError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"User {username} created with role {role}.")


@users_group.command("list")
@output_option
@pass_cli
def users_list(cli: CliContext, output: str) -> None:
    """List users (never their passwords).

    \b
    Example:
      tradewind users list -o json
    """
    from tradewind.persist.queries.users import list_users, user_dict

    with cli.migrated_db().session_scope() as session:
        rows = [user_dict(user) for user in list_users(session)]
    render(rows, USER_COLUMNS, output)


@users_group.command("delete")
@click.option("--username", "-u", required=True, help="The user to delete.")
@pass_cli
def users_delete(cli: CliContext, username: str) -> None:
    """Delete a user; its tokens and sessions stop working.

    \b
    Example:
      tradewind users delete --username ada
    """
    from tradewind.persist.queries.users import UserError, delete_user

    try:
        with cli.migrated_db().session_scope() as session:
            delete_user(session, username)
            audit(session, "user.delete", extra={"username": username})
    except UserError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"User {username} deleted.")


@users_group.command("reset-password")
@click.option("--username", "-u", required=True, help="The user whose password to set.")
@click.option("--password", "-p", default=None, help="New password; asked (hidden, twice) when omitted.")
@pass_cli
def users_reset_password(cli: CliContext, username: str, password: str | None) -> None:
    """Set a user's password; tokens issued with the old one stop working.

    \b
    Example:
      tradewind users reset-password --username ada
    """
    from tradewind.persist.queries.users import UserError, get_user, set_password

    with cli.migrated_db().session_scope() as session:
        if get_user(session, username) is None:
            raise CliError(f"user {username!r} does not exist")
    secret = _password(password)
    try:
        with cli.migrated_db().session_scope() as session:
            set_password(session, username, secret)
            audit(session, "user.reset_password", extra={"username": username})
    except UserError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"Password of {username} reset.")
