"""Reads of the members app, and the one definition of scope.

Scope: a platform admin (superuser) sees everything; a user who administers organizations — listed in
`Organization.admins`, or the member who is an organization's `secretary` — sees those organizations' subtrees;
anyone else sees nothing (`sees_nothing`: nobody signed in, or a deactivated account). Every app's `visible_*`
selectors are built on `scoped` (rows linked to an organization in `visible_organizations`), and the admin and every
view ask those selectors, so the rule lives here only. They accept an optional base `queryset` so a caller keeps
its own ordering and joins. They are lazy: the scope is a subquery of the caller's query, not an extra query.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import cast

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, ExtractDay, ExtractMonth, ExtractYear
from django.db.models.lookups import StartsWith
from django.utils import timezone
from django.utils.http import urlsafe_base64_decode

from core.times import local_iso as _iso
from core.types import User, Viewer

from .availability import SLOT_CHOICES, from_mask
from .models import (
    MONTHS,
    Community,
    DeletionRequest,
    Grid,
    Member,
    NationalExportBatch,
    NationalExportItem,
    Organization,
    ResidenceRegistration,
    ServiceRecord,
    ServiceRecordCorrection,
    Team,
    Transfer,
    WeChatBinding,
)
from .tokens import invitation_token_generator
from .validators import check_invitable


def sees_nothing(user: Viewer) -> bool:
    """Whether `user` has no scope at all: nobody signed in, or a deactivated account (every app's selectors ask)."""
    return user is None or not user.is_authenticated or not user.is_active


def managed_organizations(user: Viewer) -> QuerySet[Organization]:
    """The organizations `user` administers directly (as an admin or as the secretary): the roots of their scope."""
    if sees_nothing(user):
        return Organization.objects.none()
    # A secretary who is no longer an active member (停用, 转出) keeps no rights through that title.
    # Two IN subqueries, each an index lookup by the user: written as joins OR-ed together (admins=user |
    # secretary__user=user), PostgreSQL read the whole member table for every scoped query (24 ms of /me/'s 120 on
    # the district's 100,000 members, EXPLAIN ANALYZE).
    user_id = cast(int, user.pk)  # signed in (sees_nothing above)
    admin_of = Organization.admins.through.objects.filter(user_id=user_id).values("organization_id")
    secretary = Member.objects.filter(user_id=user_id, status=Member.Status.ACTIVE).values("pk")
    return Organization.objects.filter(Q(pk__in=admin_of) | Q(secretary__in=secretary))


def is_organization_admin(user: Viewer) -> bool:
    """Whether `user` manages at least one organization (a secretary or 组织管理员); superusers are not implied."""
    return managed_organizations(user).exists()


def visible_organizations(user: Viewer, *, queryset: QuerySet[Organization] | None = None) -> QuerySet[Organization]:
    """Organizations in `user`'s scope: every organization whose path starts with the path of one they manage."""
    qs = Organization.objects.all() if queryset is None else queryset
    if sees_nothing(user):
        return qs.none()
    if user.is_superuser:
        return qs
    # outer.path LIKE root.path || '%' for some root the user manages. The organization table is small
    # (hundreds of rows): this semi-join is cheap and keeps the scope inside the caller's single query.
    roots = managed_organizations(user).filter(StartsWith(OuterRef("path"), F("path")))
    return qs.filter(Exists(roots))


def subtree(organization: Organization) -> QuerySet[Organization]:
    """An organization and all its descendants (a prefix query on the indexed path)."""
    return Organization.objects.filter(path__startswith=organization.path)


def scoped(qs: QuerySet, user: Viewer, *organization_lookups: str) -> QuerySet:
    """Rows of `qs` linked through any of `organization_lookups` to an organization in `user`'s scope: every row for
    a platform admin, none for whom `sees_nothing`. The one scoping rule; every app's `visible_*` selectors use it."""
    if sees_nothing(user):
        return qs.none()
    if user.is_superuser:
        return qs
    organizations = visible_organizations(user)
    condition = Q()
    for lookup in organization_lookups:
        condition |= Q(**{f"{lookup}__in": organizations})
    return qs.filter(condition)


def visible_national_exports(
    user: Viewer, *, queryset: QuerySet[NationalExportBatch] | None = None
) -> QuerySet[NationalExportBatch]:
    """Export batches to the national system of the organizations in `user`'s scope."""
    return scoped(NationalExportBatch.objects.all() if queryset is None else queryset, user, "organization")


# --- Export to the national system (members.services.national) -----------------------------------------------------


def _recorded_in_subtree(organization: Organization) -> Q:
    return Q(recording_organization__path__startswith=organization.path)


def national_new_records(organization: Organization, start: date, end: date) -> QuerySet[ServiceRecord]:
    """Counted records recorded in the subtree, dated in the period, never sent (records from elsewhere never go)."""
    sent = NationalExportItem.objects.filter(record=OuterRef("pk"), kind=NationalExportItem.Kind.RECORD)
    return (
        ServiceRecord.objects.filter(_recorded_in_subtree(organization), status__in=ServiceRecord.COUNTED_STATUSES)
        .filter(date__gte=start, date__lte=end)
        .exclude(source=ServiceRecord.Source.EXTERNAL)
        .filter(~Exists(sent))
    )


def national_changed_records(organization: Organization) -> QuerySet[ServiceRecord]:
    """Records of the subtree sent before and changed since the last version sent (corrected or voided), whose
    void has not gone out yet."""
    last_sent = (
        NationalExportItem.objects.filter(record=OuterRef("pk")).order_by("-record_version").values("record_version")
    )
    void_sent = NationalExportItem.objects.filter(record=OuterRef("pk"), kind=NationalExportItem.Kind.VOID)
    return (
        ServiceRecord.objects.filter(_recorded_in_subtree(organization))
        .filter(Exists(NationalExportItem.objects.filter(record=OuterRef("pk"))))
        .annotate(last_sent=Subquery(last_sent[:1]))
        .filter(updated_at__gt=F("last_sent"))
        .filter(~Exists(void_sent))
    )


def national_unregistered_volunteers(organization: Organization, records: QuerySet[ServiceRecord]) -> QuerySet[Member]:
    """Members of the subtree (在册 or 免除) and the members of `records`, without a national number and never sent."""
    sent = NationalExportItem.objects.filter(member=OuterRef("pk"), kind=NationalExportItem.Kind.VOLUNTEER)
    return (
        Member.objects.filter(
            Q(organization__path__startswith=organization.path, status__in=(Member.Status.ACTIVE, Member.Status.EXEMPT))
            | Q(pk__in=records.values("member_id"))
        )
        .filter(national_volunteer_number="")
        .filter(~Exists(sent))
    )


def visible_communities(user: Viewer, *, queryset: QuerySet[Community] | None = None) -> QuerySet[Community]:
    return scoped(Community.objects.all() if queryset is None else queryset, user, "organization")


def visible_grids(user: Viewer, *, queryset: QuerySet[Grid] | None = None) -> QuerySet[Grid]:
    return scoped(Grid.objects.all() if queryset is None else queryset, user, "community__organization")


def visible_members(user: Viewer, *, queryset: QuerySet[Member] | None = None) -> QuerySet[Member]:
    """Members whose home branch (所在支部) is in scope."""
    return scoped(Member.objects.all() if queryset is None else queryset, user, "organization")


def visible_users(user: Viewer, *, queryset: QuerySet | None = None) -> QuerySet:
    """Accounts `user` may pick (e.g. as an organization's admin): those of members in scope; all for a superuser."""
    qs = User.objects.all() if queryset is None else queryset
    if sees_nothing(user):
        return qs.none()
    if user.is_superuser:
        return qs
    return qs.filter(member__in=visible_members(user))


def visible_residence_registrations(
    user: Viewer, *, queryset: QuerySet[ResidenceRegistration] | None = None
) -> QuerySet[ResidenceRegistration]:
    """双报到 rows seen by the member's home branch and by the organization serving the community (which confirms)."""
    qs = ResidenceRegistration.objects.all() if queryset is None else queryset
    return scoped(qs, user, "member__organization", "community__organization")


def visible_transfers(user: Viewer, *, queryset: QuerySet[Transfer] | None = None) -> QuerySet[Transfer]:
    """Transfers seen by both the organization left and the organization joined."""
    qs = Transfer.objects.all() if queryset is None else queryset
    return scoped(qs, user, "from_organization", "to_organization")


def visible_deletion_requests(
    user: Viewer, *, queryset: QuerySet[DeletionRequest] | None = None
) -> QuerySet[DeletionRequest]:
    """Requests of members whose home branch is in scope (the branch decides)."""
    qs = DeletionRequest.objects.all() if queryset is None else queryset
    return scoped(qs, user, "member__organization")


def visible_wechat_bindings(
    user: Viewer, *, queryset: QuerySet[WeChatBinding] | None = None
) -> QuerySet[WeChatBinding]:
    """WeChat bindings of the accounts of members whose home branch is in scope."""
    qs = WeChatBinding.objects.all() if queryset is None else queryset
    return scoped(qs, user, "user__member__organization")


def wechat_bindings(user: User) -> QuerySet[WeChatBinding]:
    """The account's WeChat bindings (at most one per app), for /me/."""
    return WeChatBinding.objects.filter(user=user).order_by("app")


def visible_teams(user: Viewer, *, queryset: QuerySet[Team] | None = None) -> QuerySet[Team]:
    return scoped(Team.objects.all() if queryset is None else queryset, user, "organization")


def visible_service_records(
    user: Viewer, *, queryset: QuerySet[ServiceRecord] | None = None
) -> QuerySet[ServiceRecord]:
    """Records seen by the member's home branch and by the organization that recorded them (谁记录谁证明)."""
    qs = ServiceRecord.objects.all() if queryset is None else queryset
    return scoped(qs, user, "member__organization", "recording_organization")


def verifiable_service_records(
    user: Viewer, *, queryset: QuerySet[ServiceRecord] | None = None
) -> QuerySet[ServiceRecord]:
    """Records `user` may verify, void or correct: those recorded by an organization in scope."""
    qs = ServiceRecord.objects.all() if queryset is None else queryset
    return scoped(qs, user, "recording_organization")


def visible_corrections(
    user: Viewer, *, queryset: QuerySet[ServiceRecordCorrection] | None = None
) -> QuerySet[ServiceRecordCorrection]:
    qs = ServiceRecordCorrection.objects.all() if queryset is None else queryset
    return scoped(qs, user, "record__member__organization", "record__recording_organization")


# --- Members and their records ----------------------------------------------------------------------------------


def active_residence_prefetch(to_attr: str = "active_residences") -> Prefetch:
    """Prefetch a member's current 双报到 row with its community, as a list in `to_attr` (one query per page)."""
    return Prefetch(
        "residence_registrations",
        queryset=ResidenceRegistration.objects.filter(status__in=ResidenceRegistration.ACTIVE_STATUSES).select_related(
            "community"
        ),
        to_attr=to_attr,
    )


def member_for(user: Viewer) -> Member | None:
    """The member record of a signed-in user, with their branch; None for residents and staff without one."""
    if sees_nothing(user) or not isinstance(user, User):
        return None
    return Member.objects.select_related("organization").filter(user=user).first()


def records_for_member(member: Member) -> QuerySet[ServiceRecord]:
    """A member's service records, newest first, with what a list or certificate shows and their corrections
    (newest first: the list shows the one waiting and the last answer)."""
    return (
        ServiceRecord.objects.filter(member=member)
        .select_related("recording_organization", "recorder")
        .prefetch_related(Prefetch("corrections", queryset=ServiceRecordCorrection.objects.order_by("-pk")))
    )


def pending_correction(record: ServiceRecord) -> ServiceRecordCorrection | None:
    return record.corrections.filter(status=ServiceRecordCorrection.Status.PENDING).first()


# --- The one definition of counted hours ---------------------------------------------------------------------------
# Every figure of hours a person sees — /me/, /me/records/, /me/points/, the certificate, star ratings, the
# dashboard, exports and the yearly summary (ServiceYear) — counts the same records: verified or corrected
# (ServiceRecord.COUNTED_STATUSES), by their service date (the local date of the start), both ends of a period
# included. `manage.py reconcile` checks the stored figures against these.


def counted_records(
    *, start: date | None = None, end: date | None = None, queryset: QuerySet[ServiceRecord] | None = None
) -> QuerySet[ServiceRecord]:
    """The records whose hours count, dated from `start` to `end` (inclusive; None = open)."""
    qs = (ServiceRecord.objects.all() if queryset is None else queryset).filter(
        status__in=ServiceRecord.COUNTED_STATUSES
    )
    if start is not None:
        qs = qs.filter(date__gte=start)
    if end is not None:
        qs = qs.filter(date__lte=end)
    return qs


def hours_by_member(
    member_ids: Iterable[int], *, start: date | None = None, end: date | None = None
) -> dict[int, Decimal]:
    """{member id: counted hours from `start` to `end`} for the given members (absent: none); one query."""
    ids = list(member_ids)
    if not ids:
        return {}
    rows = (
        counted_records(start=start, end=end)
        .filter(member_id__in=ids)
        .values("member_id")
        .annotate(total=Sum("hours"))
        .order_by()
        .values_list("member_id", "total")
    )
    return dict(rows)


def hours_by_source(member: Member, *, start: date | None = None, end: date | None = None) -> list[tuple[str, Decimal]]:
    """A member's counted hours from `start` to `end` per kind of service (ServiceRecord.Source: activity, wish,
    pairing visit, self-report, a secretary's entry), as (label, hours), most hours first; one query. Their sum is
    `counted_hours` of the same period."""
    rows = (
        counted_records(start=start, end=end, queryset=ServiceRecord.objects.filter(member=member))
        .values("source")
        .annotate(total=Sum("hours"))
        .order_by("-total", "source")
        .values_list("source", "total")
    )
    return [(str(ServiceRecord.Source(source).label), total) for source, total in rows]


def counted_hours(member: Member, *, start: date | None = None, end: date | None = None) -> Decimal:
    """A member's counted hours from `start` to `end` (all time by default)."""
    return hours_by_member([member.pk], start=start, end=end).get(member.pk, Decimal("0"))


def month_figures(*, only: Q | None = None) -> dict:
    """The figures a ServiceYear row keeps per month, as aggregates over counted records (of those matching `only`):
    the hours, the services and the bit mask of the days served (the SUM of the distinct powers of two of the days
    is their bitwise OR, on every database)."""
    day_bit = Value(1).bitleftshift(Cast(ExtractDay("date"), IntegerField()) - 1)  # type: ignore[arg-type]  # stubs take only int
    return {
        "hours": Coalesce(Sum("hours", filter=only), Decimal("0")),
        "services": Count("pk", filter=only),
        "days": Coalesce(Sum(day_bit, filter=only, distinct=True), 0),
    }


def service_year_aggregates() -> dict:
    """The figures of a ServiceYear row as aggregates over counted records of one year: `month_figures` of each
    month, and the year's services (for one statement over many members: the nightly rebuild, reconcile)."""
    aggregates: dict = {"services": Count("pk")}
    for m in MONTHS:
        for name, figure in month_figures(only=Q(date__month=m)).items():
            aggregates[f"{name}_{m:02d}"] = figure
    return aggregates


def service_year_figures(*, member_id: int, year: int) -> dict:
    """The figures of one member's ServiceYear row, by the same `month_figures` grouped by month: a query of three
    aggregates instead of 37 (building the 37 took Django about 40 ms, on every verification and attendance)."""
    by_month = (
        ServiceRecord.objects.filter(member_id=member_id, status__in=ServiceRecord.COUNTED_STATUSES, date__year=year)
        .annotate(month=ExtractMonth("date"))
        .values("month")
        .annotate(**month_figures())
        .order_by()
    )
    empty = {"hours": Decimal("0"), "services": 0, "days": 0}  # month_figures of a month without records
    months = {row["month"]: row for row in by_month}
    figures: dict = {f"{name}_{m:02d}": months.get(m, empty)[name] for m in MONTHS for name in empty}
    figures["services"] = sum(figures[f"services_{m:02d}"] for m in MONTHS)
    return figures


def yearly_totals(member: Member) -> QuerySet:
    """Counted (verified or corrected) hours per year, newest year first: rows of {year, hours, services}."""
    return (
        counted_records(queryset=ServiceRecord.objects.filter(member=member))
        .annotate(year=ExtractYear("date"))
        .values("year")
        .annotate(hours=Sum("hours"), services=Count("pk"))
        .order_by("-year")
    )


# --- Member portal ----------------------------------------------------------------------------------------------


def member_profile_for(user: Viewer) -> Member | None:
    """The signed-in member with everything /me/ shows: branch, skills, interests and current 双报到 (4 queries)."""
    if sees_nothing(user) or not isinstance(user, User):
        return None
    return (
        Member.objects.select_related("organization")
        .prefetch_related("skills", "interests", active_residence_prefetch())
        .filter(user=user)
        .first()
    )


def member_for_invitation(uidb64: str, token: str) -> Member | None:
    """The member an invitation link is for, or None when the link is malformed, used, expired or not for them."""
    try:
        user_pk = int(urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    member = Member.objects.select_related("user", "organization").filter(user__pk=user_pk).first()
    if member is None or not invitation_token_generator.check_token(member.user, token):
        return None
    try:
        check_invitable(member)
    except ValidationError:
        return None
    return member


def residence_history(member: Member) -> QuerySet[ResidenceRegistration]:
    """A member's 双报到 rows, newest first, with community and grid."""
    return ResidenceRegistration.objects.filter(member=member).select_related("community", "grid")


def residence_confirmation_queue(user: Viewer) -> QuerySet[ResidenceRegistration]:
    """Pending 双报到 rows `user` may confirm: in their scope and at a community their organizations serve (the
    member's home branch sees the row but does not confirm it)."""
    return (
        visible_residence_registrations(user)
        .filter(status=ResidenceRegistration.Status.PENDING, community__in=visible_communities(user))
        .select_related("member__organization", "community", "grid")
        .order_by("registered_on", "pk")
    )


def certificate_member(user: Viewer, volunteer_number: str) -> Member | None:
    """A member in `user`'s scope by volunteer number, with their branch and its secretary (for a certificate)."""
    return (
        visible_members(user)
        .select_related("organization__secretary")
        .filter(volunteer_number=volunteer_number)
        .first()
    )


def certificate_records(member: Member) -> QuerySet[ServiceRecord]:
    """The services a certificate lists: counted (verified or corrected) records, oldest first."""
    return (
        counted_records(queryset=ServiceRecord.objects.filter(member=member))
        .select_related("recording_organization")
        .order_by("date", "started_at", "pk")
    )


# --- Scheduled messages (members/tasks.py) ----------------------------------------------------------------------


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """The first day of the month and the first day of the next one (an exclusive end)."""
    start = date(year, month, 1)
    return start, date(year + month // 12, month % 12 + 1, 1)


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """The first day of the quarter (1–4) and the first day of the next one (an exclusive end)."""
    start = date(year, 3 * quarter - 2, 1)
    return start, date(year + quarter // 4, 3 * (quarter % 4) + 1, 1)


def managed_by_anyone() -> QuerySet[Organization]:
    """Organizations someone manages directly: an active secretary with an active account, or an active admin."""
    admins = Organization.admins.through.objects.filter(organization_id=OuterRef("pk"), user__is_active=True)
    return Organization.objects.filter(
        Q(secretary__status=Member.Status.ACTIVE, secretary__user__is_active=True) | Q(Exists(admins))
    )


def organization_managers(organization_ids: Iterable[int]) -> dict[int, list]:
    """Per organization, the active accounts that manage it directly — its secretary (an active member) and its
    admins — without repeats, in account order. Three queries whatever the number of organizations."""
    ids = list(organization_ids)
    pairs = set(
        Organization.objects.filter(
            pk__in=ids, secretary__status=Member.Status.ACTIVE, secretary__user__is_active=True
        ).values_list("pk", "secretary__user_id")
    )
    pairs |= set(
        Organization.admins.through.objects.filter(organization_id__in=ids, user__is_active=True).values_list(
            "organization_id", "user_id"
        )
    )
    users = User.objects.in_bulk({user_id for _org, user_id in pairs})
    managers: dict[int, list] = {}
    for org_id, user_id in sorted(pairs):
        managers.setdefault(org_id, []).append(users[user_id])
    return managers


@dataclass(frozen=True)
class MonthlyFigures:
    """A subtree's figures of one month, for the secretaries' monthly digest."""

    organization: Organization
    year: int
    month: int
    members_active: int  # active members now
    members_new: int  # member records created in the month
    services: int  # counted (verified or corrected) services dated in the month
    hours: Decimal  # their hours
    volunteers: int  # active members (the roster) with such a service: the dashboard's participants
    records_new: int  # service records created in the month, void ones excepted
    records_pending: int  # records recorded in the subtree still waiting for verification now
    residences_confirmed: int  # 双报到 confirmed in the month at communities the subtree serves
    residences_pending: int  # 双报到 waiting for confirmation now at those communities


def monthly_figures(organization: Organization, year: int, month: int) -> MonthlyFigures:
    """The figures of `organization`'s subtree for one month (local dates), members counted by their home branch,
    services by their members' branch, verification and 双报到 queues by the organization that must act. Four
    aggregate queries, each on the indexed path prefix."""
    first, after = month_bounds(year, month)
    start, end = _local_midnight(first), _local_midnight(after)
    path = organization.path
    members = Member.objects.filter(organization__path__startswith=path).aggregate(
        active=Count("pk", filter=Q(status=Member.Status.ACTIVE)),
        new=Count("pk", filter=Q(created_at__gte=start, created_at__lt=end)),
    )
    in_month = Q(status__in=ServiceRecord.COUNTED_STATUSES, date__gte=first, date__lt=after)
    records = ServiceRecord.objects.filter(member__organization__path__startswith=path).aggregate(
        services=Count("pk", filter=in_month),
        hours=Sum("hours", filter=in_month),
        volunteers=Count("member", filter=in_month & Q(member__status=Member.Status.ACTIVE), distinct=True),
        new=Count("pk", filter=Q(created_at__gte=start, created_at__lt=end) & ~Q(status=ServiceRecord.Status.VOID)),
    )
    pending = ServiceRecord.objects.filter(
        recording_organization__path__startswith=path, status=ServiceRecord.Status.PENDING
    ).count()
    residences = ResidenceRegistration.objects.filter(community__organization__path__startswith=path).aggregate(
        confirmed=Count("pk", filter=Q(confirmed_at__gte=start, confirmed_at__lt=end)),
        pending=Count("pk", filter=Q(status=ResidenceRegistration.Status.PENDING)),
    )
    return MonthlyFigures(
        organization=organization,
        year=year,
        month=month,
        members_active=members["active"],
        members_new=members["new"],
        services=records["services"],
        hours=records["hours"] or Decimal("0"),
        volunteers=records["volunteers"],
        records_new=records["new"],
        records_pending=pending,
        residences_confirmed=residences["confirmed"],
        residences_pending=residences["pending"],
    )


def _registrations_active_during(first: date, after: date) -> QuerySet[ResidenceRegistration]:
    """双报到 rows that were confirmed at some moment between `first` and `after` (exclusive), by active members."""
    start, end = _local_midnight(first), _local_midnight(after)
    return ResidenceRegistration.objects.filter(
        status__in=[ResidenceRegistration.Status.CONFIRMED, ResidenceRegistration.Status.ENDED],
        confirmed_at__lt=end,
        member__status=Member.Status.ACTIVE,
    ).filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))


def branches_with_registrations(first: date, after: date) -> QuerySet[Organization]:
    """Home organizations of members with a 双报到 confirmed during the period (the service cards' recipients)."""
    return Organization.objects.filter(pk__in=_registrations_active_during(first, after).values("member__organization"))


@dataclass(frozen=True)
class ServiceCard:
    """双报到 service card: what an in-service member did in their residence community during a period."""

    member: Member
    community: Community
    registered_on: date
    services: int
    hours: Decimal


def service_cards(branch: Organization, first: date, after: date) -> list[ServiceCard]:
    """One card per 双报到 of `branch`'s active members confirmed during the period at a community served outside
    the branch's own line (a community served by the branch or an organization above it is home ground, not
    双报到 in the residence community): the counted services dated in the period that an organization of that
    community's subtree recorded, and their hours — 0 when none, which the branch needs to know too. Two queries."""
    registrations = [
        r
        for r in _registrations_active_during(first, after)
        .filter(member__organization=branch)
        .select_related("member", "community__organization")
        .order_by("member__volunteer_number", "registered_on", "pk")
        if not branch.is_in_subtree_of(r.community.organization)
    ]
    rows = (
        ServiceRecord.objects.filter(
            member_id__in={r.member_id for r in registrations},
            status__in=ServiceRecord.COUNTED_STATUSES,
            date__gte=first,
            date__lt=after,
        )
        .values("member_id", "recording_organization__path")
        .annotate(services=Count("pk"), hours=Sum("hours"))
        .order_by()
    )
    found = list(rows) if registrations else []
    cards = []
    for registration in registrations:
        served = [
            row
            for row in found
            if row["member_id"] == registration.member_id
            and row["recording_organization__path"].startswith(registration.community.organization.path)
        ]
        cards.append(
            ServiceCard(
                member=registration.member,
                community=registration.community,
                registered_on=registration.registered_on,
                services=sum(row["services"] for row in served),
                hours=sum((row["hours"] for row in served), Decimal("0")),
            )
        )
    return cards


def personal_data(member: Member) -> dict:
    """This app's part of everything the platform holds about `member`, for their own download (PIPL art. 45):
    profile, 双报到, transfers, service records and their corrections, deletion requests, WeChat bindings; the site
    adds the higher apps' sections (volunteer_platform.portal_views). Full values: it is the member's own
    information."""
    member = (
        Member.objects.select_related("organization", "user").prefetch_related("skills", "interests").get(pk=member.pk)
    )
    data = {
        "profile": {
            "volunteer_number": member.volunteer_number,
            "name": member.name,
            "username": member.user.get_username(),
            "email": member.user.email,
            "phone": member.phone,
            "id_number": member.id_number,
            "gender": member.get_gender_display(),
            "birth_year": member.birth_year,
            "organization": member.organization.name,
            "status": member.get_status_display(),
            "skills": [tag.name for tag in member.skills.all()],
            "interests": [tag.name for tag in member.interests.all()],
            "availability": [str(label) for slot, label in SLOT_CHOICES if slot in from_mask(member.availability)],
            "show_full_name_publicly": member.show_full_name_publicly,
            "full_name_consent_at": _iso(member.full_name_consent_at),
            "created_at": _iso(member.created_at),
        },
        "residence_registrations": [
            {
                "community": r.community.name,
                "status": r.get_status_display(),
                "registered_on": _iso(r.registered_on),
                "confirmed_at": _iso(r.confirmed_at),
                "ended_at": _iso(r.ended_at),
            }
            for r in member.residence_registrations.select_related("community").order_by("registered_on", "pk")
        ],
        "transfers": [
            {"from": t.from_organization.name, "to": t.to_organization.name, "on": _iso(t.transferred_on)}
            for t in member.transfers.select_related("from_organization", "to_organization").order_by("pk")
        ],
        "service_records": [
            {
                "date": _iso(r.date),
                "started_at": _iso(r.started_at),
                "ended_at": _iso(r.ended_at),
                "place": r.place,
                "content": r.content,
                "hours": str(r.hours),
                "status": r.get_status_display(),
                "organizer": r.organizer,
                "recording_organization": r.recording_organization.name,
            }
            for r in member.service_records.select_related("recording_organization").order_by("date", "pk")
        ],
        "service_record_corrections": [
            {
                "record_date": _iso(c.record.date),
                "reason": c.reason,
                "status": c.get_status_display(),
                "requested_at": _iso(c.requested_at),
            }
            for c in ServiceRecordCorrection.objects.filter(record__member=member)
            .select_related("record")
            .order_by("pk")
        ],
        "deletion_requests": [
            {"status": d.get_status_display(), "requested_at": _iso(d.requested_at), "decided_at": _iso(d.decided_at)}
            for d in member.deletion_requests.order_by("pk")
        ],
        "wechat_bindings": [
            {
                "app": b.get_app_display(),
                "openid": b.openid,
                "unionid": b.unionid,
                "nickname": b.nickname,
                "bound_at": _iso(b.created_at),
                "last_sign_in_at": _iso(b.last_sign_in_at),
            }
            for b in wechat_bindings(member.user)
        ],
    }
    return data


def pending_deletion_request(member: Member) -> DeletionRequest | None:
    return member.deletion_requests.filter(status=DeletionRequest.Status.PENDING).first()


def last_decided_deletion_request(member: Member) -> DeletionRequest | None:
    return member.deletion_requests.exclude(status=DeletionRequest.Status.PENDING).order_by("-decided_at").first()
