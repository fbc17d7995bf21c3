from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from volunteer_platform import demo
from volunteer_platform import scale as scale_data


class Command(BaseCommand):
    help = "Load realistic Chinese demo data (idempotent); with --scale, a whole district in bulk (PostgreSQL)."

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
        parser.add_argument(
            "--scale",
            choices=sorted(scale_data.SCALES),
            help="after the demo, add a city district in bulk: 'district' is 100,000 members in 1,000 branches, "
            "1,000,000 service records, 200,000 wishes, 5,000 projects, 50,000 activities and the points of every "
            "counted record (PostgreSQL only; refuses when the district exists)",
        )

    def handle(self, *args, if_empty, members, scale=None, **options):
        if members < 0:
            raise CommandError("--members cannot be negative")
        if scale is not None:
            self._scale(scale, members)
            return
        if if_empty and get_user_model().objects.exists():
            self.stdout.write("The database already has data; demo data not loaded.")
            return
        demo.seed(members=members, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))

    def _scale(self, name: str, members: int) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("--scale needs PostgreSQL (set DATABASE_URL).")
        if scale_data.district_exists():
            raise CommandError(
                f"The scale data ({scale_data.DISTRICT}) already exists; nothing added. "
                "Drop and recreate the database to seed it again."
            )
        demo.seed(members=members, stdout=self.stdout)
        self.stdout.write(f"Seeding the {name} scale data (one transaction):")
        scale_data.seed(scale=scale_data.SCALES[name], password=demo.DEMO_PASSWORD, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Scale data ({name}) loaded."))
