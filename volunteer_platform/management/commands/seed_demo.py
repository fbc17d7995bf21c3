from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from volunteer_platform import demo


class Command(BaseCommand):
    help = "Load realistic Chinese demo data (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when the database already has users (used by make run)"
        )

    def handle(self, *args, if_empty, **options):
        if if_empty and get_user_model().objects.exists():
            self.stdout.write("The database already has data; demo data not loaded.")
            return
        demo.seed(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
