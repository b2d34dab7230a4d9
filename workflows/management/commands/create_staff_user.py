import os
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from workflows.management.commands._lookup import USAGE_ERROR
from workflows.services.tokens import api_token_create


class Command(BaseCommand):
    help = (
        "Create a staff user without prompting. The password is read from an environment "
        "variable (never from the command line, which other users can see); without one the user "
        "cannot sign in with a password and works through an API token. With --with-token, an "
        "API token is printed as the last line (it is shown only once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="", help="The user's email address.")
        parser.add_argument(
            "--password-from-env",
            metavar="VAR",
            help="The name of the environment variable holding the password.",
        )
        parser.add_argument(
            "--superuser", action="store_true", help="Make a superuser (all permissions)."
        )
        parser.add_argument(
            "--with-token", action="store_true", help="Also create an API token and print it."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        username = options["username"].strip()
        if not username:
            raise CommandError("The username must not be empty.", returncode=USAGE_ERROR)
        if User.objects.filter(**{User.USERNAME_FIELD: username}).exists():
            raise CommandError(f"A user named {username!r} already exists.", returncode=USAGE_ERROR)
        password = self._password(options["password_from_env"])
        user = User(**{User.USERNAME_FIELD: username}, email=options["email"], is_staff=True)
        user.is_superuser = options["superuser"]
        if password is None:
            user.set_unusable_password()
        else:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError(
                    f"The password in ${options['password_from_env']} is refused: "
                    + " ".join(exc.messages),
                    returncode=USAGE_ERROR,
                ) from None
            user.set_password(password)
        with transaction.atomic():
            user.save()
            raw = api_token_create(user=user)[1] if options["with_token"] else None
        kind = "superuser" if user.is_superuser else "staff user"
        self.stdout.write(f"Created {kind} {username}.")
        if raw is not None:
            self.stdout.write(f"API token for {username} (shown only once):")
            self.stdout.write(raw)

    def _password(self, variable: str | None) -> str | None:
        if variable is None:
            return None
        password = os.environ.get(variable)
        if not password:
            raise CommandError(
                f"--password-from-env {variable}: the variable is not set or empty.",
                returncode=USAGE_ERROR,
            )
        return password
