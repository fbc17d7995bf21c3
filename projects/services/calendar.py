"""The member's calendar feed."""

import secrets

from django.db import IntegrityError, transaction
from django.db.models import Q

from members.models import Member

from ..models import CalendarFeed, ServiceProject
from ._common import GENERATE_WEEKS
from .recurring import activities_generate


@transaction.atomic
def calendar_feed_for(*, member: Member, renew: bool = False) -> CalendarFeed:
    """The member's private calendar token, made on first use; `renew` replaces it (the old URL stops working).
    No lock: the one-to-one row settles a race (the loser reads the winner)."""
    feed = CalendarFeed.objects.filter(member=member).first()
    if feed is None:
        try:
            with transaction.atomic():
                return CalendarFeed.objects.create(member=member, token=secrets.token_urlsafe(32))
        except IntegrityError:
            feed = CalendarFeed.objects.get(member=member)
    if renew:
        feed.token = secrets.token_urlsafe(32)
        feed.save(update_fields=["token", "created_at"])
    return feed


def activities_generate_all(*, weeks: int = GENERATE_WEEKS) -> int:
    """Run `activities_generate` for every published recurring project or project with an active post, each in its
    own transaction (one project's failure does not undo the others'); return how many activities were created."""
    projects = ServiceProject.objects.filter(status=ServiceProject.Status.PUBLISHED).filter(
        Q(recurrence__in=(ServiceProject.Recurrence.WEEKLY, ServiceProject.Recurrence.MONTHLY)) | Q(posts__active=True)
    )
    created = 0
    for project_id in projects.values_list("pk", flat=True).distinct().order_by("pk"):
        created += len(activities_generate(project=ServiceProject(pk=project_id), weeks=weeks))
    return created
