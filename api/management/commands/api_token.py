"""`manage.py api_token create|revoke|list`: API tokens for operators (INTERFACE.md)."""

import json

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from api.models import ApiToken
from api.tokens import api_token_create, api_token_revoke, expiry_parse


class Command(BaseCommand):
    """Create (prints the token once), revoke or list API tokens."""

    help = (
        "API tokens: create --user U --scopes a,b [--name N] [--expires-in 90d] [--json] "
        "| revoke ID | list [--json]"
    )

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token (printed once)")
        create.add_argument("--user", required=True)
        create.add_argument("--scopes", required=True, help="comma separated")
        create.add_argument("--name", default="")
        create.add_argument(
            "--expires-in",
            default="",
            help="the token stops working after this: 90d, 12h, 30m, 2w or ISO 8601 (P30D); "
            "default: never",
        )
        create.add_argument("--json", action="store_true")
        revoke = sub.add_parser("revoke", help="revoke a token")
        revoke.add_argument("id", type=int)
        listing = sub.add_parser("list", help="list tokens (never their secrets)")
        listing.add_argument("--json", action="store_true")

    def handle(self, *args, **options) -> None:
        action = options["action"]
        if action == "create":
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}")
            try:
                token, secret = api_token_create(
                    user=user,
                    scopes=options["scopes"],
                    name=options["name"],
                    expires_in=expiry_parse(options["expires_in"]),
                )
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from None
            expires = token.expires_at.isoformat() if token.expires_at else None
            if options["json"]:
                self.stdout.write(
                    json.dumps({"token": secret, "id": token.pk, "expires_at": expires})
                )
            else:
                self.stdout.write(secret)
                self.stderr.write(
                    f"token {token.pk} for {user.get_username()} "
                    f"({', '.join(token.scopes)}), expires {expires or 'never'}: "
                    "shown once, copy it now"
                )
            return
        if action == "revoke":
            found = ApiToken.objects.filter(pk=options["id"]).first()
            if found is None:
                raise CommandError(f"no token {options['id']}")
            changed = api_token_revoke(token=found)
            self.stdout.write(f"token {found.pk} {'revoked' if changed else 'was already revoked'}")
            return
        rows = [
            {
                "id": t.pk,
                "prefix": t.prefix,
                "user": t.user.get_username(),
                "scopes": t.scopes,
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked": t.revoked_at is not None,
                "state": t.state,
                "expires_at": t.expires_at.isoformat() if t.expires_at else None,
            }
            for t in ApiToken.objects.select_related("user")
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows))
        else:
            for row in rows:
                scopes = ",".join(row["scopes"])
                expires = f"expires {row['expires_at']}" if row["expires_at"] else "no expiry"
                self.stdout.write(
                    f"{row['id']}\t{row['prefix']}…\t{row['user']}\t{scopes}\t{row['state']}"
                    f"\t{expires}"
                )
