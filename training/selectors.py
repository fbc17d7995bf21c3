"""Reads of the training app: what a member is offered, their progress, the qualification gate, the completion report
and the secretaries' scope.

Scope follows `members.selectors.visible_organizations`: a secretary sees sessions organised in their subtree and
the records and requirements of their subtree's members and organizations. A member is offered the courses and
sessions of their own branch and of every organization above it (a street's course is open to all its branches).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.lookups import StartsWith
from django.utils import timezone

from core.types import Viewer
from incentives.models import Rule
from incentives.selectors import PointsSource
from members.models import Member, Organization
from members.selectors import managed_organizations, scoped, sees_nothing, subtree, visible_organizations

from .models import AnnualRequirement, Course, CourseMaterial, CourseType, Enrollment, TrainingRecord, TrainingSession

ZERO = Decimal("0")


def path_ids(organization: Organization) -> list[int]:
    """The ids from the root down to `organization` itself, read from its materialised path."""
    return [int(part) for part in organization.path.split(".") if part]


def is_training_secretary(user: Viewer) -> bool:
    """A platform admin or anyone who manages an organization: who may open the secretaries' training pages."""
    if sees_nothing(user):
        return False
    return user.is_superuser or managed_organizations(user).exists()


# --- Scope (admin and secretaries' pages) ---------------------------------------------------------------------


def visible_courses(user: Viewer, *, queryset: QuerySet[Course] | None = None) -> QuerySet[Course]:
    """Platform-wide courses, the courses of the user's subtree and those of the organizations above it (which the
    user's members attend and the user may schedule sessions of)."""
    qs = Course.objects.all() if queryset is None else queryset
    if sees_nothing(user):
        return qs.none()
    if user.is_superuser:
        return qs
    above = managed_organizations(user).filter(StartsWith(F("path"), OuterRef("organization__path")))
    return qs.filter(Q(organization__isnull=True) | Q(organization__in=visible_organizations(user)) | Q(Exists(above)))


def editable_courses(user: Viewer, *, queryset: QuerySet[Course] | None = None) -> QuerySet[Course]:
    """Courses the user may change: those of their subtree (platform-wide ones belong to platform admins)."""
    return scoped(Course.objects.all() if queryset is None else queryset, user, "organization")


def visible_sessions(user: Viewer, *, queryset: QuerySet[TrainingSession] | None = None) -> QuerySet[TrainingSession]:
    """Sessions organised in the user's subtree (谁组织谁记录: those are the sessions whose attendance they take)."""
    return scoped(TrainingSession.objects.all() if queryset is None else queryset, user, "organizer")


def visible_training_records(
    user: Viewer, *, queryset: QuerySet[TrainingRecord] | None = None
) -> QuerySet[TrainingRecord]:
    """Records of members in scope, and records of sessions organised in scope."""
    qs = TrainingRecord.objects.all() if queryset is None else queryset
    return scoped(qs, user, "member__organization", "session__organizer")


def visible_requirements(
    user: Viewer, *, queryset: QuerySet[AnnualRequirement] | None = None
) -> QuerySet[AnnualRequirement]:
    return scoped(AnnualRequirement.objects.all() if queryset is None else queryset, user, "organization")


def report_organizations(user: Viewer) -> QuerySet[Organization]:
    """Organizations whose completion report `user` may open (their scope), top of the tree first."""
    return visible_organizations(user).order_by("path")


def sessions_for_secretary(user: Viewer) -> QuerySet[TrainingSession]:
    """Sessions in scope, newest first, with their course, organizer and number of seats taken."""
    return (
        visible_sessions(user)  # type: ignore[no-redef]  # declared on the model for readers
        .select_related("course", "organizer")
        .annotate(taken=_seats_taken())
        .order_by("-starts_at", "-pk")
    )


def enrollments_for_attendance(session: TrainingSession) -> QuerySet[Enrollment]:
    """The attendance sheet: every enrollment holding a seat, with its member and branch, in the order they came."""
    return (
        Enrollment.objects.filter(session=session, status__in=Enrollment.ACTIVE_STATUSES)
        .select_related("member__organization")
        .order_by("created_at", "pk")
    )


