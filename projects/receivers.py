"""What the projects app does when a lower app tells it something (connected in apps.ProjectsConfig.ready)."""

from django.dispatch import receiver

from members import member_cache
from members.models import ServiceRecord
from members.signals import service_record_verified

from . import services
from .models import ActivitySurvey, SignUp


@receiver(service_record_verified, sender=ServiceRecord, dispatch_uid="projects:attendance-points")
def award_attendance_points(sender, record, verifier, **kwargs):
    services.attendance_record_verified(record=record, verifier=verifier)


# The member portal's page cache (members/member_cache.py): /me/ shows the member's own survey answers.
member_cache.watch(
    ActivitySurvey,
    user=lambda survey: SignUp.objects.filter(pk=survey.signup_id).values_list("member__user_id", flat=True).first(),
)
