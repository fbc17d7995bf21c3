"""Demo data of the projects app, called by the site's `seed_demo` after the members' (and training) demo data.

Five branded projects, one per service mode (银龄关爱, 四点半课堂, 法律明白人, 网格巡逻, 爱心结对), organised by
the organizations serving the first communities (or the top organization), with standing posts; past activities with
their attendance (verified records and points) and most attendees' survey answers; upcoming activities — generated
for the recurring projects — with seats taken and a waiting list. Without organizations nothing is added (the
categories come from a migration); without members the projects and activities are added with nobody signed up.

Idempotent: projects are found by slug, posts by slot, recurring activities by (project, start); past activities are
added only while a project has fewer than PAST_ACTIVITIES past ones; sign-ups are refused the second time (one
active sign-up per member and activity), and attendance is submitted once per activity.
"""

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from members.models import Community, Member, Organization, Tag

from . import services
from .models import Activity, Post, ProjectCategory, ServiceProject, SignUp, target_groups_mask

PAST_ACTIVITIES = 3
PAST_ATTENDEES = 6
UPCOMING_SIGNUPS = 8  # on a 6-seat activity: 6 confirmed, 2 waiting
SURVEY_COMMENTS = ("", "老人很高兴，下次还来。", "分工清楚，时间安排合理。", "")


@dataclass(frozen=True)
class Spec:
    slug: str
    title: str
    brand: str
    slogan: str
    category: str
    mode: str
    groups: tuple[str, ...]
    place: str
    description: str
    skills: tuple[str, ...] = ()
    weekday: int | None = None  # weekly recurrence
    start: time = time(9)
    minutes: int = 120
    capacity: int = 12
    posts: tuple[tuple[str, int, time, int, int], ...] = field(default=())  # title, weekday, start, minutes, places


SPECS = [
    Spec(
        "yinling-guanai",
        "空巢老人关爱行动",
        "银龄关爱",
        "党员常上门，老人不孤单",
        "助老",
        ServiceProject.Mode.DIRECT,
        ("elderly_alone", "low_income"),
        "幸福里社区党群服务中心",
        "党员与空巢、独居老人结成固定服务关系，每周上门陪伴聊天、打扫卫生、代购药品，节假日组织集体活动。",
        skills=("理发", "医疗护理", "厨艺"),
        weekday=2,
        start=time(14),
        posts=(("周三下午上门陪伴", 2, time(14), 120, 4), ("周六上午义务理发", 5, time(9), 120, 2)),
    ),
    Spec(
        "sidianban-ketang",
        "放学后课业辅导",
        "四点半课堂",
        "放学有去处，成长有陪伴",
        "关爱儿童",
        ServiceProject.Mode.FIXED_POINT,
        ("left_behind_children",),
        "社区新时代文明实践站二楼",
        "每周二、四下午四点半，党员在社区文明实践站为双职工家庭和留守儿童辅导作业、开展阅读和手工活动。",
        skills=("辅导作业", "书法"),
        weekday=1,
        start=time(16, 30),
        minutes=90,
        capacity=8,
        posts=(("周四下午作业辅导", 3, time(16, 30), 90, 3),),
    ),
    Spec(
        "falv-mingbairen",
        "法律明白人进社区",
        "法律明白人",
        "身边的法律顾问",
        "法律援助",
        ServiceProject.Mode.TEAM,
        ("general", "unemployed"),
        "社区矛盾纠纷调解室",
        "党员律师、法官组成服务队，每月开展法律咨询、以案释法和矛盾纠纷调解。",
        skills=("法律咨询",),
    ),
    Spec(
        "wangge-xunluo",
        "网格平安巡逻",
        "网格巡逻",
        "网格有党员，平安在身边",
        "平安巡逻",
        ServiceProject.Mode.GRID,
        ("general",),
        "各网格责任区",
        "党员按网格分组，夜间巡查消防通道、电动车充电和独居老人家中安全，发现问题及时上报。",
        weekday=4,
        start=time(19),
        minutes=90,
        capacity=10,
    ),
    Spec(
        "aixin-jiedui",
        "困难家庭结对帮扶",
        "爱心结对",
        "一对一结对，心连心帮扶",
        "助残",
        ServiceProject.Mode.PAIRING,
        ("disabled", "low_income"),
        "结对家庭家中",
        "党员与残障人士家庭、低保家庭一对一结对，定期走访，帮助申请政策、联系就业和康复服务。",
        skills=("心理疏导",),
    ),
]


@transaction.atomic
def seed(*, stdout=None) -> None:
    organizations = _organizers()
    if not organizations:
        if stdout is not None:
            stdout.write("projects: no organizations, nothing added")
        return
    actor = get_user_model().objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    projects = activities = 0
    for index, spec in enumerate(SPECS):
        organization, community = organizations[index % len(organizations)]
        project = _project(spec, organization, community)
        projects += 1
        members = list(
            Member.objects.filter(status=Member.Status.ACTIVE, organization__path__startswith=organization.path)
            .select_related("user")
            .order_by("volunteer_number")[index : index + PAST_ATTENDEES + UPCOMING_SIGNUPS]
        )
        activities += _past(project, spec, members[:PAST_ATTENDEES], actor)
        activities += _upcoming(project, spec, members, days_ahead=10 + 2 * index)
    _claim_demo_post()
    if stdout is not None:
        stdout.write(f"projects: {projects} projects, {activities} activities added")


def _organizers() -> list[tuple[Organization, Community | None]]:
    """(organization, community) for the projects: the organizations serving the first communities, else the top."""
    communities = list(Community.objects.select_related("organization").order_by("pk")[:3])
    if communities:
        return [(c.organization, c) for c in communities]
    top = Organization.objects.filter(parent__isnull=True).order_by("path").first()
    return [(top, None)] if top is not None else []