# --- What a member is offered ---------------------------------------------------------------------------------


def _seats_taken() -> Count:
    return Count("enrollments", filter=Q(enrollments__status__in=Enrollment.ACTIVE_STATUSES))


def courses_for_member(member: Member) -> QuerySet[Course]:
    """Active courses open to the member (platform-wide or of an organization on their path), with materials."""
    return (
        Course.objects.filter(active=True)
        .filter(Q(organization__isnull=True) | Q(organization_id__in=path_ids(member.organization)))
        .prefetch_related(Prefetch("materials", queryset=CourseMaterial.objects.order_by("pk")))
        .order_by("type", "title")
    )


def sessions_open_to(member: Member, *, queryset: QuerySet[TrainingSession] | None = None) -> QuerySet[TrainingSession]:
    """Sessions organised by the member's branch or by an organization above it, with the seats taken and the
    member's own active enrollment (`my_enrollment_id`, `my_enrollment_status`)."""
    qs = TrainingSession.objects.all() if queryset is None else queryset
    mine = Enrollment.objects.filter(session=OuterRef("pk"), member=member, status__in=Enrollment.ACTIVE_STATUSES)
    return (
        qs.filter(organizer_id__in=path_ids(member.organization))  # type: ignore[no-redef]  # declared on the model for readers
        .select_related("course", "organizer")
        .annotate(
            taken=_seats_taken(),
            my_enrollment_id=Subquery(mine.values("pk")[:1], output_field=IntegerField()),
            my_enrollment_status=Subquery(mine.values("status")[:1]),
        )
    )


def upcoming_sessions_for_member(member: Member, *, now: datetime | None = None) -> QuerySet[TrainingSession]:
    """Scheduled sessions open to the member that have not started, soonest first."""
    now = now or timezone.now()
    return sessions_open_to(
        member,
        queryset=TrainingSession.objects.filter(
            status=TrainingSession.Status.SCHEDULED, starts_at__gt=now, course__active=True
        ),
    ).order_by("starts_at", "pk")


def calendar_enrollments(member: Member) -> QuerySet[Enrollment]:
    """The member's training sessions for the iCalendar feed: enrolled (not cancelled, not yet marked), the session
    not cancelled; soonest first."""
    return (
        Enrollment.objects.filter(member=member, status=Enrollment.Status.ENROLLED)
        .exclude(session__status=TrainingSession.Status.CANCELLED)
        .select_related("session__course", "session__organizer")
        .order_by("session__starts_at", "pk")
    )


def records_for_member(member: Member) -> QuerySet[TrainingRecord]:
    """A member's training records, newest first, with course and session."""
    return (
        TrainingRecord.objects.filter(member=member)
        .select_related("course", "session")
        .order_by("-completed_on", "-pk")
    )


# --- The qualification gate -----------------------------------------------------------------------------------


def is_qualified(member: Member, course: Course, on: date | None = None) -> bool:
    """True when `member` has a record of `course` completed on or before `on` (default: today) that has not expired
    by then — `expires_on` NULL (no expiry) or later than `on`. A record is valid up to the day before expires_on."""
    on = on or timezone.localdate()
    return (
        TrainingRecord.objects.filter(member=member, course=course, completed_on__lte=on)
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gt=on))
        .exists()
    )


# --- Requirements and progress --------------------------------------------------------------------------------


def requirement_for(organization: Organization, year: int) -> AnnualRequirement | None:
    """The requirement of the nearest organization up `organization`'s path (itself first) that set one for `year`."""
    return (
        AnnualRequirement.objects.filter(year=year, organization_id__in=path_ids(organization))
        .select_related("organization")
        .order_by("-organization__path")
        .first()
    )


