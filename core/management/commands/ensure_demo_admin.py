"""Create the demo admin user once, with a random password printed to the terminal."""

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    """Create a superuser `admin` with a random password if no superuser exists yet."""

    help = "Create the demo admin once (random password printed); does nothing if one exists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: str, username: str, **options: Any) -> None:
        user_model = get_user_model()
        if user_model.objects.filter(is_superuser=True).exists():
            self.stdout.write("demo admin: a superuser exists already, nothing created")
            return
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"demo admin created: username={username} password={password} "
                "(shown once; change it with `manage.py changepassword`)"
            )
        )
