from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from workflows.services.tokens import api_token_create


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it as the last line (it is shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label for the token.")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: options["username"]})
        except User.DoesNotExist:
            raise CommandError(f"No user named {options['username']!r}.") from None
        token, raw = api_token_create(user=user, name=options["name"])
        self.stdout.write(f"Created token {token.prefix}… for {options['username']}:")
        self.stdout.write(raw)
