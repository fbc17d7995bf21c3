"""Remove an account's second factor and end its sessions, for someone who lost both their phone and their
recovery codes: `manage.py second_factor_reset <username>`. A platform admin sets up a new one at the next sign-in."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from volunteer_platform.services import second_factor_reset


class Command(BaseCommand):
    help = "Remove an account's second factor (TOTP and recovery codes) and end its sessions."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no account named {username!r}")
        removed = second_factor_reset(user=user)
        self.stdout.write(f"{username}: {removed} second-factor device(s) removed, sessions ended")