def _project(spec: Spec, organization: Organization, community: Community | None) -> ServiceProject:
    project = ServiceProject.objects.filter(slug=spec.slug).first()
    if project is None:
        category, _created = ProjectCategory.objects.get_or_create(name=spec.category)
        values = {
            "slug": spec.slug,
            "title": spec.title,
            "brand_name": spec.brand,
            "slogan": spec.slogan,
            "category": category,
            "service_mode": spec.mode,
            "target_groups": target_groups_mask(spec.groups),
            "organization": organization,
            "community": community,
            "place": spec.place,
            "description": spec.description,
            "status": ServiceProject.Status.PUBLISHED,
        }
        if spec.weekday is not None:
            values.update(
                recurrence=ServiceProject.Recurrence.WEEKLY,
                recurrence_weekday=spec.weekday,
                recurrence_time=spec.start,
                recurrence_minutes=spec.minutes,
                recurrence_capacity=spec.capacity,
            )
        project = services.project_save(
            project=ServiceProject(**values),
            actor=None,
            skills_wanted=Tag.objects.filter(kind=Tag.Kind.SKILL, name__in=spec.skills),
        )
    for title, weekday, start, minutes, places in spec.posts:
        if not Post.objects.filter(project=project, weekday=weekday, start_time=start).exists():
            services.post_save(
                post=Post(
                    project=project, title=title, weekday=weekday, start_time=start, minutes=minutes, places=places
                )
            )
    return project


def _at(day, at: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, at))


def _past(project: ServiceProject, spec: Spec, members: list[Member], actor) -> int:
    """Past activities (one a week back from last week) with their sign-ups, check-ins and attendance."""
    done = Activity.objects.filter(project=project, starts_at__lt=timezone.now()).count()
    added = 0
    today = timezone.localdate()
    for weeks_ago in range(1, PAST_ACTIVITIES + 1):
        if done + added >= PAST_ACTIVITIES:
            break
        starts_at = _at(today - timedelta(weeks=weeks_ago), spec.start)
        if Activity.objects.filter(project=project, starts_at=starts_at).exists():
            continue
        activity = services.activity_create(
            project=project,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=spec.minutes),
            capacity=max(spec.capacity, len(members)),
            signup_opens_at=starts_at - timedelta(days=7),
            signup_closes_at=starts_at,
            cancel_cutoff_at=starts_at - timedelta(days=1),
            # The first attendee leads on site (现场负责人): their points carry the rule's leader multiplier.
            leader=members[0] if members else None,
        )
        added += 1
        if not members or actor is None:
            continue
        # History: the sign-ups of a past activity are written as they stood when it took place. One member did not
        # come: a different one each week, and the projects' slices of members are shifted by one, so nobody reaches
        # the no-show restriction.
        absent = max(len(members) - weeks_ago, 0)
        signups = [
            SignUp.objects.create(
                activity=activity,
                member=member,
                status=SignUp.Status.CONFIRMED,
                checked_in_at=None if i == absent else starts_at - timedelta(minutes=10 - i),
            )
            for i, member in enumerate(members)
        ]
        marks: dict[int, tuple[str, object]] = {
            s.pk: (SignUp.Status.NO_SHOW if s.checked_in_at is None else SignUp.Status.ATTENDED, None) for s in signups
        }
        services.attendance_submit(activity=activity, marks=marks, actor=actor)
        # Most attendees answered the short survey afterwards; every fourth has not yet (the survey link waits).
        for i, signup in enumerate(signups):
            if signup.checked_in_at is not None and i % 4 != 3:
                services.survey_submit(
                    activity=activity,
                    member=signup.member,
                    rating=4 if i % 3 == 0 else 5,
                    comment=SURVEY_COMMENTS[i % len(SURVEY_COMMENTS)],
                )
    return added


def _upcoming(project: ServiceProject, spec: Spec, members: list[Member], *, days_ahead: int) -> int:
    """The next weeks' activities (generated for a recurring project, one `days_ahead` otherwise), the first with
    6 seats taken and a waiting list."""
    added = len(services.activities_generate(project=project))
    now = timezone.now()
    if not Activity.objects.filter(project=project, starts_at__gt=now).exists():
        starts_at = _at(timezone.localdate() + timedelta(days=days_ahead), spec.start)
        services.activity_create(
            project=project, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=spec.minutes), capacity=6
        )
        added += 1
    first = (
        Activity.objects.filter(project=project, starts_at__gt=now, status=Activity.Status.SCHEDULED)
        .order_by("starts_at")
        .first()
    )
    if first is not None and members:
        if first.capacity > 6 and not first.signups.exists():
            first = services.activity_update(
                activity=first,
                starts_at=first.starts_at,
                ends_at=first.ends_at,
                capacity=6,
                place=first.place,
                title=first.title,
                signup_opens_at=first.signup_opens_at,
                signup_closes_at=first.signup_closes_at,
                cancel_cutoff_at=first.cancel_cutoff_at,
            )
        for member in members[:UPCOMING_SIGNUPS]:
            try:
                services.signup_create(activity=first, member=member)
            except ValidationError:
                continue  # already signed up (a second run), or busy at that time
    return added


def _claim_demo_post() -> None:
    """The demo member (`dangyuan`, when the members demo made them) holds the 银龄关爱 Wednesday post."""
    member = Member.objects.filter(user__username="dangyuan").first()
    post = Post.objects.filter(project__slug="yinling-guanai", weekday=2).first()
    if member is None or post is None or post.claims.filter(member=member, status="active").exists():
        return
    with contextlib.suppress(ValidationError):  # e.g. the member is restricted or the post is full
        services.post_claim(post=post, member=member)
