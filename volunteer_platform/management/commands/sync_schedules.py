"""Create the periodic tasks of volunteer_platform/schedules.py that are missing (`make run` calls it)."""

from django.core.management.base import BaseCommand

from volunteer_platform.schedules import sync_schedules


class Command(BaseCommand):
    help = (
        "Create the missing django-celery-beat periodic tasks listed in volunteer_platform/schedules.py. "
        "Existing ones (matched by name) are never changed, so edits made in the admin are kept."
    )

    def handle(self, *args, **options):
        report = sync_schedules()
        for name in report.created:
            self.stdout.write(f"created: {name}")
        for name in report.skipped:
            self.stdout.write(f"skipped (task not implemented yet): {name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(report.created)} created, {len(report.kept)} kept as they are, {len(report.skipped)} skipped"
            )
        )
