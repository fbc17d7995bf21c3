from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from volunteer_platform import demo


class Command(BaseCommand):
    help = "Load realistic Chinese demo data (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when the database already has users (used by make run)"
        )
        parser.add_argument(
            "--members",
            type=int,
            default=300,
            help="how many members the demo street has; missing ones are added in bulk (default 300)",
        )

    def handle(self, *args, if_empty, members, **options):
        if members < 0:
            raise CommandError("--members cannot be negative")
        if if_empty and get_user_model().objects.exists():
            self.stdout.write("The database already has data; demo data not loaded.")
            return
        demo.seed(members=members, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
