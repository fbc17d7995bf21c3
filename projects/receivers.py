"""What the projects app does when a lower app tells it something (connected in apps.ProjectsConfig.ready)."""

from django.dispatch import receiver

from members.models import ServiceRecord
from members.signals import service_record_verified

from . import services


@receiver(service_record_verified, sender=ServiceRecord, dispatch_uid="projects:attendance-points")
def award_attendance_points(sender, record, verifier, **kwargs):
    services.attendance_record_verified(record=record, verifier=verifier)