def _meets(requirement: AnnualRequirement, total: Decimal, by_type: dict[str, Decimal]) -> bool:
    """Exactly meeting a figure counts as meeting it."""
    if total < requirement.total_hours:
        return False
    return all(by_type.get(t, ZERO) >= requirement.minimum_for(t) for t in CourseType.values)


@dataclass(frozen=True)
class Bar:
    """One progress bar: `hours` against `required` (None: nothing required). `key`: "total" or a course type."""

    key: str
    label: str
    hours: Decimal
    required: Decimal | None

    @property
    def complete(self) -> bool:
        return self.required is None or self.hours >= self.required

    @property
    def percent(self) -> int:
        """Width of the bar, 0–100 (a requirement of 0 is met from the start)."""
        if self.required is None or self.required <= 0:
            return 100
        return min(100, int(self.hours * 100 / self.required))

    @property
    def value_now(self) -> Decimal:
        """aria-valuenow: the hours, capped at the maximum as ARIA requires."""
        if self.required is None:
            return self.hours
        return min(self.hours, self.required)


@dataclass(frozen=True)
class Progress:
    year: int
    requirement: AnnualRequirement | None
    total: Bar
    by_type: list[Bar] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.requirement is not None and self.total.complete and all(bar.complete for bar in self.by_type)


def hours_by_type(member: Member, year: int) -> dict[str, Decimal]:
    """A member's training hours completed in `year`, per course type (one aggregate query)."""
    rows = (
        TrainingRecord.objects.filter(member=member, completed_on__year=year)
        .values("course__type")
        .annotate(hours=Sum("hours"))
        .order_by()
    )
    return {row["course__type"]: row["hours"] for row in rows}


def progress_for(member: Member, year: int) -> Progress:
    """The member's hours in `year`, in total and per course type, against the requirement of their branch for that
    year (the nearest one up the tree). A figure exactly met is complete. Two queries."""
    requirement = requirement_for(member.organization, year)
    hours = hours_by_type(member, year)
    total = sum(hours.values(), ZERO)
    bars = [
        Bar(
            key=value,
            label=str(label),
            hours=hours.get(value, ZERO),
            required=requirement.minimum_for(value) if requirement else None,
        )
        for value, label in CourseType.choices
    ]
    return Progress(
        year=year,
        requirement=requirement,
        total=Bar(key="total", label="", hours=total, required=requirement.total_hours if requirement else None),
        by_type=bars,
    )


# --- Completion report ----------------------------------------------------------------------------------------


@dataclass
class BranchCompletion:
    organization: Organization
    depth: int
    requirement: AnnualRequirement | None
    members: int = 0
    completed: int = 0
    hours: Decimal = ZERO
    # Per course type: the hours, and the members who met the requirement's minimum for that type.
    hours_by_type: dict[str, Decimal] = field(default_factory=dict)
    completed_by_type: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> Decimal | None:
        """Completed members as a percentage (one decimal); None without a requirement or without members."""
        if self.requirement is None or not self.members:
            return None
        return (Decimal(self.completed) * 100 / self.members).quantize(Decimal("0.1"))

    @property
    def average(self) -> Decimal:
        if not self.members:
            return ZERO
        return (self.hours / self.members).quantize(Decimal("0.01"))


@dataclass
class CompletionReport:
    organization: Organization
    year: int
    rows: list[BranchCompletion]

    @property
    def members(self) -> int:
        return sum(row.members for row in self.rows)

    @property
    def completed(self) -> int:
        return sum(row.completed for row in self.rows)

    @property
    def measured(self) -> int:
        """Members whose branch has a requirement: the denominator of the overall rate."""
        return sum(row.members for row in self.rows if row.requirement is not None)

    @property
    def hours(self) -> Decimal:
        return sum((row.hours for row in self.rows), ZERO)

    @property
    def rate(self) -> Decimal | None:
        if not self.measured:
            return None
        return (Decimal(self.completed) * 100 / self.measured).quantize(Decimal("0.1"))

    @property
    def average(self) -> Decimal:
        if not self.members:
            return ZERO
        return (self.hours / self.members).quantize(Decimal("0.01"))

    @property
    def by_type(self) -> list["TypeCompletion"]:
        """培训完成情况（按类型）: each course type's hours and the members who met its minimum, over the rows."""
        return [
            TypeCompletion(
                key=value,
                label=str(label),
                hours=sum((row.hours_by_type.get(value, ZERO) for row in self.rows), ZERO),
                completed=sum(row.completed_by_type.get(value, 0) for row in self.rows),
                measured=self.measured,
            )
            for value, label in CourseType.choices
        ]


