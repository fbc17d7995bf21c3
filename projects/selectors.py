"""Reads of the projects app, and its scope.

Scope comes from `members.selectors.visible_organizations`: a secretary or 组织管理员 organises the projects (and
their activities, posts, sign-ups, self-reports) of the organizations in their subtree; a platform admin all of them.
Published and closed projects are public (brand pages are shared on posters and in WeChat groups); drafts are seen in
scope only. Every list is one query with its joins and counts, whatever the number of rows.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Avg,
    BooleanField,
    Count,
    Exists,
    F,
    IntegerField,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from core.types import Viewer
from members.models import Member, Tag
from members.selectors import is_organization_admin, scoped, sees_nothing

from .models import (
    Activity,
    ActivitySurvey,
    Post,
    PostClaim,
    SelfReport,
    ServiceProject,
    SignUp,
    target_group_bit,
)

PUBLIC_STATUSES = (ServiceProject.Status.PUBLISHED, ServiceProject.Status.CLOSED)


def visible_projects(user: Viewer, *, queryset: QuerySet[ServiceProject] | None = None) -> QuerySet[ServiceProject]:
    """Projects `user` organises: those of organizations in scope."""
    return scoped(ServiceProject.objects.all() if queryset is None else queryset, user, "organization")


def visible_activities(user: Viewer, *, queryset: QuerySet[Activity] | None = None) -> QuerySet[Activity]:
    return scoped(Activity.objects.all() if queryset is None else queryset, user, "project__organization")


def visible_post_claims(user: Viewer, *, queryset: QuerySet[PostClaim] | None = None) -> QuerySet[PostClaim]:
    return scoped(PostClaim.objects.all() if queryset is None else queryset, user, "post__project__organization")


def visible_self_reports(user: Viewer, *, queryset: QuerySet[SelfReport] | None = None) -> QuerySet[SelfReport]:
    """Self-reports waiting for (or reviewed by) an organization in scope."""
    return scoped(SelfReport.objects.all() if queryset is None else queryset, user, "organization")


def is_organizer(user: Viewer) -> bool:
    return not sees_nothing(user) and (user.is_superuser or is_organization_admin(user))


def _holds_unmarked_seat() -> Exists:
    return Exists(SignUp.objects.filter(activity=OuterRef("pk"), status=SignUp.Status.CONFIRMED))


def attendance_due(qs: QuerySet[Activity], now: datetime | None = None) -> QuerySet[Activity]:
    """The activities of `qs` whose attendance waits to be confirmed (待确认考勤): ended, not cancelled, and someone
    still holds a seat nobody marked attended or absent. The 工作台's count and the admin's filter both use it."""
    now = now or timezone.now()
    return qs.exclude(status=Activity.Status.CANCELLED).filter(_holds_unmarked_seat(), ends_at__lte=now)


def attendance_due_summary(user: Viewer, now: datetime | None = None) -> tuple[int, datetime | None]:
    """How many activities in `user`'s scope wait for attendance (`attendance_due`), and when the next one will
    (the end of the first activity not ended yet with an unmarked seat: the count changes by the clock then). One
    query."""
    now = now or timezone.now()
    figures = (
        visible_activities(user)
        .exclude(status=Activity.Status.CANCELLED)
        .filter(_holds_unmarked_seat())
        .aggregate(due=Count("pk", filter=Q(ends_at__lte=now)), next_end=Min("ends_at", filter=Q(ends_at__gt=now)))
    )
    return figures["due"], figures["next_end"]


# --- Counts -----------------------------------------------------------------------------------------------------


def _count_signups(statuses: Iterable[str], activity: str = "pk") -> Coalesce:
    """A correlated COUNT of an activity's sign-ups in `statuses` (a subquery: several counts never multiply rows);
    `activity` names the outer query's reference to the activity."""
    counted = (
        SignUp.objects.filter(activity=OuterRef(activity), status__in=statuses)
        .order_by()
        .values("activity")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_counts(qs: QuerySet[Activity]) -> QuerySet[Activity]:
    """Activities with `confirmed_count` (seats taken) and `waitlisted_count`; `seats_left` then makes no query."""
    return qs.annotate(
        confirmed_count=_count_signups(SignUp.SEAT_STATUSES),  # type: ignore[no-redef]  # declared on the model for readers
        waitlisted_count=_count_signups([SignUp.Status.WAITLISTED]),
    )


def _upcoming(now: datetime) -> Q:
    return Q(status=Activity.Status.SCHEDULED, starts_at__gt=now)


# --- Browsing ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectFilters:
    category: int | None = None
    mode: str = ""
    target_group: str = ""
    community: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    matches: bool = False
    seats: bool = False


def member_tag_ids(member: Member | None) -> list[int]:
    """The member's skills and interests (one query)."""
    if member is None:
        return []
    # Two IN subqueries on the link tables, each by the member's index: OR-ed across the two joins, PostgreSQL
    # joined every member's skills and interests (315 ms on the district, the signed-in /projects/).
    skills = Member.skills.through.objects.filter(member=member).values("tag_id")
    interests = Member.interests.through.objects.filter(member=member).values("tag_id")
    return list(Tag.objects.filter(Q(pk__in=skills) | Q(pk__in=interests)).values_list("pk", flat=True))


# The fields of a project's next activity that /projects/ shows and that its phase reads (`next_activity`).
NEXT_FIELDS = ("starts_at", "ends_at", "signup_opens_at", "signup_closes_at", "capacity")


def browse_projects(
    filters: ProjectFilters, *, tag_ids: list[int] | None = None, now: datetime | None = None
) -> QuerySet[ServiceProject]:
    """Published projects for /projects/, filtered, in the list's order (title): only the projects, for the
    paginator to count and slice; `project_cards` then reads what the cards show of one page of them."""
    now = now or timezone.now()
    qs = ServiceProject.objects.filter(status=ServiceProject.Status.PUBLISHED)
    if filters.category:
        qs = qs.filter(category_id=filters.category)
    if filters.mode:
        qs = qs.filter(service_mode=filters.mode)
    if filters.target_group:
        qs = qs.annotate(_groups=F("target_groups").bitand(target_group_bit(filters.target_group))).filter(
            _groups__gt=0
        )
    if filters.community:
        qs = qs.filter(community_id=filters.community)
    if filters.date_from or filters.date_to:
        in_range = Activity.objects.filter(project=OuterRef("pk")).exclude(status=Activity.Status.CANCELLED)
        if filters.date_from:
            in_range = in_range.filter(
                starts_at__gte=timezone.make_aware(datetime.combine(filters.date_from, time.min))
            )
        if filters.date_to:
            in_range = in_range.filter(starts_at__lte=timezone.make_aware(datetime.combine(filters.date_to, time.max)))
        qs = qs.filter(Exists(in_range))
    if filters.matches:
        qs = qs.filter(Exists(_skills_wanted_among(tag_ids)))
    if filters.seats:
        upcoming = Activity.objects.filter(_upcoming(now), project=OuterRef("pk"))
        open_seats = with_counts(upcoming.filter(signup_opens_at__lte=now, signup_closes_at__gt=now)).filter(  # type: ignore[misc]  # an annotation of with_counts
            confirmed_count__lt=F("capacity")
        )
        qs = qs.filter(Exists(open_seats))
    return qs.order_by("title", "pk")


def activity_list(
    *,
    project: int | None = None,
    community: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    now: datetime | None = None,
) -> QuerySet[Activity]:
    """Upcoming scheduled activities of published projects (the API's list), soonest first, with their counts and
    project: one query per page whatever the filters."""
    now = now or timezone.now()
    qs = Activity.objects.filter(_upcoming(now), project__status=ServiceProject.Status.PUBLISHED)
    if project:
        qs = qs.filter(project_id=project)
    if community:
        qs = qs.filter(project__community_id=community)
    if date_from:
        qs = qs.filter(starts_at__gte=timezone.make_aware(datetime.combine(date_from, time.min)))
    if date_to:
        qs = qs.filter(starts_at__lte=timezone.make_aware(datetime.combine(date_to, time.max)))
    return with_counts(qs.select_related("project")).order_by("starts_at", "pk")


def _skills_wanted_among(tag_ids: list[int] | None) -> QuerySet:
    return ServiceProject.skills_wanted.through.objects.filter(
        serviceproject_id=OuterRef("pk"), tag_id__in=tag_ids or []
    )


def project_cards(
    projects: QuerySet[ServiceProject], *, tag_ids: list[int] | None = None, now: datetime | None = None
) -> QuerySet[ServiceProject]:
    """What the cards of /projects/ show of `projects` (a page of `browse_projects`), in the same order: each with
    its category, organization and community, its skills wanted, its next scheduled activity (`next_starts_at`
    and the rest of NEXT_FIELDS, `next_taken`: read by `next_activity`) and `matches_me` (a skill wanted is among
    `tag_ids`). One query, plus one for the skills wanted.

    The page's projects are chosen first (`pk IN (the page)`), then joined and annotated: sorting the joined wide
    rows of every published project to keep twenty took 19 of the list's 21 ms on the district's 4,775 projects."""
    now = now or timezone.now()
    upcoming = Activity.objects.filter(_upcoming(now), project=OuterRef("pk"))
    return (
        ServiceProject.objects.filter(pk__in=projects.values("pk"))
        .select_related("category", "organization", "community")
        .prefetch_related(Prefetch("skills_wanted", queryset=Tag.objects.order_by("name")))
        .annotate(
            **{
                f"next_{name.removeprefix('signup_')}": Subquery(upcoming.order_by("starts_at").values(name)[:1])
                for name in NEXT_FIELDS
            },
            next_taken=Subquery(with_counts(upcoming.order_by("starts_at")).values("confirmed_count")[:1]),  # type: ignore[misc]  # an annotation of with_counts
            matches_me=Exists(_skills_wanted_among(tag_ids)) if tag_ids else Value(False, output_field=BooleanField()),
        )
        .order_by("title", "pk")
    )


def next_activity(project: ServiceProject) -> Activity | None:
    """The next activity of a project from `project_cards`, built from its annotations (no query): enough for
    its time and its `phase`; None when it has none."""
    if project.next_starts_at is None:
        return None
    activity = Activity(
        project=project,
        status=Activity.Status.SCHEDULED,
        **{name: getattr(project, f"next_{name.removeprefix('signup_')}") for name in NEXT_FIELDS},
    )
    activity.confirmed_count = project.next_taken or 0
    return activity


def project_for_page(user: Viewer, slug: str) -> ServiceProject | None:
    """A project by slug if `user` may see its page: public when published or closed, a draft in scope only."""
    qs = ServiceProject.objects.select_related("category", "organization", "community", "grid", "course_required")
    project = qs.filter(slug=slug).first()
    if project is None:
        return None
    if project.status in PUBLIC_STATUSES or visible_projects(user).filter(pk=project.pk).exists():
        return project
    return None


def upcoming_activities(project: ServiceProject, limit: int = 20, now: datetime | None = None) -> QuerySet[Activity]:
    qs = Activity.objects.filter(_upcoming(now or timezone.now()), project=project).select_related("project")
    return with_counts(qs).order_by("starts_at")[:limit]


@dataclass(frozen=True)
class Figures:
    activities: int
    members: int
    hours: Decimal


def project_figures(project: ServiceProject) -> Figures:
    """Past figures of a brand page: activities held (completed), members who served, verified hours (one query)."""
    attended = SignUp.objects.filter(activity__project=project, status=SignUp.Status.ATTENDED)
    row = ServiceProject.objects.filter(pk=project.pk).aggregate(
        activities=Count("activities", filter=Q(activities__status=Activity.Status.COMPLETED), distinct=True),
    )
    totals = attended.aggregate(members=Count("member", distinct=True), hours=Sum("hours"))
    return Figures(activities=row["activities"], members=totals["members"], hours=totals["hours"] or Decimal(0))


def open_posts(project: ServiceProject) -> QuerySet[Post]:
    """The project's active posts with `claimed` (active claims)."""
    return (
        Post.objects.filter(project=project, active=True)
        .select_related("project")
        .annotate(claimed=Count("claims", filter=Q(claims__status=PostClaim.Status.ACTIVE)))
        .order_by("weekday", "start_time", "pk")
    )


# --- Activities -------------------------------------------------------------------------------------------------


def _if_visible(user: Viewer, activity: Activity | None) -> Activity | None:
    if activity is None:
        return None
    if activity.project.status in PUBLIC_STATUSES or visible_projects(user).filter(pk=activity.project_id).exists():
        return activity
    return None


def activity_for_page(user: Viewer, pk: int) -> Activity | None:
    """An activity with its counts if its project's page is visible to `user`."""
    return _if_visible(
        user,
        with_counts(Activity.objects.select_related("project__category", "project__organization", "post"))
        .filter(pk=pk)
        .first(),
    )


def activity_for_action(user: Viewer, pk: int) -> Activity | None:
    """An activity with its project (no counts, no other joins) if its project's page is visible to `user`: what
    a sign-up or a cancellation needs before the service locks and re-reads the row. In the
    bench's sign-up storm the page's lookup with its counts would be a fifth of a sign-up's CPU."""
    return _if_visible(user, Activity.objects.select_related("project").filter(pk=pk).first())


def signup_of(member: Member | None, activity: Activity) -> SignUp | None:
    """The member's active (or latest) sign-up for the activity."""
    if member is None:
        return None
    return SignUp.objects.filter(member=member, activity=activity).order_by("-created_at", "-pk").first()


def checkin_counts(activity: Activity) -> dict[str, int]:
    """How many of the activity's seat holders have checked in, and signed out (the organizer's check-in page);
    one query."""
    return SignUp.objects.filter(activity=activity, status__in=SignUp.SEAT_STATUSES).aggregate(
        checked_in=Count("pk", filter=Q(checked_in_at__isnull=False)),
        checked_out=Count("pk", filter=Q(checked_out_at__isnull=False)),
    )


def waitlist_rank(signup: SignUp) -> int:
    """1 for the first in the queue."""
    return (
        SignUp.objects.filter(
            activity_id=signup.activity_id,
            status=SignUp.Status.WAITLISTED,
            waitlist_position__lt=signup.waitlist_position,
        ).count()
        + 1
    )


def attendance_rows(activity: Activity) -> QuerySet[SignUp]:
    """Everyone holding a seat, with member, branch and team (the attendance sheet)."""
    return (
        SignUp.objects.filter(activity=activity, status__in=SignUp.SEAT_STATUSES)
        .select_related("member__organization", "team")
        .order_by("member__name", "pk")
    )


# --- Member pages -----------------------------------------------------------------------------------------------


def my_signups(member: Member) -> QuerySet[SignUp]:
    return SignUp.objects.filter(member=member).select_related("activity__project", "team")


def my_upcoming(member: Member) -> list[SignUp]:
    """The member's confirmed and waitlisted sign-ups of activities not started yet, each with its `rank` in the
    waiting list and its activity's `confirmed_count` (what `Activity.phase` reads). One query."""
    signups = list(
        my_signups(member)
        .filter(status__in=(SignUp.Status.CONFIRMED, SignUp.Status.WAITLISTED), activity__starts_at__gt=timezone.now())
        .exclude(activity__status=Activity.Status.CANCELLED)
        .annotate(
            activity_taken=_count_signups(SignUp.SEAT_STATUSES, activity="activity"),
            rank=Subquery(
                SignUp.objects.filter(
                    activity=OuterRef("activity"),
                    status=SignUp.Status.WAITLISTED,
                    waitlist_position__lte=OuterRef("waitlist_position"),
                )
                .order_by()
                .values("activity")
                .annotate(n=Count("pk"))
                .values("n")
            ),
        )
        .order_by("activity__starts_at", "pk")
    )
    for signup in signups:
        signup.activity.confirmed_count = signup.activity_taken
    return list(signups)


def my_past(member: Member, limit: int = 50) -> QuerySet[SignUp]:
    now = timezone.now()
    return (
        my_signups(member)
        .filter(Q(activity__starts_at__lte=now) | Q(status__in=(SignUp.Status.ATTENDED, SignUp.Status.NO_SHOW)))
        .exclude(status=SignUp.Status.CANCELLED)
        .order_by("-activity__starts_at", "-pk")[:limit]
    )


def my_claims(member: Member) -> QuerySet[PostClaim]:
    """Active post claims with their post and project, and the skipped dates."""
    return (
        PostClaim.objects.filter(member=member, status=PostClaim.Status.ACTIVE)
        .select_related("post__project")
        .prefetch_related("skips")
        .order_by("post__weekday", "post__start_time", "pk")
    )


def my_self_reports(member: Member, limit: int = 20) -> QuerySet[SelfReport]:
    return SelfReport.objects.filter(member=member).select_related("project", "organization")[:limit]


def calendar_signups(member: Member) -> QuerySet[SignUp]:
    """The member's confirmed activities (not cancelled) for the iCalendar feed."""
    return (
        SignUp.objects.filter(member=member, status=SignUp.Status.CONFIRMED)
        .exclude(activity__status=Activity.Status.CANCELLED)
        .select_related("activity__project__organization")
        .order_by("activity__starts_at")
    )


# --- Scheduled work: reminders, waitlists, surveys --------------------------------------------------------------

# hours_before → (from, to]: the window after `now` in which an activity's start makes its confirmed sign-ups due for
# that reminder. The windows do not overlap, so a member who signs up 5 hours ahead gets the T-2 h reminder only.
REMINDER_WINDOWS = {24: (2, 24), 2: (0, 2)}


def signups_to_remind(hours_before: int, now: datetime | None = None) -> QuerySet[SignUp]:
    """Confirmed sign-ups of active members in scheduled activities that start in the `hours_before` window:
    T-24 h is (now + 2 h, now + 24 h], T-2 h is (now, now + 2 h]. ValueError for another lead."""
    try:
        low, high = REMINDER_WINDOWS[hours_before]
    except KeyError:
        raise ValueError(f"no reminder {hours_before} hours before an activity") from None
    now = now or timezone.now()
    return SignUp.objects.filter(
        status=SignUp.Status.CONFIRMED,
        member__status=Member.Status.ACTIVE,
        activity__status=Activity.Status.SCHEDULED,
        activity__starts_at__gt=now + timedelta(hours=low),
        activity__starts_at__lte=now + timedelta(hours=high),
    )


def activities_with_waitlist(now: datetime | None = None) -> QuerySet[Activity]:
    """Scheduled activities not started yet that have someone on the waitlist (candidates for promotion)."""
    now = now or timezone.now()
    return Activity.objects.filter(
        status=Activity.Status.SCHEDULED,
        starts_at__gt=now,
        signups__status=SignUp.Status.WAITLISTED,
    ).distinct()


# --- Surveys ----------------------------------------------------------------------------------------------------

# An attended activity is surveyed when it has ended, for this long after (attendance may be marked late; an old
# activity is not surveyed when the schedule is first switched on).
SURVEY_WITHIN = timedelta(days=7)


def signups_to_survey(now: datetime | None = None) -> QuerySet[SignUp]:
    """Attended sign-ups of active members in activities that ended at most SURVEY_WITHIN before `now` (the end
    itself included), not answered yet."""
    now = now or timezone.now()
    return SignUp.objects.filter(
        status=SignUp.Status.ATTENDED,
        member__status=Member.Status.ACTIVE,
        activity__ends_at__lte=now,
        activity__ends_at__gt=now - SURVEY_WITHIN,
    ).exclude(Exists(ActivitySurvey.objects.filter(signup=OuterRef("pk"))))


@dataclass(frozen=True)
class SurveySummary:
    count: int
    mean: Decimal | None  # None when nobody has answered; rounded to 0.1

    @classmethod
    def of(cls, row: dict) -> "SurveySummary":
        mean = row["mean"]
        return cls(count=row["count"], mean=None if mean is None else Decimal(mean).quantize(Decimal("0.1")))


def _survey_summary(surveys: QuerySet) -> SurveySummary:
    return SurveySummary.of(surveys.aggregate(count=Count("pk"), mean=Avg("rating")))


def survey_summary_for_project(project: ServiceProject) -> SurveySummary:
    """Satisfaction of a project's attendees (brand page): answers and mean rating, one query."""
    return _survey_summary(ActivitySurvey.objects.filter(signup__activity__project=project))


def survey_summary_for_member(member: Member) -> SurveySummary:
    """The member's own answers: how many and their mean rating, one query."""
    return _survey_summary(ActivitySurvey.objects.filter(signup__member=member))


@dataclass(frozen=True)
class OrganizationMonthSurveys:
    organization_id: int
    month: date  # first day of the month (local time) in which the activity started
    count: int
    mean: Decimal


def survey_summary_by_organization_month(
    organization_ids: Iterable[int], start: date, end: date
) -> list[OrganizationMonthSurveys]:
    """Per organizing organization (the project's) and month of the activity, for activities starting in
    [start, end) local dates: answers and mean rating, ordered by organization and month. One query (dashboard)."""
    tz = timezone.get_current_timezone()
    rows = (
        ActivitySurvey.objects.filter(
            signup__activity__project__organization_id__in=list(organization_ids),
            signup__activity__starts_at__gte=datetime.combine(start, time.min, tzinfo=tz),
            signup__activity__starts_at__lt=datetime.combine(end, time.min, tzinfo=tz),
        )
        .annotate(month=TruncMonth("signup__activity__starts_at", tzinfo=tz))
        .values("signup__activity__project__organization_id", "month")
        .annotate(count=Count("pk"), mean=Avg("rating"))
        .order_by("signup__activity__project__organization_id", "month")
    )
    return [
        OrganizationMonthSurveys(
            organization_id=row["signup__activity__project__organization_id"],
            month=row["month"].date() if isinstance(row["month"], datetime) else row["month"],
            count=row["count"],
            mean=Decimal(row["mean"]).quantize(Decimal("0.1")),
        )
        for row in rows
    ]
