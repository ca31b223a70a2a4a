from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from hosts.accounts import commands as accounts
from hosts.core.errors import Invalid
from hosts.models import ApiToken, AuditEvent


class Command(BaseCommand):
    help = (
        "Create an API token for USERNAME. The token is printed once on stdout "
        "(alone, for scripts) and stored only as a hash."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="default", help="a label for the token")
        parser.add_argument(
            "--scope",
            choices=ApiToken.Scope.values,
            default=ApiToken.Scope.WRITE,
            help="read: GET only; write: everything the user may do (default)",
        )
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            metavar="N",
            help=f"days until it expires (default {accounts.DEFAULT_TOKEN_DAYS}, "
            "at most DCHWEB_API_TOKEN_MAX_DAYS)",
        )

    def handle(self, *args, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"no user named {options['username']!r}") from None
        if not user.is_active:
            raise CommandError(f"user {user.username!r} is inactive")
        try:
            api_token, plaintext = accounts.create_api_token(
                user,
                options["name"],
                actor=None,
                source=AuditEvent.Source.CLI,
                scope=options["scope"],
                expires_days=options["expires_days"],
            )
        except Invalid as error:
            raise CommandError(error.message) from None
        self.stderr.write(
            f"API token {api_token.name!r} for {user.username} "
            f"(prefix {api_token.prefix}, {api_token.scope}, expires "
            f"{api_token.expires_at:%Y-%m-%d}); it is shown only this once:"
        )
        self.stdout.write(plaintext)