@dataclass(frozen=True)
class TypeCompletion:
    key: str  # the course type
    label: str
    hours: Decimal  # training hours of that type in the year (active members of the subtree)
    completed: int  # members who met their requirement's minimum for that type
    measured: int  # members whose branch has a requirement

    @property
    def rate(self) -> Decimal | None:
        if not self.measured:
            return None
        return (Decimal(self.completed) * 100 / self.measured).quantize(Decimal("0.1"))


def completion_by_branch(organization: Organization, year: int) -> CompletionReport:
    """Per branch of `organization`'s subtree: active members, how many met their requirement for `year`, and hours.

    Four queries whatever the number of branches, members and records: the subtree, the requirements on and above
    it, active members per branch, and each member's hours per course type (summed in SQL). Whether a member met
    the requirement is decided in Python from those sums, against the nearest requirement up their branch's path.
    """
    organizations = list(subtree(organization).order_by("path"))
    requirements = {
        r.organization_id: r
        for r in AnnualRequirement.objects.filter(year=year).filter(
            Q(organization_id__in=path_ids(organization)) | Q(organization__path__startswith=organization.path)
        )
    }
    member_counts = dict(
        Member.objects.filter(status=Member.Status.ACTIVE, organization__path__startswith=organization.path)
        .values("organization_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("organization_id", "n")
    )
    per_type = {t: Sum("hours", filter=Q(course__type=t)) for t in CourseType.values}
    hours_rows = (
        TrainingRecord.objects.filter(
            completed_on__year=year,
            member__status=Member.Status.ACTIVE,
            member__organization__path__startswith=organization.path,
        )
        .values("member_id", "member__organization_id")
        .annotate(total=Sum("hours"), **per_type)
        .order_by()
    )

    base_depth = organization.depth
    rows: dict[int, BranchCompletion] = {}
    for org in organizations:
        if org.type != Organization.Type.BRANCH and not member_counts.get(org.pk):
            continue
        nearest = next((requirements[i] for i in reversed(path_ids(org)) if i in requirements), None)
        rows[org.pk] = BranchCompletion(
            organization=org, depth=org.depth - base_depth, requirement=nearest, members=member_counts.get(org.pk, 0)
        )
    with_records: dict[int, int] = {}
    for row in hours_rows:
        branch = rows.get(row["member__organization_id"])
        if branch is None:
            continue
        branch.hours += row["total"]
        by_type = {t: row[t] or ZERO for t in CourseType.values}
        for t, hours in by_type.items():
            branch.hours_by_type[t] = branch.hours_by_type.get(t, ZERO) + hours
        if branch.requirement is not None:
            if _meets(branch.requirement, row["total"], by_type):
                branch.completed += 1
            for t in CourseType.values:
                if by_type[t] >= branch.requirement.minimum_for(t):
                    branch.completed_by_type[t] = branch.completed_by_type.get(t, 0) + 1
        with_records[branch.organization.pk] = with_records.get(branch.organization.pk, 0) + 1
    # Members without a record this year meet only a requirement (or a type's minimum) of zero hours.
    for branch in rows.values():
        if branch.requirement is None:
            continue
        without = branch.members - with_records.get(branch.organization.pk, 0)
        if _meets(branch.requirement, ZERO, {}):
            branch.completed += without
        for t in CourseType.values:
            if not branch.requirement.minimum_for(t):
                branch.completed_by_type[t] = branch.completed_by_type.get(t, 0) + without
    return CompletionReport(organization=organization, year=year, rows=list(rows.values()))


# --- Scheduled reminders (training/tasks.py) ------------------------------------------------------------------

SESSION_REMINDER_LEAD = timedelta(hours=24)


def enrollments_to_remind(now: datetime | None = None) -> QuerySet[Enrollment]:
    """Seats to remind of their session (T-24 h): still enrolled, by an active member, in a scheduled session that
    starts after `now` and at most 24 hours later. A run every few minutes reminds each seat once, as soon as its
    session enters the window (a member who enrolls later than 24 h before is reminded at the next run). The
    session side is served by `training_session_upcoming` (status, starts_at)."""
    now = now or timezone.now()
    return Enrollment.objects.filter(
        status=Enrollment.Status.ENROLLED,
        member__status=Member.Status.ACTIVE,
        session__status=TrainingSession.Status.SCHEDULED,
        session__starts_at__gt=now,
        session__starts_at__lte=now + SESSION_REMINDER_LEAD,
    )


@dataclass(frozen=True)
class Shortfall:
    """A member who has not met their annual requirement yet: what they have and what is missing."""

    member: Member
    requirement: AnnualRequirement
    hours: Decimal
    missing_total: Decimal
    missing_by_type: list[tuple[str, Decimal]]  # (course type label, hours missing), types with a gap only


def training_shortfalls(member_ids: Iterable[int], year: int) -> list[Shortfall]:
    """Of the given members, the active ones whose branch has a requirement for `year` (the nearest one up the
    tree) and who have not met it — in total or for a course type; exactly meeting a figure meets it.

    Three queries whatever the number of members: the members with their branch, the requirements on their
    branches' paths, their hours per course type (summed in SQL)."""
    members = list(
        Member.objects.filter(pk__in=list(member_ids), status=Member.Status.ACTIVE)
        .select_related("organization", "user")
        .order_by("pk")
    )
    if not members:
        return []
    on_paths = {i for m in members for i in path_ids(m.organization)}
    requirements = {
        r.organization_id: r for r in AnnualRequirement.objects.filter(year=year, organization_id__in=on_paths)
    }
    per_type = {t: Sum("hours", filter=Q(course__type=t)) for t in CourseType.values}
    hours = {
        row["member_id"]: row
        for row in TrainingRecord.objects.filter(member__in=members, completed_on__year=year)
        .values("member_id")
        .annotate(total=Sum("hours"), **per_type)
        .order_by()
    }
    shortfalls = []
    for member in members:
        requirement = next(
            (requirements[i] for i in reversed(path_ids(member.organization)) if i in requirements), None
        )
        if requirement is None:
            continue
        row = hours.get(member.pk, {})
        by_type = {t: row.get(t) or ZERO for t in CourseType.values}
        total = row.get("total") or ZERO
        if _meets(requirement, total, by_type):
            continue
        shortfalls.append(
            Shortfall(
                member=member,
                requirement=requirement,
                hours=total,
                missing_total=max(requirement.total_hours - total, ZERO),
                missing_by_type=[
                    (str(label), requirement.minimum_for(value) - by_type[value])
                    for value, label in CourseType.choices
                    if by_type[value] < requirement.minimum_for(value)
                ],
            )
        )
    return shortfalls


# --- Points (incentives' rule table: a training record earns the `training_hour` rule for its hours) ------------


def training_points_source(record: TrainingRecord) -> PointsSource:
    """A training record as a source of points. Its entries keep the source_ref and key they always had: one per
    member and session, or per record for training taken elsewhere."""
    ref = f"training-session:{record.session_id}" if record.session_id else f"training-record:{record.pk}"
    return PointsSource(
        member_id=record.member_id,
        rule=Rule.Code.TRAINING_HOUR,
        ref=ref,
        first_key=f"training-record:{record.pk}",
        quantity=record.hours,
        counted=True,
        note=record.course.title[:200],
        label=f"{record.course.title[:40]} {record.hours}",
    )
