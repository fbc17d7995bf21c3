"""Demo data of the training app, called by the site's `seed_demo` after the members' demo data.

Courses of all four types (platform-wide), and — when an organization exists — past sessions of the top
organization with their attendance (training records and points), upcoming sessions with a few enrollments, and the
top organization's requirement for this year. Without demo members only the courses are added.

Idempotent: courses are found by title, past sessions by course and organizer, upcoming ones likewise among sessions
that have not started, enrollments and records by their unique constraints, the requirement by (organization, year).
"""

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from members.models import Member, Organization

from . import services
from .models import Course, CourseMaterial, Enrollment, TrainingSession

COURSES = [
    {
        "type": Course.Type.THEORY,
        "title": "习近平新时代中国特色社会主义思想专题学习",
        "hours": Decimal(4),
        "description": "系统学习党的创新理论，结合社区工作谈体会。",
    },
    {
        "type": Course.Type.THEORY,
        "title": "《志愿服务条例》解读",
        "hours": Decimal(2),
        "description": "志愿者的权利义务、志愿服务记录与证明、个人信息保护。",
        "link": ("《志愿服务条例》全文", "https://www.gov.cn/zhengce/content/2017-09/06/content_5223028.htm"),
    },
    {
        "type": Course.Type.POST,
        "title": "网格员岗位培训",
        "hours": Decimal(3),
        "description": "网格走访、民情日志、矛盾排查与上报流程。",
    },
    {
        "type": Course.Type.BUSINESS,
        "title": "志愿服务记录与时长认定",
        "hours": Decimal("1.5"),
        "description": "谁组织谁记录、谁记录谁证明：记录要素、时长计算和更正流程。",
    },
    {
        "type": Course.Type.BUSINESS,
        "title": "微心愿核实与发布",
        "hours": Decimal(2),
        "description": "核实群众需求、保护个人信息、认领和反馈的全过程。",
    },
    {
        "type": Course.Type.PRACTICAL,
        "title": "应急救护（心肺复苏与AED）",
        "hours": Decimal(4),
        "description": "红十字会救护员课程，考核合格后两年内可参加需要救护资格的服务项目。",
        "validity_months": 24,
    },
    {
        "type": Course.Type.PRACTICAL,
        "title": "家电维修基础",
        "hours": Decimal(3),
        "description": "常见小家电故障判断与安全检修，为“家电维修”服务项目做准备。",
    },
]

# (course title, days ago) of the past sessions whose attendance is recorded.
PAST = [
    ("习近平新时代中国特色社会主义思想专题学习", 40),
    ("志愿服务记录与时长认定", 25),
    ("应急救护（心肺复苏与AED）", 12),
]
# (course title, days ahead, capacity) of upcoming sessions.
UPCOMING = [
    ("《志愿服务条例》解读", 3, 40),
    ("网格员岗位培训", 9, 20),
    ("家电维修基础", 16, 12),
]
ATTENDEES = 24  # members of the top organization's subtree taking part in each past session
PLACE = "街道党群服务中心三楼培训室"


@transaction.atomic
def seed(*, stdout=None) -> None:
    courses = {spec["title"]: _course(spec) for spec in COURSES}
    top = Organization.objects.filter(parent__isnull=True).order_by("path").first()
    records = sessions = 0
    if top is not None:
        year = timezone.localdate().year
        services.requirement_set(
            organization=top,
            year=year,
            total_hours=Decimal(12),
            theory_hours=Decimal(4),
            post_hours=Decimal(2),
            business_hours=Decimal(2),
            practical_hours=Decimal(2),
            actor=None,
        )
        members = list(
            Member.objects.filter(status=Member.Status.ACTIVE, organization__path__startswith=top.path)
            .select_related("organization")
            .order_by("volunteer_number")[:ATTENDEES]
        )
        for title, days_ago in PAST:
            records += _past_session(courses[title], top, days_ago, members)
            sessions += 1
        for title, days_ahead, capacity in UPCOMING:
            _upcoming_session(courses[title], top, days_ahead, capacity, members[:3])
            sessions += 1
    if stdout is not None:
        stdout.write(f"training: {len(courses)} courses, {sessions} sessions, {records} training records")


def _course(spec: dict) -> Course:
    course = Course.objects.filter(organization__isnull=True, title=spec["title"]).first()
    if course is None:
        course = services.course_save(
            course=Course(
                type=spec["type"],
                title=spec["title"],
                hours=spec["hours"],
                description=spec["description"],
                validity_months=spec.get("validity_months"),
            ),
            actor=None,
        )
    if "link" in spec and not course.materials.exists():
        title, url = spec["link"]
        services.course_material_save(material=CourseMaterial(course=course, title=title, url=url), actor=None)
    return course


def _at(days: int, hour: int):
    return (timezone.localtime() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def _past_session(course: Course, organizer: Organization, days_ago: int, members: list[Member]) -> int:
    """A session held `days_ago` days ago: everyone enrolled, every fifth member absent, the rest attended."""
    now = timezone.now()
    session = TrainingSession.objects.filter(course=course, organizer=organizer, starts_at__lt=now).first()
    if session is None:
        starts = _at(-days_ago, 14)
        session = services.session_schedule(
            course=course,
            organizer=organizer,
            starts_at=starts,
            ends_at=starts + timedelta(hours=float(course.hours) + 0.5),
            capacity=max(len(members), 1) + 6,
            place=PLACE,
            actor=None,
        )
    if not members:
        return 0
    # A back-filled sign-in sheet: the session is over, so the seats are written directly rather than through
    # enrollment_create (which only takes seats before a session starts); the attendance below is the service.
    for member in members:
        Enrollment.objects.get_or_create(
            session=session,
            member=member,
            status__in=Enrollment.ACTIVE_STATUSES,
            defaults={"status": Enrollment.Status.ENROLLED},
        )
    absent = [m.pk for i, m in enumerate(members) if i % 5 == 4]
    attended = [m.pk for m in members if m.pk not in absent]
    return len(services.attendance_record(session=session, attended=attended, absent=absent, actor=None))


def _upcoming_session(course: Course, organizer: Organization, days: int, capacity: int, members: list[Member]):
    now = timezone.now()
    session = TrainingSession.objects.filter(
        course=course, organizer=organizer, starts_at__gt=now, status=TrainingSession.Status.SCHEDULED
    ).first()
    if session is None:
        starts = _at(days, 9)
        session = services.session_schedule(
            course=course,
            organizer=organizer,
            starts_at=starts,
            ends_at=starts + timedelta(hours=float(course.hours)),
            capacity=capacity,
            place=PLACE,
            actor=None,
        )
    for member in members:
        if not Enrollment.objects.filter(
            session=session, member=member, status__in=Enrollment.ACTIVE_STATUSES
        ).exists():
            services.enrollment_create(session=session, member=member)
