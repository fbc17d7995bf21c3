"""The quarterly service cards (members/tasks.py; schedules in volunteer_platform/schedules.py)."""

from datetime import date as date_type

from django.utils import timezone

from core.text import plain_decimal
from notifications import fanout
from notifications.services import notify_many, user_messages

from .. import selectors
from ..models import Organization


def _previous_quarter(today: date_type) -> tuple[int, int]:
    quarter = (today.month - 1) // 3 + 1
    return (today.year, quarter - 1) if quarter > 1 else (today.year - 1, 4)


def service_cards_plan(*, today: date_type | None = None) -> int:
    """Fan out the 双报到 service cards of the quarter before `today` to the home branches of members registered
    in a residence community, 50 branches a chunk; returns the chunks."""
    year, quarter = _previous_quarter(today or timezone.localdate())
    return fanout.plan(
        "members.tasks.send_service_cards",
        selectors.branches_with_registrations(*selectors.quarter_bounds(year, quarter)),
        chunk=50,
        kwargs={"year": year, "quarter": quarter},
    )


def service_cards_send(*, organization_ids: list[int], year: int, quarter: int) -> int:
    """Send each branch's managers one message with the service card of each of its in-service members for the
    quarter (`selectors.service_cards`), once (dedupe key: quarter, branch, user); a branch without cards or
    without managers gets nothing. Returns the rows written. Kind `digest`."""
    first, after = selectors.quarter_bounds(year, quarter)
    managers = selectors.organization_managers(organization_ids)
    messages = []
    for branch in Organization.objects.filter(pk__in=list(managers)).order_by("pk"):
        cards = selectors.service_cards(branch, first, after)
        if not cards:
            continue
        context = {
            "organization": branch.name,
            "year": year,
            "quarter": quarter,
            "cards": [
                {
                    "name": card.member.name,
                    "volunteer_number": card.member.volunteer_number,
                    "community": card.community.name,
                    "registered_on": card.registered_on.isoformat(),
                    "services": card.services,
                    "hours": plain_decimal(card.hours),
                }
                for card in cards
            ],
        }
        for user in managers[branch.pk]:
            messages += user_messages(
                user_id=user.pk,
                kind="digest",
                template="members_service_card",
                dedupe_key=f"members:service-card:{year}Q{quarter}:{branch.pk}:{user.pk}",
                context=context,
                has_email=bool(user.email),
            )
    return notify_many(messages)
