"""The acting user of a management command: `--as USERNAME`, else HERALD_CLI_USER, else the
operator (INTERFACE.md "Acting user on the command line")."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from core.rules import OPERATOR, Actor


def add_actor_argument(parser: CommandParser) -> None:
    """Add `--as USERNAME` to a command (or subcommand) parser."""
    parser.add_argument(
        "--as",
        dest="acting_user",
        metavar="USERNAME",
        default=None,
        help="act as this user (permissions, approval and audit); default HERALD_CLI_USER, "
        "else the operator",
    )


def cli_actor(username: str | None) -> Actor:
    """The user named by `--as` or HERALD_CLI_USER, or the operator when neither is set."""
    username = (username or getattr(settings, "HERALD_CLI_USER", "") or "").strip()
    if not username:
        return OPERATOR
    model = get_user_model()
    try:
        user = model._default_manager.get_by_natural_key(username)
    except model.DoesNotExist:
        raise CommandError(f"no user named {username!r} (--as / HERALD_CLI_USER)") from None
    if not user.is_active:
        raise CommandError(f"user {username!r} is inactive")
    return user
