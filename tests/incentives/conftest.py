"""Helpers of the incentives tests that give a member points or a catalogue item. Rules need no fixture:
`services.rule_for` recreates a default rule that a transactional test's flush removed."""

import itertools
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from incentives import services
from incentives.models import CatalogueItem, Rule
from members import services as member_services

_keys = itertools.count(1)


def fund(member, points: int, *, key: str | None = None):
    """Give `member` exactly `points` earned points (service hours without a source, so no cap applies)."""
    return services.award(
        member=member,
        rule=Rule.Code.SERVICE_HOUR,
        quantity=Decimal(points) / 10,
        idempotency_key=key or f"test-fund:{next(_keys)}",
    )


def make_item(**fields) -> CatalogueItem:
    values = {"name": f"兑换项目{next(_keys)}", "kind": CatalogueItem.Kind.SERVICE, "points_cost": 50, "stock": 10}
    values.update(fields)
    return services.catalogue_item_create(**values)


def add_hours(member, hours, *, day, verifier=None):
    """A counted (verified) service record of `hours` hours starting on `day` at 08:00 local time."""
    start = datetime.combine(day, time(8, 0), tzinfo=timezone.get_current_timezone())
    hours = Decimal(str(hours))
    record = member_services.service_record_create(
        member=member,
        start=start,
        end=start + timedelta(hours=float(hours)),
        hours=hours,
        place="社区",
        content="志愿服务",
        source="manual",
        recording_organization=member.organization,
        organizer="书记",
        recorder=None,
    )
    if verifier is not None:
        member_services.service_record_verify(record=record, verifier=verifier)
    return record
