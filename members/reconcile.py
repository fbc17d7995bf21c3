"""Reconciliation (`manage.py reconcile`): figures stored beside the records, recomputed from them.

Each app that stores a figure derived from records checks it here, in its own `reconcile` module, one chunk of
members at a time, and says how to repair each disagreement through its services; the site's command
(volunteer_platform/reconcile.py) walks the members and composes the apps. This module holds what they share and
the members app's own check: the yearly summary (ServiceYear) that the dashboard reads.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from django.db.models import QuerySet
from django.db.models.functions import ExtractYear
from django.utils.translation import gettext as _

from . import selectors, services
from .models import MONTHS, Member, ServiceYear, ServiceYearBuilt


@dataclass
class Disagreement:
    """One stored figure that is not what the records say."""

    check: str  # which check found it: "service_year", "balance", "points", "rating", "dashboard"
    subject: str  # what, in words a secretary knows (member, record, year …)
    expected: str  # what the records say
    found: str  # what is stored
    cause: str  # the likely cause, in a sentence
    member_id: int | None = None
    # Repairs it through the services (new ledger entries, a recomputed cache row …); None: a person must decide.
    fix: Callable[[], object] | None = field(default=None, repr=False)

    def line(self) -> str:
        return _("[%(check)s] %(subject)s：记录应为 %(expected)s，实际为 %(found)s —— %(cause)s") % {
            "check": self.check,
            "subject": self.subject,
            "expected": self.expected,
            "found": self.found,
            "cause": self.cause,
        }


def member_label(member: Member) -> str:
    return f"{member.name}（{member.volunteer_number}）"


def members_in_chunk(member_ids: Sequence[int]) -> dict[int, Member]:
    """The chunk's members with what the labels show (one query)."""
    return {m.pk: m for m in Member.objects.filter(pk__in=member_ids).only("name", "volunteer_number")}


# --- ServiceYear ------------------------------------------------------------------------------------------------

_YEAR_FIELDS = ["services", *(f"{kind}_{m:02d}" for m in MONTHS for kind in ("hours", "services", "days"))]


def _as_row(values: dict) -> tuple:
    return tuple(
        Decimal(values[name]).quantize(Decimal("0.01")) if name.startswith("hours") else int(values[name] or 0)
        for name in _YEAR_FIELDS
    )


def service_year_disagreements(member_ids: Sequence[int], members: dict[int, Member]) -> list[Disagreement]:
    """Each ServiceYear row of the chunk's members against their counted records, for every year that has a row
    or is built (the dashboard reads built years): two queries."""
    built = set(ServiceYearBuilt.objects.values_list("year", flat=True))
    from_records: QuerySet = (
        selectors.counted_records()
        .filter(member_id__in=member_ids)
        .annotate(year=ExtractYear("date"))
        .values("member_id", "year")
        .annotate(**selectors.service_year_aggregates())
        .order_by()
    )
    expected = {(row["member_id"], row["year"]): _as_row(row) for row in from_records}
    stored = {
        (row["member_id"], row["year"]): _as_row(row)
        for row in ServiceYear.objects.filter(member_id__in=member_ids).values("member_id", "year", *_YEAR_FIELDS)
    }
    empty = _as_row(dict.fromkeys(_YEAR_FIELDS, 0))
    found = []
    for key in sorted(set(expected) | set(stored)):
        member_id, year = key
        want, have = expected.get(key, empty), stored.get(key)
        if have is None and year not in built:
            continue  # a year the dashboard computes from the records: no row needed
        if have == want:
            continue
        hours_want = sum(want[1 + 3 * i] for i in range(12))
        hours_have = sum(have[1 + 3 * i] for i in range(12)) if have else Decimal("0.00")
        found.append(
            Disagreement(
                check="service_year",
                subject=_("%(member)s %(year)d 年度服务汇总")
                % {"member": member_label(members[member_id]), "year": year},
                expected=_("%(services)d 次 %(hours)s 小时") % {"services": want[0], "hours": hours_want},
                found=(
                    _("%(services)d 次 %(hours)s 小时") % {"services": have[0], "hours": hours_have}
                    if have
                    else _("无汇总")
                ),
                cause=_("年度汇总与服务记录不一致（记录被绕过服务修改，或汇总未随之更新）"),
                member_id=member_id,
                fix=partial(services.service_years_refresh, member_id=member_id, years=[year]),
            )
        )
    return found
